import Synchronization

/// What an instance runs now, for whoever asks from outside the ownership loop (the control socket,
/// the reloader): the live rules that partitions start on, and the partitions it owns.
final class InstancePartitions: Sendable {
    /// The live rules, the partitions owned, and the counters of those this instance let go (so the
    /// summed counters count everything since the instance started, and never go down when a partition
    /// moves to another instance).
    private let state: Mutex<(live: Runtime, owned: [Int: OwnedPartition], released: DaemonCounters)>

    private let stallCount = Mutex(0)

    init(live: Runtime) { state = Mutex((live, [:], DaemonCounters())) }

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
    func publish(_ owned: [Int: OwnedPartition]) {
        state.withLock { state in
            let kept = Set(owned.values.map(ObjectIdentifier.init))
            for partition in state.owned.values where !kept.contains(ObjectIdentifier(partition)) {
                state.released.add(partition.processor.figures.counters)
            }
            state.owned = owned
        }
    }

    /// The instance's figures: the counters since it started (its partitions now and those it let go),
    /// the timers, outbox, and users in memory of the partitions it owns now.
    var figures: PartitionFigures {
        let (owned, released) = state.withLock { ($0.owned, $0.released) }
        var sum = PartitionFigures()
        sum.counters = released
        for partition in owned.values {
            let f = partition.processor.figures
            sum.counters.add(f.counters)
            sum.timers += f.timers
            sum.outboxWaiting += f.outboxWaiting
            sum.outboxAttempting += f.outboxAttempting
            sum.usersInMemory += f.usersInMemory
        }
        return sum
    }
}
