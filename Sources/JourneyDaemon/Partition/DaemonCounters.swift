import JourneyCore

/// What a partition's processor has done since the daemon started: `journeyd status`, `STATUS=` and the
/// final log record read these.
public struct DaemonCounters: Sendable, Equatable {
    public var events = 0
    public var rejected = 0
    public var duplicates = 0
    public var touches = 0
    public var delivered = 0
    public var inDoubt = 0
    public var deadLettered = 0
    /// Policy outcomes: touches dropped by a cap, held (quiet hours, deferring caps), not produced because
    /// the user closed the channel, skipped by a late timer.
    public var capped = 0
    public var deferred = 0
    public var suppressed = 0
    public var skippedLate = 0
    /// Events refused because their user was forgotten (`journeyd forget`).
    public var forgottenRefused = 0
    /// Cluster mode (docs/CLUSTER.md, "Identity across partitions"): merges of an id another partition
    /// held, joined by a hand-over; those with nothing to join (the id belongs to someone else); ids this
    /// partition handed over; events forwarded to the partition of the user their id was merged into.
    public var handovers = 0
    public var mergesNotJoined = 0
    public var handedOver = 0
    public var forwarded = 0
    /// Log records replayed at start (after the last checkpoint).
    public var replayed = 0
    public var reloads = 0
    public var reloadsRefused = 0
    public var checkpoints = 0

    public init() {}

    /// Adds `other`'s counts to these (an instance's partitions summed).
    public mutating func add(_ other: DaemonCounters) {
        events += other.events
        rejected += other.rejected
        duplicates += other.duplicates
        touches += other.touches
        delivered += other.delivered
        inDoubt += other.inDoubt
        deadLettered += other.deadLettered
        capped += other.capped
        deferred += other.deferred
        suppressed += other.suppressed
        skippedLate += other.skippedLate
        forgottenRefused += other.forgottenRefused
        handovers += other.handovers
        mergesNotJoined += other.mergesNotJoined
        handedOver += other.handedOver
        forwarded += other.forwarded
        replayed += other.replayed
        reloads += other.reloads
        reloadsRefused += other.reloadsRefused
        checkpoints += other.checkpoints
    }
}

/// Live figures a processor publishes after every turn, for readers on other threads (status, watchdog).
public struct PartitionFigures: Sendable {
    public var counters = DaemonCounters()
    public var journeys = 0
    public var rulesVersion = ""
    public var timers = 0
    public var usersInMemory = 0
    public var outboxWaiting = 0
    public var outboxAttempting = 0
    public var intakeQueued = 0
    public var logSequence: UInt64 = 0
    public var durableSequence: UInt64 = 0
    public var lastReload = "none"
    public var clock = Timestamp.distantPast
    /// Incremented on every turn of the processing loop: the watchdog's proof of progress.
    public var turns: UInt64 = 0

    public init() {}
}
