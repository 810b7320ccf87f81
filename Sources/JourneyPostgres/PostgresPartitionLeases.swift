public import JourneyCore
import PostgresNIO

/// Partition leases in the cluster's state database (``PartitionLeases``): a row per partition in
/// `partition_leases` with its owner, fencing token and expiry, each operation one statement.
///
/// Why PostgreSQL rather than JetStream's key-value store: the lease must be checked in the same
/// transaction as the checkpoint it guards (``PostgresCheckpointStore/write(_:)`` reads the row
/// `FOR KEY SHARE`: a grant, which changes the token, waits for it; a renewal, which changes the expiry
/// only, does not — see ``PostgresSchema`` v7); in another system the check and the write could not be atomic, and a stale owner could
/// commit between them.
///
/// Expiry is judged by the database's clock only (`now()` in the statements): instances' clocks never
/// take part. A grant is an upsert that raises the token — `token + 1` — so tokens of a partition only
/// grow, across expiries, releases and restarts; every grant is also recorded in `lease_grants`.
/// It shares the store's connections and thread rules (call it from threads that may block) and works
/// while the store is open.
public final class PostgresPartitionLeases: PartitionLeases, Sendable {
    let pool: PostgresPool
    /// How long each operation may wait for the database (nil: as long as it takes).
    let answerWithin: Duration?

    /// Leases kept in `store`'s database (its schema has the lease tables). `answerWithin` bounds each
    /// operation: an owner must go on — see its leases lapse, stop their partitions, try again — when
    /// the database stops answering rather than wait for TCP to give up.
    public init(_ store: PostgresCheckpointStore, answerWithin: Duration? = nil) {
        pool = store.pool
        self.answerWithin = answerWithin
    }

    public func acquire(partition: Int, owner: String, ttl: Duration) throws(StoreError) -> FencingToken? {
        try pool.transaction("acquire the lease of partition \(partition)", within: answerWithin) { s in
            let granted = try s.run(
                """
                INSERT INTO partition_leases AS l (partition, owner, token, expires_at)
                VALUES (\(partition), \(owner), 1, now() + \(ttl.milliseconds) * interval '1 millisecond')
                ON CONFLICT (partition) DO UPDATE SET owner = EXCLUDED.owner, token = l.token + 1, expires_at = EXCLUDED.expires_at
                WHERE l.expires_at <= now() OR l.owner = EXCLUDED.owner
                RETURNING token
                """)
            guard let row = granted.first else { return nil }
            let token = try row.decode(Int64.self)
            try s.run("INSERT INTO lease_grants (partition, token, owner) VALUES (\(partition), \(token), \(owner))")
            try forgetOldGrants(of: [Int32(partition)], s)
            return FencingToken(token)
        }
    }

    public func renew(partition: Int, owner: String, token: FencingToken, ttl: Duration) throws(StoreError) -> Bool {
        try pool.withConnection("renew the lease of partition \(partition)", within: answerWithin) { s in
            let renewed = try s.run(
                """
                UPDATE partition_leases SET expires_at = now() + \(ttl.milliseconds) * interval '1 millisecond'
                WHERE partition = \(partition) AND owner = \(owner) AND token = \(token.value) AND expires_at > now()
                RETURNING token
                """)
            return renewed.first != nil
        }
    }

    /// Renews several of `owner`'s leases in one statement (one round trip whatever their number);
    /// returns the partitions renewed — a lease missing from the answer was lost (taken over, expired).
    public func renew(_ held: [Int: FencingToken], owner: String, ttl: Duration) throws(StoreError) -> Set<Int> {
        let partitions = held.keys.sorted()
        let tokens = partitions.map { held[$0]!.value }
        let ids = partitions.map { Int32($0) }
        return try pool.withConnection("renew the leases of \(partitions.count) partitions", within: answerWithin) { s in
            var renewed: Set<Int> = []
            for row in try s.run(
                """
                UPDATE partition_leases AS l SET expires_at = now() + \(ttl.milliseconds) * interval '1 millisecond'
                FROM unnest(\(ids)::integer[], \(tokens)::bigint[]) AS h(partition, token)
                WHERE l.partition = h.partition AND l.token = h.token AND l.owner = \(owner) AND l.expires_at > now()
                RETURNING l.partition
                """)
            {
                renewed.insert(Int(try row.decode(Int32.self)))
            }
            return renewed
        }
    }

    public func release(partition: Int, owner: String, token: FencingToken) throws(StoreError) {
        try pool.withConnection("release the lease of partition \(partition)", within: answerWithin) { s in
            try s.run(
                """
                UPDATE partition_leases SET expires_at = '-infinity'
                WHERE partition = \(partition) AND owner = \(owner) AND token = \(token.value)
                """)
        }
    }

