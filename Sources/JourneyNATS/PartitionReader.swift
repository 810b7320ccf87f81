import CNats
import Foundation
import Synchronization
public import JourneyCore

/// Follows one partition's subject for its owner: an ephemeral pull consumer (no acknowledgements, the
/// reader keeps its position) that waits on the server for new records instead of polling. ``next(wait:)``
/// returns what the subject holds after the last record returned — up to ``batch`` records in one
/// request — or, when there is nothing, waits up to `wait` for the first new record (one long-poll
/// request for a single record, then what came with it): an idle partition costs one request per `wait`,
/// a busy one is read in large batches.
///
/// Continuity: a consumer numbers what it delivers 1, 2, 3…; a gap (a record delivered for a request
/// the library had already given up on, and dropped) is detected by that number, and the reader starts a
/// new consumer after the last record it returned — nothing is skipped. So it does when the consumer is
/// gone from the server (deleted by an operator, or by its inactivity threshold after the process was
/// paused for a minute): a request made to a deleted consumer just times out, like one to an idle
/// subject, so after an empty answer the reader asks whether its consumer still exists, at most every
/// ``consumerCheckInterval``; a request waiting when the consumer is deleted fails, and after a failed
/// request it asks at once. Not thread-safe: one reader thread; ``interrupt()`` may be called from another.
public final class PartitionReader: @unchecked Sendable {
    public let log: JetStreamLog
    /// Records fetched per request at most.
    public let batch: Int32
    private var subscription: OpaquePointer?
    /// Guards `subscription` and `interrupted` between the reader thread and ``interrupt()``.
    private let lock = NSLock()
    /// Set by ``interrupt()`` (whose unsubscribe deletes the consumer), cleared by a new subscription.
    private var interrupted = false
    /// The stream sequence of the last record returned, and the consumer's number for it.
    private var position: UInt64
    private var delivered: UInt64 = 0
    /// How many records the last one read said were behind it.
    private var pending: UInt64 = 0
    /// When the consumer was last known to exist (started, or found by ``consumerIsGone()``).
    private var foundAt: UInt64 = 0
    /// How often an empty answer makes the reader ask whether its consumer still exists (one request).
    public static let consumerCheckInterval: Duration = .seconds(5)

    /// Called on the reader's thread when it starts a new consumer in place of one that broke off: why,
    /// and the stream sequence it follows after (an owner logs it).
    public var onNewConsumer: (@Sendable (_ reason: String, _ after: UInt64) -> Void)?

    /// A record read: its stream sequence and payload.
    public struct Record: Sendable {
        public var sequence: UInt64
        public var payload: [UInt8]
    }

    /// Follows `log`'s subject from the record after `after`.
    public init(log: JetStreamLog, after: UInt64, batch: Int32 = 1024) throws(LogError) {
        self.log = log
        self.batch = batch
        position = after
        try subscribe()
    }

    deinit { close() }

    /// The records after the last one returned: at once what is there, else the first to come within
    /// `wait` (and what came with it); empty when none came.
    ///
    /// Every request waits on the server (nats-server 2.9 holds even a `no_wait` request with an expiry
    /// until it expires when it cannot fill it): the reader asks for one record, or for exactly as many
    /// as the last record said were pending behind it, so a request is filled at once whenever records are there.
    public func next(wait: Duration) throws(LogError) -> [Record] {
        if subscription == nil { try subscribe() }
        var records: [Record] = []
        if pending == 0 { records = try fetch(batch: 1, wait: wait) }
        if pending > 0 { records += try fetch(batch: Int32(min(UInt64(batch) - UInt64(records.count), pending)), wait: wait) }
        return records
    }

    /// The consumer's name on the server (assigned by it), nil while there is none. Asks the server, under
    /// the lock ``interrupt()`` takes (for tests and diagnostics, not for the reading thread's loop).
    var consumer: String? {
        lock.withLock {
            guard let subscription else { return nil }
            var info: UnsafeMutablePointer<jsConsumerInfo>?
            var code = jsErrCode(0)
            guard natsSubscription_GetConsumerInfo(&info, subscription, nil, &code) == NATS_OK, let info else { return nil }
            defer { jsConsumerInfo_Destroy(info) }
            return info.pointee.Name.map { String(cString: $0) }
        }
    }

    /// Makes a blocked ``next(wait:)`` return soon (it returns what it has, or nothing).
    public func interrupt() {
        lock.withLock {
            interrupted = true
            if let subscription { _ = natsSubscription_Unsubscribe(subscription) }
        }
    }

