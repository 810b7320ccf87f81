import JourneyCore
import JourneyNATS
import Synchronization

/// A partition's log in cluster mode, as its owner's ``PartitionProcessor`` sees it: the JetStream
/// subject that every instance's inputs publish the partition's events to, and that the owner appends its
/// own records (ticks, deliveries, reloads) to.
///
/// The owner applies its own records as it appends them — except ticks and reloads, applied when read
/// back, so time and rules move on in the subject's order — and the inputs' records as it reads them
/// (``PartitionProcessor/follow(_:parser:)``), so ``lastSequence`` — what a checkpoint covers — is the
/// position the owner has read up to, never past a record it has not applied yet: an own record
/// appended at a later position than an unread event does not move it. ``durableSequence`` is the last
/// record appended (a JetStream append returns after the PubAck, so it is durable).
final class FollowedLog: EventLog, @unchecked Sendable {
    let base: any EventLog
    /// The partition's reader (its one pull consumer), which the replay at start reads through and the
    /// follower then reads on with: a partition's start creates one consumer, not a second for the replay.
    private let replayReader: Mutex<PartitionReader?>
    private let positions: Mutex<(read: UInt64, own: Set<UInt64>, readBytes: Int)>

    /// The owner's lease token, stamped on every record it appends (``JournalRecord/stamp(_:into:_:)``); nil
    /// appends them unstamped (tests of a single owner).
    let token: FencingToken?

    /// `committed`: the position the partition's last checkpoint covers; `reader`: a reader after it;
    /// `token`: the owner's lease.
    init(_ base: any EventLog, committed: UInt64, reader: PartitionReader? = nil, token: FencingToken? = nil) {
        self.base = base
        self.token = token
        replayReader = Mutex(reader)
        positions = Mutex((committed, [], 0))
    }

    /// The position read (and applied) up to.
    var lastSequence: UInt64 { positions.withLock { $0.read } }
    var durableSequence: UInt64 { max(base.durableSequence, lastSequence) }
    var firstSequence: UInt64 { base.firstSequence }
    /// The bytes this owner appended plus those it read and applied (the inputs' events, published by
    /// every instance): what `state.checkpoint.log_bytes` counts, so a busy partition is checkpointed by
    /// the log it applied and a new owner replays little.
    var storedBytes: Int { base.storedBytes + positions.withLock { $0.readBytes } }
    var location: String { base.location }

    func append(_ body: (inout ByteWriter) -> Void) throws(LogError) -> UInt64 {
        let sequence: UInt64
        if let token {
            sequence = try base.append { JournalRecord.stamp(token.value, into: &$0, body) }
        } else {
            sequence = try base.append(body)
        }
        positions.withLock { _ = $0.own.insert(sequence) }
        return sequence
    }

    func sync() throws(LogError) -> UInt64 { max(try base.sync(), lastSequence) }

    /// Every record after `after`, own ones included (recovery replays all of them).
    func read(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        // Once (the follower owns the reader afterwards).
        if after == lastSequence, let reader = replayReader.withLock({ $0.take() }) {
            // Up to the subject's end when the log was opened (the replay at start), through the reader.
            let end = base.lastSequence
            var position = after
            while position < end {
                for record in try reader.next(wait: .seconds(1)) {
                    position = record.sequence
                    let go = try record.payload.withUnsafeBytes { try body(record.sequence, $0) }
                    advance(to: record.sequence, bytes: record.payload.count)
                    if !go { return }
                }
            }
            return
        }
        try base.read(after: after) { sequence, bytes in
            let go = try body(sequence, bytes)
            advance(to: sequence, bytes: bytes.count)
            return go
        }
    }

    /// Whether the owner appended the record at `sequence` itself (and so has applied it already).
    func isOwn(_ sequence: UInt64) -> Bool { positions.withLock { $0.own.contains(sequence) } }

    /// The owner has read (and applied, or skipped as its own) everything up to `sequence`, `bytes` more.
    func advance(to sequence: UInt64, bytes: Int = 0) {
        positions.withLock {
            $0.readBytes += bytes
            $0.read = max($0.read, sequence)
            let read = $0.read
            $0.own = $0.own.filter { $0 > read }
        }
    }

    func discard(through: UInt64) throws(LogError) { try base.discard(through: through) }
    func rewrite(_ transform: (UInt64, UnsafeRawBufferPointer) throws -> [UInt8]?) throws { try base.rewrite(transform) }
}
