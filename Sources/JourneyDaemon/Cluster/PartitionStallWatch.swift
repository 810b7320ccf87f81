import JourneyCore
import JourneyNATS

/// The stall watchdog of the partitions an instance owns: a partition whose read position (what its
/// processor has applied of the subject) has not moved for `after` while the subject holds records beyond
/// it is stalled — its follower or its processor is stuck, though the instance renews its lease. Only a
/// partition without progress for that long costs a request to the server (the subject's last sequence);
/// an idle one that has read everything is looked at again an `after` later. ``PartitionOwnership`` reports
/// each stalled partition and lets it go, so a fresh start (its next turn, or another instance) reads on.
struct PartitionStallWatch {
    let after: Duration
    private var seen: [Int: (token: FencingToken, position: UInt64, since: UInt64)] = [:]

    init(after: Duration) { self.after = after }

    struct Stall {
        var partition: Int
        var position: UInt64
        var end: UInt64
        var seconds: Int
    }

    /// The owned partitions stalled now (each reported once: it is let go).
    mutating func stalled(_ owned: [Int: OwnedPartition], now: UInt64 = MonotonicClock.nanoseconds) async -> [Stall] {
        seen = seen.filter { owned[$0.key]?.token == $0.value.token }
        var suspects: [(Int, OwnedPartition, UInt64)] = []
        for (p, partition) in owned {
            let position = partition.log.lastSequence
            guard let last = seen[p], last.position == position else {
                seen[p] = (partition.token, position, now)
                continue
            }
            if now - last.since >= after.nanoseconds { suspects.append((p, partition, position)) }
        }
        var stalls: [Stall] = []
        for (p, partition, position) in suspects {
            let base = partition.base
            guard let end = try? await blocking("journeyd stall watch", { try base.subjectEnd() }) else { continue }
            if end > position {
                stalls.append(Stall(partition: p, position: position, end: end, seconds: Int((now - seen[p]!.since) / 1_000_000_000)))
                seen[p] = nil
            } else {
                seen[p]?.since = now  // idle and caught up: look again an `after` later
            }
        }
        return stalls
    }
}
