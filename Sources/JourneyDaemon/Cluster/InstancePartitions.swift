import Synchronization

/// What an instance runs now, for whoever asks from outside the ownership loop (the control socket,
/// the reloader): the live rules that partitions start on, and the partitions it owns.
final class InstancePartitions: Sendable {
    /// The live rules, the partitions owned, those let go and still stopping (their counters still move:
    /// a drain's deliveries), and the counters of those that have ended — so the summed counters count
    /// everything since the instance started, and never go down when a partition moves to another instance.
    private struct State {
        var live: Runtime
        var owned: [Int: OwnedPartition] = [:]
        var leaving: [ObjectIdentifier: OwnedPartition] = [:]
        var released = DaemonCounters()

        /// Partitions let go that have ended: their final counters are kept, the partitions (and the
        /// state they hold) dropped.
        mutating func settle() {
            for (id, partition) in leaving where partition.hasEnded {
                released.add(partition.processor.figures.counters)
                leaving[id] = nil
            }
        }
    }
    private let state: Mutex<State>

    private let stallCount = Mutex(0)

    init(live: Runtime) { state = Mutex(State(live: live)) }

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
                state.leaving[ObjectIdentifier(partition)] = partition
            }
            for id in kept { state.leaving[id] = nil }
            state.owned = owned
            state.settle()
        }
    }

    /// The instance's figures: the counters since it started (its partitions now, those still stopping
    /// and those it let go), the timers, outbox, and users in memory of the partitions it owns now.
    var figures: PartitionFigures {
        let (owned, leaving, released) = state.withLock { state in
            state.settle()
            return (state.owned, state.leaving, state.released)
        }
        var sum = PartitionFigures()
        sum.counters = released
        for partition in leaving.values { sum.counters.add(partition.processor.figures.counters) }
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
