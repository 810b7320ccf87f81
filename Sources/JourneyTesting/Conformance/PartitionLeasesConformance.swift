public import JourneyCore

/// The contract every lease keeper keeps (``PartitionLeases``, cluster mode): one owner per partition
/// while its lease is live; renewals only by the owner under its current token; release; expiry by the
/// keeper's clock after the time to live, then takeover; tokens of a partition strictly increasing over
/// every grant; one winner when several instances race for a partition.
///
/// `leases` must hold no lease on `partitions` (four of them) yet. Lease times are long (two minutes)
/// wherever a lease must still be live when the next call comes, and short (50 ms) only where it must
/// expire — so the outcome never depends on how loaded the machine is; expiry is awaited with a
/// generous `eventually`, or a pause well past the time to live.
public enum PartitionLeasesConformance {
    public static func check(_ leases: any PartitionLeases, partitions: [Int] = [0, 1, 2, 3]) async throws {
        precondition(partitions.count >= 4, "the kit needs four partitions")
        let (p, q, r, s) = (partitions[0], partitions[1], partitions[2], partitions[3])
        let long = Duration.seconds(120)
        let short = Duration.milliseconds(50)

        // One owner at a time; renewal by the owner under its token only.
        guard let t1 = try await offThread({ try leases.acquire(partition: p, owner: "a", ttl: long) }) else {
            throw ConformanceFailure("a partition nobody holds is granted")
        }
        try require(try await offThread { try leases.acquire(partition: p, owner: "b", ttl: long) } == nil,
            "a partition leased to another owner is not granted while the lease is live")
        try require(try await offThread { try leases.renew(partition: p, owner: "a", token: t1, ttl: long) }, "the owner renews its lease")
        try require(!(try await offThread { try leases.renew(partition: p, owner: "b", token: t1, ttl: long) }),
            "another owner cannot renew a lease, even with its token")

        // Asking again fences off the earlier grant.
        guard let t2 = try await offThread({ try leases.acquire(partition: p, owner: "a", ttl: long) }) else {
            throw ConformanceFailure("the owner of a live lease is granted it again when it asks")
        }
        try require(t2 > t1, "a new grant has a higher token (\(t1), then \(t2))")
        try require(!(try await offThread { try leases.renew(partition: p, owner: "a", token: t1, ttl: long) }),
            "a lease cannot be renewed under a token that was superseded")
        try require(try await offThread { try leases.renew(partition: p, owner: "a", token: t2, ttl: long) }, "the new token renews")

        // Release: another owner takes it at once; the released token is dead; releasing again does nothing.
        try await offThread { try leases.release(partition: p, owner: "a", token: t2) }
        guard let t3 = try await offThread({ try leases.acquire(partition: p, owner: "b", ttl: long) }) else {
            throw ConformanceFailure("a released partition is granted to another owner at once")
        }
        try require(t3 > t2, "a grant after a release has a higher token (\(t2), then \(t3))")
        try require(!(try await offThread { try leases.renew(partition: p, owner: "a", token: t2, ttl: long) }),
            "a released lease cannot be renewed")
        try await offThread { try leases.release(partition: p, owner: "a", token: t2) }
        try require(try await offThread { try leases.acquire(partition: p, owner: "c", ttl: long) } == nil,
            "releasing a lease no longer held leaves the current owner's lease alone")

        // Expiry, then takeover.
        guard let u1 = try await offThread({ try leases.acquire(partition: q, owner: "a", ttl: short) }) else {
            throw ConformanceFailure("a second partition is granted independently of the first")
        }
        let taken = Box()
        let tookOver = try await eventually(interval: .milliseconds(25)) {
            taken.token = try await offThread { try leases.acquire(partition: q, owner: "b", ttl: long) }
            return taken.token != nil
        }
        guard tookOver, let u2 = taken.token else { throw ConformanceFailure("an expired lease is granted to another owner") }
        try require(u2 > u1, "a takeover has a higher token (\(u1), then \(u2))")
        try require(!(try await offThread { try leases.renew(partition: q, owner: "a", token: u1, ttl: long) }),
            "the previous owner cannot renew after a takeover")

        // An expired lease cannot be renewed, even when nobody took it.
        guard let v1 = try await offThread({ try leases.acquire(partition: r, owner: "a", ttl: short) }) else {
            throw ConformanceFailure("a third partition is granted")
        }
        // The grant was made before `acquire` returned, so once 50 ms have passed here they have passed on
        // the keeper's clock too (a renewal in between would have extended it: none is made).
        await pause(.milliseconds(300))
        try require(!(try await offThread { try leases.renew(partition: r, owner: "a", token: v1, ttl: long) }),
            "a lease past its time to live cannot be renewed")
        let v2 = try await offThread { try leases.acquire(partition: r, owner: "a", ttl: long) }
        try require(v2.map { $0 > v1 } == true, "the same owner gets an expired partition back under a higher token")

        // A race: one winner.
        let winners = try await withThrowingTaskGroup(of: FencingToken?.self) { group in
            for owner in ["w1", "w2", "w3", "w4"] {
                group.addTask { try await offThread { try leases.acquire(partition: s, owner: owner, ttl: long) } }
            }
            var tokens: [FencingToken] = []
            for try await token in group { if let token { tokens.append(token) } }
            return tokens
        }
        try require(winners.count == 1, "one of several owners racing for a partition wins (\(winners.count) did)")
    }

    private final class Box: @unchecked Sendable {
        var token: FencingToken?
    }
}
