import Synchronization

/// What an instance runs now, for whoever asks from outside the ownership loop (the control socket,
/// the reloader): the live rules that partitions start on, and the partitions it owns.
final class InstancePartitions: Sendable {
    private let state: Mutex<(live: Runtime, owned: [Int: OwnedPartition])>

    private let stallCount = Mutex(0)

    init(live: Runtime) { state = Mutex((live, [:])) }

    /// Owned partitions found stalled and let go since the instance started (status `partition_stalls`).
    var stalls: Int { stallCount.withLock { $0 } }
    func noteStall() { stallCount.withLock { $0 += 1 } }

    /// The rules a partition taken over now starts on (the last successful reload's).
    var live: Runtime {
        get { state.withLock { $0.live } }
        set { state.withLock { $0.live = newValue } }
    }

    /// The partitions owned now, by number.
    var owned: [Int: OwnedPartition] { state.withLock { $0.owned } }

    /// What ``PartitionOwnership`` owns after each of its turns.
    func publish(_ owned: [Int: OwnedPartition]) { state.withLock { $0.owned = owned } }

    /// The owned partitions' figures summed (counters, timers, outbox, users in memory).
    var figures: PartitionFigures {
        var sum = PartitionFigures()
        for partition in owned.values {
            let f = partition.processor.figures
            sum.counters.events += f.counters.events
            sum.counters.duplicates += f.counters.duplicates
            sum.counters.touches += f.counters.touches
            sum.counters.delivered += f.counters.delivered
            sum.counters.deadLettered += f.counters.deadLettered
            sum.counters.inDoubt += f.counters.inDoubt
            sum.counters.replayed += f.counters.replayed
            sum.counters.checkpoints += f.counters.checkpoints
            sum.counters.forgottenRefused += f.counters.forgottenRefused
            sum.counters.mergesAcrossPartitions += f.counters.mergesAcrossPartitions
            sum.timers += f.timers
            sum.outboxWaiting += f.outboxWaiting
            sum.outboxAttempting += f.outboxAttempting
            sum.usersInMemory += f.usersInMemory
        }
        return sum
    }
}