    /// Records that `owner` is alive for `ttl` more (by the database's clock) and returns the names of
    /// every instance alive now, `owner` included: the instances the partitions are spread over.
    ///
    /// Left out: an instance every lease of which has expired since its last heartbeat (its latest lease
    /// expiry is later than that heartbeat was written). A live instance renews all its leases in one
    /// statement and stops every partition whose renewal lapsed, so such an instance processes nothing:
    /// it is dead, and the others' share grows as soon as its leases expire, not a heartbeat later. An
    /// instance restarted under the same name heartbeats after its old leases expired, so it counts again.
    public func heartbeat(owner: String, ttl: Duration) throws(StoreError) -> Set<String> {
        try pool.withConnection("record the heartbeat of \(owner)", within: answerWithin) { s in
            try s.run(
                """
                INSERT INTO cluster_instances (owner, expires_at) VALUES (\(owner), now() + \(ttl.milliseconds) * interval '1 millisecond')
                ON CONFLICT (owner) DO UPDATE SET expires_at = EXCLUDED.expires_at
                """)
            var live: Set<String> = []
            for row in try s.run(
                """
                SELECT i.owner FROM cluster_instances AS i
                WHERE i.expires_at > now() AND (i.owner = \(owner) OR NOT EXISTS (
                    SELECT 1 FROM partition_leases AS l WHERE l.owner = i.owner
                    HAVING count(*) > 0 AND bool_and(l.expires_at <= now())
                        AND max(l.expires_at) > i.expires_at - \(ttl.milliseconds) * interval '1 millisecond'))
                """)
            {
                live.insert(try row.decode(String.self))
            }
            return live
        }
    }

    /// Says `owner` is gone (a clean shutdown): the others need not wait for its heartbeat to expire.
    public func leave(owner: String) throws(StoreError) {
        try pool.withConnection("remove the heartbeat of \(owner)", within: answerWithin) { s in
            try s.run("DELETE FROM cluster_instances WHERE owner = \(owner)")
        }
    }

    /// Every partition's current lease: owner, token, whether it is live by the database's clock, and the
    /// milliseconds left until it expires (negative once it has).
    public func leases() throws(StoreError) -> [Int: (owner: String, token: FencingToken, live: Bool, remaining: Int)] {
        try pool.withConnection("read the leases", within: answerWithin) { s in
            var result: [Int: (owner: String, token: FencingToken, live: Bool, remaining: Int)] = [:]
            for row in try s.run(
                """
                SELECT partition, owner, token, expires_at > now(),
                    CASE WHEN expires_at = '-infinity' THEN -1 ELSE (extract(epoch FROM expires_at - now()) * 1000)::bigint END
                FROM partition_leases
                """)
            {
                let (partition, owner, token, live, remaining) = try row.decode((Int, String, Int64, Bool, Int64).self)
                result[partition] = (owner, FencingToken(token), live, Int(remaining))
            }
            return result
        }
    }

    /// Leases every partition of `partitions` that is free (never leased, released, expired) or already
    /// `owner`'s to `owner` for `ttl`, in one transaction, and returns the grants (a partition another
    /// owner holds is left out). As ``acquire(partition:owner:ttl:)`` for each, in partition order (so
    /// two instances claiming overlapping sets lock the rows in the same order).
    public func acquire(partitions: [Int], owner: String, ttl: Duration) throws(StoreError) -> [Int: FencingToken] {
        let ids = partitions.sorted().map { Int32($0) }
        guard !ids.isEmpty else { return [:] }
        return try pool.transaction("acquire the leases of \(ids.count) partitions", within: answerWithin) { s in
            var granted: [Int: FencingToken] = [:]
            for row in try s.run(
                """
                INSERT INTO partition_leases AS l (partition, owner, token, expires_at)
                SELECT p, \(owner), 1, now() + \(ttl.milliseconds) * interval '1 millisecond' FROM unnest(\(ids)::integer[]) AS p ORDER BY p
                ON CONFLICT (partition) DO UPDATE SET owner = EXCLUDED.owner, token = l.token + 1, expires_at = EXCLUDED.expires_at
                WHERE l.expires_at <= now() OR l.owner = EXCLUDED.owner
                RETURNING partition, token
                """)
            {
                let (partition, token) = try row.decode((Int32, Int64).self)
                granted[Int(partition)] = FencingToken(token)
            }
            guard !granted.isEmpty else { return [:] }
            let keys = granted.keys.sorted()
            let (grantedIDs, tokens) = (keys.map { Int32($0) }, keys.map { granted[$0]!.value })
            try s.run(
                """
                INSERT INTO lease_grants (partition, token, owner)
                SELECT g.partition, g.token, \(owner) FROM unnest(\(grantedIDs)::integer[], \(tokens)::bigint[]) AS g(partition, token)
                """)
            try forgetOldGrants(of: grantedIDs, s)
            return granted
        }
    }

    /// Drops the grants of `partitions` older than the history is kept (``PostgresStoreConfiguration/historyRetention``).
    private func forgetOldGrants(of partitions: [Int32], _ s: PostgresSession) throws {
        try s.run(
            """
            DELETE FROM lease_grants
            WHERE partition = ANY(\(partitions)::integer[])
              AND granted_at < clock_timestamp() - \(pool.configuration.historyRetention.milliseconds) * interval '1 millisecond'
            """)
    }
}
