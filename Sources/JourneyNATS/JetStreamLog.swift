import CNats
public import JourneyCore
import Synchronization

/// One partition's records in the JetStream stream, as its owner sees them: an ``EventLog`` whose
/// sequence numbers are the stream's. The stream holds every partition, so a partition's numbers
/// increase but are not consecutive (others' records sit between them).
///
/// - `append` publishes to the partition's subject and returns once JetStream's PubAck gives the
///   record its sequence number — the protocol returns that number from `append`, and JetStream
///   assigns it only in the PubAck (other instances publish to the same stream, so it cannot be
///   foreseen). A record is durable once appended. ``appendDeferred(_:)`` publishes without waiting
///   and `sync` waits for every outstanding PubAck (group commit) for records whose number the caller
///   does not need; inputs publish events in batches (``PartitionPublisher/publish(batch:)``).
/// - `read(after:)` reads through an ephemeral pull consumer filtered by the subject, fetching 1,024
///   records per request (one round trip each; a direct get would take one per record).
/// - `discard(through:)` purges the subject up to the position (never its last record): the owner
///   lets go of what its commit covers, as `SegmentedLog` deletes segments. Stream limits (age, size)
///   are not set: they would drop records an owner has not committed yet.
/// - `rewrite` can only erase whole records (`js_EraseMsg`, which overwrites them on disk): JetStream
///   cannot edit a stored message, and publishing a replacement would give it a new, later sequence.
///   A transform that returns a new non-empty payload is refused before anything is erased.
public final class JetStreamLog: EventLog, @unchecked Sendable {
    public let stream: JetStreamStream
    public let partition: Int
    public let subject: String
    let context: JetStreamContext
    struct Positions {
        var last: UInt64 = 0
        var first: UInt64 = 1
        var appendedBytes = 0
    }
    let positions = Mutex(Positions())

    /// Opens partition `partition` of `stream`: where it ends (its last message) and begins.
    public init(stream: JetStreamStream, partition: Int) throws(JetStreamError) {
        precondition((0..<stream.partitions).contains(partition), "partition \(partition) of \(stream.partitions)")
        self.stream = stream
        self.partition = partition
        subject = stream.subject(partition)
        context = try JetStreamContext(stream.connection)
        let last = try lastMessageSequence()
        let first = try nextMessageSequence(from: 1) ?? last + 1
        positions.withLock {
            $0.last = last
            $0.first = first
        }
    }

    public var lastSequence: UInt64 { positions.withLock { $0.last } }
    public var durableSequence: UInt64 { lastSequence }
    public var firstSequence: UInt64 { positions.withLock { $0.first } }
    /// The bytes this log appended since it was opened: JetStream counts bytes per stream, not per subject.
    public var storedBytes: Int { positions.withLock { $0.appendedBytes } }
    public var location: String { "\(stream.connection.server) stream \(stream.name) subject \(subject)" }

    public func append(_ body: (inout ByteWriter) -> Void) throws(LogError) -> UInt64 {
        var writer = ByteWriter()
        body(&writer)
        let message = PartitionPublisher.Message(partition: partition, messageId: "", payload: writer.bytes)
        let (status, code, ack) = try logged("append") { () throws(JetStreamError) in
            try PartitionPublisher.withMessage(message, subject: subject, context: context) { msg, options, code in
                var ack: UnsafeMutablePointer<jsPubAck>?
                let status = js_PublishMsg(&ack, context.handle, msg!, &options, &code)
                return (status, code, ack)
            }
        }
        guard status == NATS_OK, let ack else { throw failure(status, code, "append") }
        defer { jsPubAck_Destroy(ack) }
        let sequence = ack.pointee.Sequence
        positions.withLock {
            $0.last = max($0.last, sequence)
            $0.appendedBytes += writer.bytes.count
        }
        return sequence
    }

    /// Publishes a record without waiting for its PubAck (group commit for records whose number the
    /// caller does not need): ``sync()`` waits for them. Records appended either way keep their order.
    public func appendDeferred(_ body: (inout ByteWriter) -> Void) throws(LogError) {
        var writer = ByteWriter()
        body(&writer)
        let message = PartitionPublisher.Message(partition: partition, messageId: "", payload: writer.bytes)
        let status = try logged("append") { () throws(JetStreamError) in
            try PartitionPublisher.withMessage(message, subject: subject, context: context) { msg, options, _ in
                js_PublishMsgAsync(context.handle, &msg, &options)
            }
        }
        guard status == NATS_OK else { throw failure(status, jsErrCode(0), "append") }
        positions.withLock { $0.appendedBytes += writer.bytes.count }
    }

    /// Waits for the PubAck of every record appended with ``appendDeferred(_:)`` (those of ``append(_:)``
    /// came with it) and returns the last sequence number. A failed publish fails the sync; it is not
    /// retried (the caller stops, as after a failed fsync).
    public func sync() throws(LogError) -> UInt64 {
        try logged("sync") { () throws(JetStreamError) in try context.waitForAcks(subject: subject) }
        let acks = context.acks.take()
        if let failure = acks.failure {
            throw LogError(path: location, operation: "sync", reason: "a deferred append was not stored: \(failure.reason)")
        }
        return positions.withLock {
            $0.last = max($0.last, acks.highest)
            return $0.last
        }
    }

    public func discard(through: UInt64) throws(LogError) {
        let (last, first) = positions.withLock { ($0.last, $0.first) }
        guard last > 0 else { return }
        let bound = min(through, last - 1)  // the last record stays: it tells where the log ends
        guard bound >= first else { return }
        var code = jsErrCode(0)
        let status = subject.withCString { subject in
            var options = jsOptions()
            jsOptions_Init(&options)
            options.Stream.Purge.Subject = subject
            options.Stream.Purge.Sequence = bound + 1  // up to, not including
            return js_PurgeStream(context.handle, stream.name, &options, &code)
        }
        guard status == NATS_OK else { throw failure(status, code, "purge through \(bound)") }
        let next = try logged("find the first record") { () throws(JetStreamError) in try nextMessageSequence(from: bound + 1) } ?? last
        positions.withLock { $0.first = max($0.first, next) }
    }

    public func rewrite(_ transform: (UInt64, UnsafeRawBufferPointer) throws -> [UInt8]?) throws {
        var erase: [UInt64] = []
        try read(after: firstSequence - 1) { sequence, bytes in
            guard let replacement = try transform(sequence, bytes) else { return true }
            guard replacement.isEmpty else {
                throw LogError(
                    path: location, operation: "rewrite record \(sequence)",
                    reason: "JetStream cannot edit a stored message; a record can only be erased whole (nothing was changed)")
            }
            erase.append(sequence)
            return true
        }
        for sequence in erase {
            var code = jsErrCode(0)
            let status = js_EraseMsg(context.handle, stream.name, sequence, nil, &code)
            guard status == NATS_OK else { throw failure(status, code, "erase record \(sequence)") }
        }
    }

    func failure(_ status: natsStatus, _ code: jsErrCode, _ operation: String) -> LogError {
        let error = context.error(status, code, subject: subject, operation: operation)
        return LogError(path: location, operation: operation, reason: error.reason)
    }

    func logged<T>(_ operation: String, _ body: () throws(JetStreamError) -> T) throws(LogError) -> T {
        do { return try body() } catch { throw LogError(path: location, operation: operation, reason: error.reason) }
    }
}
