import JourneyCore
import JourneyNATS
import Logging
import Synchronization

/// Cluster mode's ``EventIntake``: publishes the events of a batch that fall in one partition as ONE
/// message to the partition's subject — a multi-line events record of the partition's log, the record
/// embedded mode writes for a batch — and says the batch is durable once JetStream acknowledged every
/// message of it (docs/CLUSTER.md). The owner of each partition applies the records in the subject's order.
///
/// Deduplication: the message's `Nats-Msg-Id` names the batch's part (``batchId(namespace:ids:)``), so
/// JetStream stores a batch published again whole (a retry of the same batch) once. A producer's retry
/// after a crash usually comes in a different batch composition: its events then reach the owner again,
/// and the engine drops them by their message ids (scoped by namespace) at apply time, as in embedded mode.
///
/// Positions: a batch from the instance's spool or tail carries its file positions; they are moved in the
/// instance's ``InputPositionStore`` after the PubAcks and before the batch counts as durable (a restart
/// reads on from there). A crash between the two publishes the batch again on restart: the same
/// composition, so JetStream stores it once within its duplicate window, and the engine's deduplication
/// after it.
///
/// The event-time policy is applied here, against the receipt time the record carries: refused lines
/// are answered as rejected (and quarantined by the pump) and never published; the owner applies the
/// same policy to the same receipt time, with the same outcome. The policy is the live rules' (a reload
/// changes it here as in the partitions).
final class ClusterPublisher: EventIntake {
    let publisher: PartitionPublisher
    /// The event-time policy of the rules live now (`events` in journeyd.yaml).
    let eventTime: @Sendable () -> EventTimePolicy
    /// Where this instance's input positions are kept, under its name.
    let positions: any InputPositionStore
    let instance: String
    let logger: Logger
    private let rejected = Atomic<Int>(0)
    /// Failed publishes (nats-server away) and failed moves of input positions (PostgreSQL away), each
    /// told as a streak: the first, a reminder every 30 s, the recovery.
    private let failures = Mutex(FailureStreak("publishing", attempts: "batches"))
    private let positionFailures = Mutex(FailureStreak("keeping input positions", attempts: "batches"))

    init(publisher: PartitionPublisher, eventTime: @escaping @Sendable () -> EventTimePolicy, positions: any InputPositionStore, instance: String, logger: Logger) {
        self.publisher = publisher
        self.eventTime = eventTime
        self.positions = positions
        self.instance = instance
        self.logger = logger
    }

    /// Lines rejected by the parser or the policy on this instance.
    var rejectedCount: Int { rejected.load(ordering: .relaxed) }

    func countRejected(_ count: Int) { rejected.add(count, ordering: .relaxed) }

    func submit(_ batch: IntakeBatch) async -> IntakeReceipt {
        let receipt = IntakeReceipt()
        var refused: [(line: Int, path: String, reason: String)] = []
        let stream = publisher.stream
        // The partition's lines and message ids, partitions in the order their first event came.
        var parts: [Int: (lines: [[UInt8]], ids: [String])] = [:]
        var order: [Int] = []
        let eventTime = self.eventTime()
        for (event, raw, line) in batch.events {
            var checked = event
            if case .refused(let path, let reason) = eventTime.apply(to: &checked, receivedAt: batch.receivedAt) {
                refused.append((line, path, reason))
                continue
            }
            let partition = stream.partition(of: event.userId)
            if parts[partition] == nil { order.append(partition) }
            parts[partition, default: ([], [])].lines.append(raw)
            parts[partition, default: ([], [])].ids.append(event.messageId)
        }
        let messages = order.map { partition -> PartitionPublisher.Message in
            let part = parts[partition]!
            let record = JournalRecord.EventsRecord(
                appliedAt: batch.receivedAt, receivedAt: batch.receivedAt, origin: batch.origin, namespace: batch.namespace,
                lines: part.lines, positions: [:])
            var writer = ByteWriter(capacity: part.lines.reduce(64) { $0 + $1.count + 4 })
            JournalRecord.events(record).encode(into: &writer)
            return .init(partition: partition, messageId: Self.batchId(namespace: batch.namespace, ids: part.ids), payload: writer.bytes)
        }
        let (publisher, positions, instance) = (self.publisher, self.positions, self.instance)
        let events = batch.events.count - refused.count
        let started = MonotonicClock.nanoseconds
        do {
            if !messages.isEmpty { _ = try await blocking("journeyd publish") { try publisher.publish(batch: messages) } }
        } catch {
            let (logger, messageCount) = (self.logger, messages.count)
            failures.withLock {
                $0.failed(error, first: "publishing a batch of \(events) events (\(messageCount) partitions) from \(batch.origin) failed", logger: logger)
            }
            receipt.resolve(.refused("journeyd cannot store events: \(error)"))
            return receipt
        }
        if !messages.isEmpty { failures.withLock { $0.succeeded(logger: logger, attemptStarted: started) } }
        if !batch.positions.isEmpty {
            do {
                try await blocking("journeyd input positions") { try positions.move(batch.positions, of: instance) }
            } catch {
                // Published, but a restart would read the batch again: not durable as a whole. The source
                // offers it again; JetStream stores the same composition once, the engine drops repeats.
                let logger = self.logger
                positionFailures.withLock { $0.failed(error, first: "keeping the input position after a batch from \(batch.origin) failed", logger: logger) }
                receipt.resolve(.refused("journeyd cannot keep its input position: \(error)"))
                return receipt
            }
            positionFailures.withLock { $0.succeeded(logger: logger, attemptStarted: started) }
        }
        receipt.resolve(.durable(refused: refused))
        return receipt
    }

    /// The `Nats-Msg-Id` of a batch's events in one partition: `b/` and a 128-bit hash of the namespace and
    /// the message ids in order — the same batch published again gets the same id, a different one (another
    /// composition) a different id; two different batches collide with a probability of about n²/2¹²⁹.
    static func batchId(namespace: String, ids: [String]) -> String {
        "b/" + StableHash.id128([namespace] + ids)
    }
}
