import Synchronization

/// What ``StatusReporter`` watches in cluster mode: the ownership loop must keep turning and the lease
/// renewal loop keep going round (each round, renewed or failed, counts: a database that refuses is
/// logged and retried, but one whose statement never returns stops the pings and systemd restarts the
/// instance). `STATUS=` shows the partitions owned and their figures summed.
struct ClusterVitals: VitalSigns {
    let instance: String
    let partitionCount: Int
    let ownership: OwnershipPulse
    let partitions: InstancePartitions
    let reloader: ClusterReloader

    var pulse: (turns: UInt64, progress: UInt64, settled: Bool) { (ownership.turns, ownership.renewals, false) }

    var statusText: String {
        let owned = partitions.owned
        let sum = partitions.figures
        let failing = ownership.failures()
        return "instance \(instance): \(owned.count) of \(partitionCount) partitions; \(sum.counters.events) events; "
            + "\(sum.timers) timers waiting; outbox \(sum.outboxWaiting) waiting, \(sum.outboxAttempting) in flight; "
            + "\(sum.counters.delivered) delivered; last reload: \(reloader.lastReload.withLock { $0 })"
            + (failing.isEmpty ? "" : "; " + failing)
    }
}
