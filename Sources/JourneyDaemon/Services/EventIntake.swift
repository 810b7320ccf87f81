import JourneyCore

/// Where a ``SourcePump`` hands parsed batches: a partition's processor (embedded mode, which logs and
/// applies them) or the cluster's publisher (which puts them in JetStream for their partitions' owners).
/// A batch may be acknowledged to its producer once its receipt says durable.
protocol EventIntake: Sendable {
    func submit(_ batch: IntakeBatch) async -> IntakeReceipt
    /// Lines rejected before the intake (they are counted where the figures are kept).
    func countRejected(_ count: Int)
}

extension PartitionProcessor: EventIntake {
    func submit(_ batch: IntakeBatch) async -> IntakeReceipt { await inbox.submit(batch) }
    func countRejected(_ count: Int) { inbox.post(.query { $0.counters.rejected += count }) }
}
