import Foundation
import Synchronization

// Fault injection for the cluster tests, by environment variable: each makes a real failure that the tests
// cannot bring about on demand. None is set in production; each is read once.

/// `JOURNEYD_FAULT_STALL_FOLLOWER=N` (tests only): the first follower of partition N in this process
/// reads nothing — a real stall of that partition (its lease renewed, its subject growing) for the stall
/// watchdog to find; the partition's next start reads normally.
enum FollowerFault {
    private static let fault = PartitionFault("JOURNEYD_FAULT_STALL_FOLLOWER")

    static func stallsOnce(_ p: Int) -> Bool { fault.fires(for: p) }
}

/// `JOURNEYD_FAULT_DEAF_FOLLOWER=N` (tests only): the first follower of partition N in this process does
/// not stop when asked — a service that ignores its cancellation, for the bound on stopping a partition
/// whose lease lapsed (``PartitionOwnership``). It reads on and waits forever for a processor that
/// stopped; the partition's next start is a normal one.
enum DeafFollowerFault {
    private static let fault = PartitionFault("JOURNEYD_FAULT_DEAF_FOLLOWER")

    static func ignoresStopOnce(_ p: Int) -> Bool { fault.fires(for: p) }
}

/// A fault for the partition an environment variable names, that fires the first time it is asked
/// about that partition in this process, and never again.
final class PartitionFault: Sendable {
    private let partition: Int?
    private let fired = Atomic<Bool>(false)

    init(_ variable: String) {
        partition = ProcessInfo.processInfo.environment[variable].flatMap { Int($0) }
    }

    func fires(for p: Int) -> Bool {
        guard p == partition else { return false }
        return fired.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }
}

/// `JOURNEYD_FAULT_KEEP_LAPSED_PARTITIONS=1` (tests only): the ownership loop never stops a partition whose
/// lease lapsed — what an ownership loop that is late to look (a heavily loaded machine, a long pause)
/// does for a while. The partition goes on reading and applying as a stale owner until its next checkpoint
/// is fenced; only the delivery fence (``HeldLeases/deliveryFence(_:token:)``) keeps it from sending.
enum OwnershipFault {
    static let keepsLapsedPartitions = ProcessInfo.processInfo.environment["JOURNEYD_FAULT_KEEP_LAPSED_PARTITIONS"] == "1"
}
