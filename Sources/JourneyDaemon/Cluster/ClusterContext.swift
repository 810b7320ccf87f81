import JourneyCore
import JourneyEvents
import JourneyNATS
import JourneyPostgres
import Logging

/// What every partition an instance owns shares: the stream, the state store, the live rules and the
/// partitions owned (``InstancePartitions``), the daemon's settings, the clock, the metrics and the
/// ownership's signs of life (``OwnershipPulse``).
struct ClusterContext: Sendable {
    let instance: String
    let stream: JetStreamStream
    /// Publishes what a partition's owner sends to another partition (identity hand-overs).
    let publisher: PartitionPublisher
    let store: PostgresCheckpointStore
    let partitions: InstancePartitions
    let options: Daemon.Options
    let clock: any JourneyClock
    let metrics: DaemonMetrics
    let parser: SegmentEventParser
    let logger: Logger
    let pulse: OwnershipPulse
}
