import JourneyCore
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

    /// What fails now, by loop (`ownership`, `leases`): since when (monotonic nanoseconds) and the last error.
    private let trouble = Mutex<[String: (since: UInt64, error: String)]>([:])

    /// `loop`'s last attempt failed with `error` (the streak keeps its start).
    func failing(_ loop: String, _ error: String, at now: UInt64 = MonotonicClock.nanoseconds) {
        trouble.withLock { $0[loop] = ($0[loop]?.since ?? now, error) }
    }

    /// `loop`'s last attempt worked.
    func working(_ loop: String) { trouble.withLock { _ = $0.removeValue(forKey: loop) } }

    /// Whether a loop fails now.
    var isFailing: Bool { trouble.withLock { !$0.isEmpty } }

    /// What fails, for `journeyd status` and `STATUS=`: `leases failing for 12 s: …; ownership failing for
    /// 11 s: …`, or empty when nothing does.
    func failures(now: UInt64 = MonotonicClock.nanoseconds) -> String {
        trouble.withLock { trouble in
            trouble.sorted { $0.key < $1.key }.map { loop, failure in
                "\(loop) failing for \((now &- failure.since) / 1_000_000_000) s: \(failure.error)"
            }.joined(separator: "; ")
        }
    }
}
