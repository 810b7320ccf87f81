import Synchronization

/// Signs of life of an instance's ownership: the turns of ``PartitionOwnership``'s loop, the rounds of
/// ``HeldLeases``' renewal loop, and whether the instance has joined (its first turn — heartbeat
/// recorded, free leases taken, their partitions started — is done). ``ClusterVitals`` reads them for
/// the watchdog; `READY=1` waits for ``joined``.
final class OwnershipPulse: Sendable {
    private let turnCount = Atomic<UInt64>(0)
    private let renewalCount = Atomic<UInt64>(0)
    /// Opens after the ownership loop's first successful turn (or, stopped before that, closed).
    let joined = ListenerGate()

    init() {}

    /// The ownership loop finished a turn.
    func turned() { turnCount.add(1, ordering: .relaxed) }

    /// The renewal loop finished a round (renewed, or failed and will try again).
    func renewed() { renewalCount.add(1, ordering: .relaxed) }

    var turns: UInt64 { turnCount.load(ordering: .relaxed) }
    var renewals: UInt64 { renewalCount.load(ordering: .relaxed) }
}
