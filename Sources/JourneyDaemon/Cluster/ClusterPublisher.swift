import JourneyCore
import JourneyNATS
import Logging
import Synchronization

/// Cluster mode's ``EventIntake``: publishes each event of a batch to its partition's subject, as a
/// one-line events record of the partition's log, with `Nats-Msg-Id` = its message id (scoped by the
/// source's deduplication namespace), and says the batch is durable once JetStream acknowledged every
/// event of it (docs/CLUSTER.md). The owner of each partition applies the records in the subject's order.
///
/// The event-time policy is applied here, against the receipt time the record carries: refused lines
/// are answered as rejected (and quarantined by the pump) and never published; the owner applies the
/// same policy to the same receipt time, with the same outcome.
final class ClusterPublisher: EventIntake {
    let publisher: PartitionPublisher
    let eventTime: EventTimePolicy
    let logger: Logger
    private let rejected = Atomic<Int>(0)

    init(publisher: PartitionPublisher, eventTime: EventTimePolicy, logger: Logger) {
        self.publisher = publisher
        self.eventTime = eventTime
        self.logger = logger
    }

    /// Lines rejected by the parser or the policy on this instance.
    var rejectedCount: Int { rejected.load(ordering: .relaxed) }

    func countRejected(_ count: Int) { rejected.add(count, ordering: .relaxed) }

    func submit(_ batch: IntakeBatch) async -> IntakeReceipt {
        let receipt = IntakeReceipt()
        var messages: [PartitionPublisher.Message] = []
        messages.reserveCapacity(batch.events.count)
        var refused: [(line: Int, path: String, reason: String)] = []
        let stream = publisher.stream
        for (event, raw, line) in batch.events {
            var checked = event
            if case .refused(let path, let reason) = eventTime.apply(to: &checked, receivedAt: batch.receivedAt) {
                refused.append((line, path, reason))
                continue
            }
            let record = JournalRecord.EventsRecord(
                appliedAt: batch.receivedAt, receivedAt: batch.receivedAt, origin: batch.origin, namespace: batch.namespace,
                lines: [raw], positions: [:])
            var writer = ByteWriter(capacity: raw.count + 64)
            JournalRecord.events(record).encode(into: &writer)
            let id = batch.namespace.isEmpty ? event.messageId : batch.namespace + "/" + event.messageId
            messages.append(.init(partition: stream.partition(of: event.userId), messageId: id, payload: writer.bytes))
        }
        guard !messages.isEmpty else {
            receipt.resolve(.durable(refused: refused))
            return receipt
        }
        let publisher = self.publisher
        let toPublish = messages
        do {
            _ = try await blocking("journeyd publish") { try publisher.publish(batch: toPublish) }
            receipt.resolve(.durable(refused: refused))
        } catch {
            logger.error("publishing a batch of \(toPublish.count) events from \(batch.origin) failed: \(error)")
            receipt.resolve(.refused("journeyd cannot store events: \(error)"))
        }
        return receipt
    }
}
