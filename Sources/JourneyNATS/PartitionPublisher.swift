import CNats
import Foundation

/// Publishes messages (journeyd: the events of an input batch that fall in one partition) to their
/// partition's subject with `Nats-Msg-Id` = the message's deduplication id, and
/// returns only once JetStream acknowledged them (PubAck): after that the event is stored (on a majority
/// of the stream's replicas), so an input may acknowledge its producer. The same message id published
/// again within the stream's duplicate window is stored once (the PubAck says `duplicate`).
///
/// Thread-safe; one batch at a time (a second waits for the first).
public final class PartitionPublisher: Sendable {
    public let stream: JetStreamStream
    let context: JetStreamContext
    let batches = NSLock()

    /// One message to publish.
    public struct Message: Sendable {
        public var partition: Int
        /// The deduplication id (journeyd: names the batch's events in the partition; an event's own
        /// `messageId` is deduplicated by the engine when it is applied). Empty: no `Nats-Msg-Id` (the message is never deduplicated).
        public var messageId: String
        public var payload: [UInt8]
        public init(partition: Int, messageId: String, payload: [UInt8]) {
            self.partition = partition
            self.messageId = messageId
            self.payload = payload
        }
    }

    /// What JetStream acknowledged.
    public struct Acknowledgement: Sendable, Equatable {
        /// The stream sequence the message is stored at (the first copy's, for a duplicate).
        public var sequence: UInt64
        public var duplicate: Bool
    }

    /// What a batch was acknowledged with.
    public struct BatchAcknowledgement: Sendable, Equatable {
        public var stored: Int
        public var duplicates: Int
        /// The highest stream sequence acknowledged.
        public var highestSequence: UInt64
    }

    /// `maxPending`: how many asynchronous publishes may await their PubAck at once (a batch larger
    /// than that waits for room). `wait`: how long a PubAck may take, in milliseconds.
    public init(stream: JetStreamStream, maxPending: Int = 8192, wait: Int64 = 10_000) throws(JetStreamError) {
        self.stream = stream
        context = try JetStreamContext(stream.connection, wait: wait, maxPending: Int64(maxPending))
    }

    /// Publishes one message and waits for its PubAck.
    public func publish(_ message: Message) throws(JetStreamError) -> Acknowledgement {
        let subject = stream.subject(message.partition)
        let (status, code, ack) = try Self.withMessage(message, subject: subject, context: context) { msg, options, code in
            var ack: UnsafeMutablePointer<jsPubAck>?
            let status = js_PublishMsg(&ack, context.handle, msg!, &options, &code)
            return (status, code, ack)
        }
        guard status == NATS_OK, let ack else { throw context.error(status, code, subject: subject, operation: "publish \(message.messageId)") }
        defer { jsPubAck_Destroy(ack) }
        return Acknowledgement(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
    }

    /// Publishes every message asynchronously and waits until JetStream acknowledged all of them: one
    /// round trip's wait for the whole batch instead of one per message. Throws the first failure
    /// (some of the batch may then be stored: publishing it again is safe within the duplicate window).
    public func publish(batch: [Message]) throws(JetStreamError) -> BatchAcknowledgement {
        batches.lock()
        defer { batches.unlock() }
        _ = context.acks.take()
        for message in batch {
            let subject = stream.subject(message.partition)
            let (status, code) = try Self.withMessage(message, subject: subject, context: context) { msg, options, code in
                (js_PublishMsgAsync(context.handle, &msg, &options), code)  // the library takes msg (and nils it)
            }
            guard status == NATS_OK else {
                try? context.waitForAcks(subject: subject)
                throw context.error(status, code, subject: subject, operation: "publish \(message.messageId)")
            }
        }
        let subject = batch.count == 1 ? stream.subject(batch[0].partition) : "\(JetStreamStream.subjectPrefix).*"
        try context.waitForAcks(subject: subject)
        let acks = context.acks.take()
        if let failure = acks.failure {
            throw JetStreamError(
                server: stream.connection.server, subject: failure.subject, operation: "publish",
                reason: failure.reason, code: failure.code == 0 ? nil : failure.code)
        }
        return BatchAcknowledgement(stored: acks.acknowledged - acks.duplicates, duplicates: acks.duplicates, highestSequence: acks.highest)
    }

    /// Builds the libnats message (subject, payload, `Nats-Msg-Id` through the publish options) for `body`.
    /// The message is destroyed afterwards unless `body` gave it to the library (which sets it to nil).
    static func withMessage<T>(
        _ message: Message, subject: String, context: JetStreamContext,
        _ body: (inout OpaquePointer?, inout jsPubOptions, inout jsErrCode) -> T
    ) throws(JetStreamError) -> T {
        var msg: OpaquePointer?
        let status = message.payload.withUnsafeBytes { natsMsg_Create(&msg, subject, nil, $0.baseAddress, Int32($0.count)) }
        guard status == NATS_OK, msg != nil else { throw context.error(status, subject: subject, operation: "make the message \(message.messageId)") }
        defer { natsMsg_Destroy(msg) }
        return message.messageId.withCString { id in
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            options.MsgId = message.messageId.isEmpty ? nil : id
            var code = jsErrCode(0)
            return body(&msg, &options, &code)
        }
    }
}
