import JourneyChannels
import JourneyCore
import JourneyPostgres
import Logging
import Synchronization

/// The leases an instance holds, renewed together on a loop of their own (``renewForever()``) so that starting or
/// stopping a partition never delays a renewal. A lease counts as held only while its last successful
/// renewal was *sent* less than `ttl - margin` ago by the local monotonic clock (the database judges
/// expiry from when it receives the statement, which is later): past that — renewal refused, or the
/// database too slow to answer — it is ``lapsed(now:)`` and the owner stops the partition at once.
final class HeldLeases: Sendable {
    let leases: PostgresPartitionLeases
    let instance: String
    let ttl: Duration
    let logger: Logger
    let pulse: OwnershipPulse
    private let held = Mutex<[Int: (token: FencingToken, renewedAt: UInt64, refused: Bool)]>([:])

    init(leases: PostgresPartitionLeases, instance: String, ttl: Duration, logger: Logger, pulse: OwnershipPulse) {
        self.leases = leases
        self.instance = instance
        self.ttl = ttl
        self.logger = logger
        self.pulse = pulse
    }

    private var ttlNanoseconds: UInt64 { ttl.nanoseconds }

    /// Records a lease just granted (`sentAt`: when the grant's statement was sent).
    func hold(_ partition: Int, token: FencingToken, sentAt: UInt64) {
        held.withLock { $0[partition] = (token, sentAt, false) }
    }

    func forget(_ partition: Int) { held.withLock { _ = $0.removeValue(forKey: partition) } }

    /// Forgets the lease of `partition` only if it is still the one under `token` (a later grant of the
    /// same partition is left alone).
    func forget(_ partition: Int, token: FencingToken) {
        held.withLock { held in if held[partition]?.token == token { held[partition] = nil } }
    }

    func isHeld(_ partition: Int) -> Bool { held.withLock { $0[partition] != nil } }

    /// How long after a renewal was sent the lease still counts as held: a sixth of the ttl less than the
    /// database gives it, which starts counting later (when the statement arrives).
    private var heldFor: UInt64 { ttlNanoseconds - ttlNanoseconds / 6 }

    /// Partitions whose lease was refused or is about to expire without a renewal (a sixth of the ttl
    /// before): stop them now.
    func lapsed(now: UInt64 = MonotonicClock.nanoseconds) -> [Int] {
        let limit = heldFor
        return held.withLock { held in held.filter { $0.value.refused || now - $0.value.renewedAt >= limit }.map(\.key) }
    }

    /// Whether the lease of `partition` under `token` counts as held right now — granted or last renewed
    /// less than 5/6 ttl ago, and not refused since. Asked on the spot, not from the ownership loop's last
    /// look, so it holds however late that loop is.
    func holds(_ partition: Int, token: FencingToken, now: UInt64 = MonotonicClock.nanoseconds) -> Bool {
        let limit = heldFor
        return held.withLock { held in
            guard let lease = held[partition], lease.token == token, !lease.refused else { return false }
            return now &- lease.renewedAt < limit
        }
    }

    /// The fence of a partition's deliveries: open while ``holds(_:token:now:)``. The first refusal is
    /// logged (a stale owner: the partition is stopped as soon as the ownership loop sees the lapse).
    func deliveryFence(_ partition: Int, token: FencingToken) -> DeliveryFence {
        let logged = SharedFlag()
        let logger = self.logger
        return DeliveryFence(reason: "the lease of partition \(partition) (token \(token.value)) lapsed") { [self] in
            if holds(partition, token: token) { return true }
            if logged.setFirst() {
                logger.warning(
                    "partition \(partition): lease (token \(token.value)) no longer held; no delivery starts from here on",
                    metadata: [RecordField.kind: "deliveries_fenced"])
            }
            return false
        }
    }

    /// Renews every held lease every ttl / 4 until cancelled, all in one statement. A renewal in flight
    /// when it is cancelled finishes (bounded by the leases' `answerWithin`); the owner awaits it.
    func renewForever() async {
        var streak = FailureStreak("renewing leases")
        while !Task.isCancelled {
            let current = held.withLock { $0.mapValues(\.token) }
            if !current.isEmpty {
                let sentAt = MonotonicClock.nanoseconds
                let (leases, instance, ttl) = (self.leases, self.instance, self.ttl)
                do {
                    let renewed = try await blocking("journeyd leases") { try leases.renew(current, owner: instance, ttl: ttl) }
                    let lost = held.withLock { held in
                        var lost: [(Int, FencingToken)] = []
                        for (p, token) in current where held[p]?.token == token {
                            if renewed.contains(p) { held[p]?.renewedAt = sentAt } else { held[p]?.refused = true; lost.append((p, token)) }
                        }
                        return lost
                    }
                    for (p, token) in lost { logger.warning("partition \(p): lease (token \(token.value)) could not be renewed: it was lost") }
                    pulse.working("leases")
                    streak.succeeded(logger: logger)
                } catch {
                    if Task.isCancelled { break }  // the instance is stopping: not an outage to report
                    pulse.failing("leases", "\(error)")
                    streak.failed(error, first: "renewing \(current.count) leases failed", logger: logger)
                }
            }
            if current.isEmpty {  // nothing held (they lapsed): nothing to fail
                pulse.working("leases")
                streak.succeeded(logger: logger, ending: "stops: none held any more")
            }
            pulse.renewed()
            // Not `nap`, which ends at once during a graceful shutdown: the leases are renewed at their pace
            // while the partitions stop (a last checkpoint each), not back to back; the owner's cancel ends it.
            try? await Task.sleep(for: ttl / 4)
        }
    }
}

extension Duration {
    /// Whole nanoseconds (a lease's ttl; never negative here).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