    /// Deletes the consumer.
    public func close() {
        lock.withLock {
            guard let subscription else { return }
            _ = natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
            self.subscription = nil
        }
    }

    private func subscribe() throws(LogError) {
        close()
        var subscription: OpaquePointer?
        var code = jsErrCode(0)
        let after = position
        let status = log.stream.name.withCString { name in
            var options = jsSubOptions()
            jsSubOptions_Init(&options)
            options.Stream = name
            options.Config.DeliverPolicy = js_DeliverByStartSequence
            options.Config.OptStartSeq = after + 1
            options.Config.AckPolicy = js_AckNone
            options.Config.InactiveThreshold = 60_000_000_000  // the server drops it a minute after we vanish
            return js_PullSubscribe(&subscription, log.context.handle, log.subject, nil, nil, &options, &code)
        }
        guard status == NATS_OK, let subscription else { throw log.failure(status, code, "follow after \(after)") }
        lock.withLock {
            self.subscription = subscription
            interrupted = false
        }
        delivered = 0
        pending = 0
        foundAt = MonotonicClock.nanoseconds
    }

    /// Whether the server answers that the consumer does not exist (asked at most every
    /// ``consumerCheckInterval`` unless `now`; any other answer — an unreachable server included — counts
    /// as no). Never for a subscription ``interrupt()`` ended: its consumer was deleted with it.
    private func consumerIsGone(now asked: Bool = false) -> Bool {
        let now = MonotonicClock.nanoseconds
        guard let subscription, asked || now &- foundAt >= UInt64(Self.consumerCheckInterval.nanoseconds) else { return false }
        guard lock.withLock({ !interrupted }) else { return false }
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var code = jsErrCode(0)
        let status = natsSubscription_GetConsumerInfo(&info, subscription, nil, &code)
        if let info { jsConsumerInfo_Destroy(info) }
        if status == NATS_OK { foundAt = now }
        // Asked after the call too: an interrupt() meanwhile deleted the consumer itself.
        return (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) && lock.withLock { !interrupted }
    }

    /// One request for up to `batch` records, waiting at most `wait` for them.
    private func fetch(batch: Int32, wait: Duration) throws(LogError) -> [Record] {
        guard batch > 0, let subscription else { return [] }
        var list = natsMsgList()
        var request = jsFetchRequest()
        jsFetchRequest_Init(&request)
        request.Batch = batch
        request.Expires = max(1_000_000, wait.nanoseconds)
        let status = natsSubscription_FetchRequest(&list, subscription, &request)
        defer { natsMsgList_Destroy(&list) }
        if list.Count == 0 {
            if status == NATS_OK || status == NATS_NOT_FOUND || status == NATS_TIMEOUT {
                if consumerIsGone() {
                    try subscribe()
                    onNewConsumer?("its consumer is gone from the server", position)
                }
                return []
            }
            if status == NATS_INVALID_SUBSCRIPTION || status == NATS_CONNECTION_CLOSED {
                close()  // interrupted (or gone): the next call subscribes again
                return []
            }
            // A consumer deleted while a request waits on it answers that request with an error (409
            // "Consumer Deleted"): asked at once whether that is what happened.
            if consumerIsGone(now: true) {
                try subscribe()
                onNewConsumer?("its consumer was deleted on the server", position)
                return []
            }
            throw log.failure(status, jsErrCode(0), "follow after \(position)")
        }
        var records: [Record] = []
        records.reserveCapacity(Int(list.Count))
        for index in 0..<Int(list.Count) {
            guard let message = list.Msgs[index] else { continue }
            var meta: UnsafeMutablePointer<jsMsgMetaData>?
            let status = natsMsg_GetMetaData(&meta, message)
            guard status == NATS_OK, let meta else { throw log.failure(status, jsErrCode(0), "read the sequence of a record after \(position)") }
            let (stream, consumer, behind) = (meta.pointee.Sequence.Stream, meta.pointee.Sequence.Consumer, meta.pointee.NumPending)
            jsMsgMetaData_Destroy(meta)
            guard consumer == delivered + 1 else {
                // A record was dropped between the server and us: start again after the last one kept.
                try subscribe()
                onNewConsumer?("its consumer delivered \(consumer) after \(delivered) (a record was dropped)", position)
                break
            }
            delivered = consumer
            position = stream
            pending = behind
            let data = UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: Int(natsMsg_GetDataLength(message)))
            records.append(Record(sequence: stream, payload: Array(data)))
        }
        log.positions.withLock { $0.last = max($0.last, position) }
        return records
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
