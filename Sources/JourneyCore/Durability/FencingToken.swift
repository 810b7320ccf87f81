/// The number a partition lease is granted under (cluster mode, DESIGN §6): every grant of a partition's
/// lease — a first one, a takeover after expiry, a new grant after a release — gets a higher token than
/// any before it. The owner stamps its checkpoints with it (``Checkpoint/fence``), and the store refuses
/// a checkpoint whose token is no longer the partition's current one.
///
/// A lease's expiry alone cannot keep two instances from writing one partition: a paused process (a
/// stopped VM, a swapped-out page, a stalled disk or network) wakes up believing it still holds a lease
/// that ran out while it was stopped. The token makes its late write lose, whatever its
/// clock says (the technique is Lamport's, popularised as "fencing tokens" by Kleppmann).
public struct FencingToken: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: Int64

    public init(_ value: Int64) { self.value = value }

    public static func < (a: FencingToken, b: FencingToken) -> Bool { a.value < b.value }

    public var description: String { "token \(value)" }
}
