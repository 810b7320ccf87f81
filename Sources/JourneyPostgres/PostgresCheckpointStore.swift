public import JourneyCore
import NIOCore
import PostgresNIO

/// Cluster mode's state store (DESIGN §6, issue 13): the checkpoints of every partition, the outbox and
/// the archive of rule sets and journey versions in one PostgreSQL database that all instances share,
/// plus the partition leases (``PostgresPartitionLeases``) in the same database, so the fencing check and
/// the checkpoint it guards are one transaction.
///
/// Why PostgresNIO: it is the maintained PostgreSQL client of the Swift server ecosystem, pure Swift on
/// SwiftNIO (no libpq to install or link), with binary-format binds (arrays, `bytea`) that let a checkpoint
/// write each table in one statement whatever the number of rows (`unnest` of arrays). JourneyPostgres is
/// the only module that sees it.
///
/// Threads: the protocols are synchronous and called from threads that may block (the checkpointer,
/// commands, tests' `offThread`). Each call borrows a connection of its own from ``PostgresPool``, whose
/// one event loop thread (owned by the store, stopped by ``close()``) does the I/O while the caller
/// waits; calls from a SwiftNIO event loop thread are refused with a ``StoreError`` rather than blocking
/// it. Several threads may call at once.
///
/// Every ``write(_:)`` is one transaction: the partition's lease row is read `FOR KEY SHARE` first, so a
/// checkpoint whose ``Checkpoint/fence`` is not the partition's current token is refused
/// (``StoreError/fenced(partition:presented:current:)``) and a takeover — a new token, a key update since
/// schema v7 — waits for a write in progress, while the owner's renewal of the lease does not.
/// Tables and their history: ``PostgresSchema``.
public final class PostgresCheckpointStore: CheckpointStore, JourneyArchive, OutboxReader, Sendable {
    public let configuration: PostgresStoreConfiguration
    let pool: PostgresPool

    /// Connects and brings the schema up to date (creating it in an empty database).
    public init(_ configuration: PostgresStoreConfiguration) throws(StoreError) {
        self.configuration = configuration
        pool = PostgresPool(configuration)
        do {
            try PostgresSchema.migrate(pool)
        } catch {
            pool.close()
            throw error
        }
    }

    /// Closes the connections and stops the store's event loop thread; later calls fail.
    public func close() { pool.close() }

    // MARK: - CheckpointStore

    public func write(_ checkpoint: Checkpoint) throws(StoreError) {
        let p = checkpoint.partition
        try pool.transaction("write the checkpoint of partition \(p)") { s in
            let lease = try s.run("SELECT token FROM partition_leases WHERE partition = \(p) FOR KEY SHARE")
            let current = try lease.first.map { FencingToken(try $0.decode(Int64.self)) }
            if current != checkpoint.fence {
                throw StoreError.fenced(partition: p, presented: checkpoint.fence, current: current)
            }
            try writeUsers(checkpoint, s)
            try writeTimersAndDedup(checkpoint, s)
            try writeOutbox(checkpoint, s)
            try writePositions(checkpoint, s)
            if !checkpoint.channels.isEmpty {
                try s.run("DELETE FROM channel_state WHERE partition = \(p)")
                let names = Array(checkpoint.channels.keys)
                let states = names.map { ByteBuffer(bytes: checkpoint.channels[$0]!) }
                try s.run(
                    """
                    INSERT INTO channel_state (partition, name, state)
                    SELECT \(p), name, state FROM unnest(\(names)::text[], \(states)::bytea[]) AS c(name, state)
                    """)
            }
            if !checkpoint.figures.isEmpty {
                try s.run("DELETE FROM partition_figures WHERE partition = \(p)")
                let names = Array(checkpoint.figures.keys)
                let values = names.map { checkpoint.figures[$0]! }
                try s.run(
                    """
                    INSERT INTO partition_figures (partition, name, value)
                    SELECT \(p), name, value FROM unnest(\(names)::text[], \(values)::bigint[]) AS f(name, value)
                    """)
            }
            try s.run(
                """
                INSERT INTO checkpoints (partition, log_sequence, rules_version, timer_seq, clock, taken_at, fence)
                VALUES (\(p), \(Int64(bitPattern: checkpoint.logSequence)), \(checkpoint.rulesVersion),
                        \(Int64(bitPattern: checkpoint.timerSeq)), \(checkpoint.clock.milliseconds), \(checkpoint.takenAt.milliseconds),
                        \(checkpoint.fence?.value))
                ON CONFLICT (partition) DO UPDATE SET log_sequence = EXCLUDED.log_sequence, rules_version = EXCLUDED.rules_version,
                    timer_seq = EXCLUDED.timer_seq, clock = EXCLUDED.clock, taken_at = EXCLUDED.taken_at, fence = EXCLUDED.fence
                """)
            // The fencing history: which token committed which stream position (PostgresSchema v3).
            try s.run(
                """
                INSERT INTO checkpoint_commits (partition, token, log_sequence)
                VALUES (\(p), \(checkpoint.fence?.value), \(Int64(bitPattern: checkpoint.logSequence)))
                """)
            try s.run(
                """
                DELETE FROM checkpoint_commits
                WHERE partition = \(p) AND committed_at < clock_timestamp() - \(configuration.historyRetention.milliseconds) * interval '1 millisecond'
                """)
        }
    }

    private func writeUsers(_ checkpoint: Checkpoint, _ s: PostgresSession) throws {
        let p = checkpoint.partition
        var users: [String: UserState] = [:]
        for user in checkpoint.users { users[user.id] = user }  // the last of a user wins, as in one pass of upserts
        if !users.isEmpty {
            let ids = Array(users.keys)
            let states = ids.map { ByteBuffer(bytes: users[$0]!.encoded()) }
            try s.run(
                """
                INSERT INTO user_state (partition, id, state)
                SELECT \(p), id, state FROM unnest(\(ids)::text[], \(states)::bytea[]) AS u(id, state)
                ON CONFLICT (partition, id) DO UPDATE SET state = EXCLUDED.state
                """)
        }
        if !checkpoint.removedUsers.isEmpty {
            try s.run("DELETE FROM user_state WHERE partition = \(p) AND id = ANY(\(checkpoint.removedUsers)::text[])")
        }
    }

    private func writeTimersAndDedup(_ checkpoint: Checkpoint, _ s: PostgresSession) throws {
        let p = checkpoint.partition
        var timers: [UInt64: TimerEntry] = [:]
        for timer in checkpoint.timersArmed { timers[timer.seq] = timer }
        if !timers.isEmpty {
            let seqs = Array(timers.keys)
            let entries = seqs.map { seq in
                var w = ByteWriter(capacity: 48)
                timers[seq]!.encode(into: &w)
                return ByteBuffer(bytes: w.bytes)
            }
            try s.run(
                """
                INSERT INTO timer_state (partition, seq, entry)
                SELECT \(p), seq, entry FROM unnest(\(seqs.map { Int64(bitPattern: $0) })::bigint[], \(entries)::bytea[]) AS t(seq, entry)
                ON CONFLICT (partition, seq) DO UPDATE SET entry = EXCLUDED.entry
                """)
        }
        if !checkpoint.timersDone.isEmpty {
            let done = checkpoint.timersDone.map { Int64(bitPattern: $0) }
            try s.run("DELETE FROM timer_state WHERE partition = \(p) AND seq = ANY(\(done)::bigint[])")
        }
        var ids: [DedupWindow.Key: Timestamp] = [:]
        for entry in checkpoint.dedupAdded { ids[entry.key] = entry.at }
        if !ids.isEmpty {
            let keys = Array(ids.keys)
            try s.run(
                """
                INSERT INTO dedup_state (partition, high, low, at)
                SELECT \(p), high, low, at FROM unnest(\(keys.map { Int64(bitPattern: $0.high) })::bigint[],
                    \(keys.map { Int64(bitPattern: $0.low) })::bigint[], \(keys.map { ids[$0]!.milliseconds })::bigint[]) AS d(high, low, at)
                ON CONFLICT (partition, high, low) DO UPDATE SET at = EXCLUDED.at
                """)
        }
        try s.run("DELETE FROM dedup_state WHERE partition = \(p) AND at < \(checkpoint.dedupHorizon.milliseconds)")
    }

    private func writeOutbox(_ checkpoint: Checkpoint, _ s: PostgresSession) throws {
        let p = checkpoint.partition
        if !checkpoint.forgottenUsers.isEmpty {
            try s.run("DELETE FROM outbox_entries WHERE user_id = ANY(\(checkpoint.forgottenUsers)::text[])")
            try s.run("DELETE FROM user_state WHERE partition = \(p) AND id = ANY(\(checkpoint.forgottenUsers)::text[])")
        }
        if !checkpoint.tombstones.isEmpty {
            try s.run(
                """
                INSERT INTO tombstones (hash, partition) SELECT hash, \(p) FROM unnest(\(checkpoint.tombstones)::text[]) AS t(hash)
                ON CONFLICT (hash) DO UPDATE SET partition = EXCLUDED.partition
                """)
        }
        var entries: [String: OutboxEntry] = [:]
        for entry in checkpoint.outbox { entries[entry.touch.id] = entry }
        guard !entries.isEmpty else { return }
        let touches = Array(entries.values)
        let blobs = touches.map { entry in
            var w = ByteWriter(capacity: 512)
            entry.encode(into: &w)
            return ByteBuffer(bytes: w.bytes)
        }
        try s.run(
            """
            INSERT INTO outbox_entries (touch_id, partition, user_id, state, due, entry)
            SELECT touch_id, \(p), user_id, state, due, entry
            FROM unnest(\(touches.map(\.touch.id))::text[], \(touches.map(\.touch.user))::text[], \(touches.map(\.state.rawValue))::text[],
                        \(touches.map(\.touch.at.milliseconds))::bigint[], \(blobs)::bytea[]) AS o(touch_id, user_id, state, due, entry)
            ON CONFLICT (touch_id) DO UPDATE SET partition = EXCLUDED.partition, user_id = EXCLUDED.user_id, state = EXCLUDED.state,
                due = EXCLUDED.due, entry = EXCLUDED.entry
            """)
    }

    private func writePositions(_ checkpoint: Checkpoint, _ s: PostgresSession) throws {
        try Self.move(checkpoint.positions, in: "input_positions", keyedBy: "partition", checkpoint.partition, s)
    }

    /// Sets and removes the input positions one owner holds in `table` — a partition's (`input_positions`)
    /// or an instance's (`instance_positions`), keyed by (`column`, source) —, an upsert and a delete.
    static func move(
        _ changes: [String: Int64?], in table: String, keyedBy column: String, _ owner: some PostgresEncodable & Sendable, _ s: PostgresSession
    ) throws {
        let set = changes.compactMap { source, position in position.map { (source, $0) } }
        let dropped = changes.filter { $0.value == nil }.map(\.key)
        if !set.isEmpty {
            try s.run(
                """
                INSERT INTO \(unescaped: table) (\(unescaped: column), source, position)
                SELECT \(owner), source, position FROM unnest(\(set.map(\.0))::text[], \(set.map(\.1))::bigint[]) AS i(source, position)
                ON CONFLICT (\(unescaped: column), source) DO UPDATE SET position = EXCLUDED.position
                """)
        }
        if !dropped.isEmpty {
            try s.run("DELETE FROM \(unescaped: table) WHERE \(unescaped: column) = \(owner) AND source = ANY(\(dropped)::text[])")
        }
    }

    public func restore(partition p: Int) throws(StoreError) -> RestoredPartition {
        try pool.transaction("restore partition \(p)", begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { s in
            var restored = RestoredPartition()
            for row in try s.run("SELECT log_sequence, rules_version, timer_seq, clock, fence FROM checkpoints WHERE partition = \(p)") {
                let (sequence, rules, timerSeq, clock, fence) = try row.decode((Int64, String, Int64, Int64, Int64?).self)
                restored.logSequence = UInt64(bitPattern: sequence)
                restored.rulesVersion = rules
                restored.timerSeq = UInt64(bitPattern: timerSeq)
                restored.clock = Timestamp(milliseconds: clock)
                restored.fence = fence.map(FencingToken.init)
            }
            for row in try s.run("SELECT entry FROM timer_state WHERE partition = \(p) ORDER BY seq") {
                restored.timers.append(try Self.decode(row, "timer") { r throws(BinaryDecodingError) in try TimerEntry(from: &r) })
            }
            for row in try s.run("SELECT high, low, at FROM dedup_state WHERE partition = \(p) ORDER BY at") {
                let (high, low, at) = try row.decode((Int64, Int64, Int64).self)
                restored.dedup.append(
                    .init(key: .init(high: UInt64(bitPattern: high), low: UInt64(bitPattern: low)), at: Timestamp(milliseconds: at)))
            }
            let outbox = try s.run(
                """
                SELECT entry FROM outbox_entries WHERE partition = \(p) AND state IN ('pending', 'attempting', 'retry')
                ORDER BY due, touch_id
                """)
            for row in outbox {
                restored.outbox.append(try Self.decode(row, "outbox entry") { r throws(BinaryDecodingError) in try OutboxEntry(from: &r) })
            }
            restored.hasUsers = try s.run("SELECT EXISTS (SELECT 1 FROM user_state WHERE partition = \(p))").first!.decode(Bool.self)
            for row in try s.run("SELECT name, value FROM partition_figures WHERE partition = \(p)") {
                let (name, value) = try row.decode((String, Int64).self)
                restored.figures[name] = value
            }
            for row in try s.run("SELECT name, state FROM channel_state WHERE partition = \(p)") {
                let (name, state) = try row.decode((String, ByteBuffer).self)
                restored.channels[name] = Array(state.readableBytesView)
            }
            for row in try s.run("SELECT hash FROM tombstones WHERE partition = \(p)") { restored.tombstones.insert(try row.decode(String.self)) }
            for row in try s.run("SELECT source, position FROM input_positions WHERE partition = \(p)") {
                let (source, position) = try row.decode((String, Int64).self)
                restored.positions[source] = position
            }
            return restored
        }
    }

    /// A user's state in whichever partition holds it (the lowest-numbered, should two). Processors read
    /// through ``user(_:partition:)``; this answers tools that ask about an id without a partition.
    public func user(_ id: String) throws(StoreError) -> UserState? {
        try readUser(id, "SELECT state FROM user_state WHERE id = \(id) ORDER BY partition LIMIT 1")
    }

    /// `partition`'s state of a user: users are kept per partition (`user_state` is keyed by partition and
    /// id), so an id another partition also holds — an identify or alias naming a user whose events go to
    /// another partition — is never read or overwritten across partitions.
    public func user(_ id: String, partition: Int) throws(StoreError) -> UserState? {
        try readUser(id, "SELECT state FROM user_state WHERE partition = \(partition) AND id = \(id)")
    }

    private func readUser(_ id: String, _ query: PostgresQuery) throws(StoreError) -> UserState? {
        try pool.withConnection("read a user") { s in
            guard let row = try s.run(query).first else { return nil }
            let bytes = Array(try row.decode(ByteBuffer.self).readableBytesView)
            do {
                return try UserState(id: id, encoded: bytes)
            } catch {
                throw StoreError.corrupt("user state row (\(id.count) bytes of id): \(error)")
            }
        }
    }

    /// Those of `ids` checkpointed (in any partition: see ``user(_:)``), in one query.
    public func users(_ ids: [String]) throws(StoreError) -> [String: UserState] {
        try readUsers(ids, "SELECT DISTINCT ON (id) id, state FROM user_state WHERE id = ANY(\(ids)::text[]) ORDER BY id, partition")
    }

    /// Those of `ids` that `partition` holds, in one query (one round trip instead of one per user: what a
    /// takeover replaying a partition's stream asks for each batch).
    public func users(_ ids: [String], partition: Int) throws(StoreError) -> [String: UserState] {
        try readUsers(ids, "SELECT id, state FROM user_state WHERE partition = \(partition) AND id = ANY(\(ids)::text[])")
    }

    private func readUsers(_ ids: [String], _ query: PostgresQuery) throws(StoreError) -> [String: UserState] {
        guard !ids.isEmpty else { return [:] }
        return try pool.withConnection("read users") { s in
            var found: [String: UserState] = [:]
            for row in try s.run(query) {
                let (id, buffer) = try row.decode((String, ByteBuffer).self)
                do {
                    found[id] = try UserState(id: id, encoded: Array(buffer.readableBytesView))
                } catch {
                    throw StoreError.corrupt("user state row (\(id.count) bytes of id): \(error)")
                }
            }
            return found
        }
    }

    /// The record in `row`'s first column (`bytea`), decoded by `body`.
    static func decode<T>(_ row: PostgresRow, _ what: String, _ body: (inout ByteReader) throws(BinaryDecodingError) -> T) throws -> T {
        let buffer = try row.decode(ByteBuffer.self)
        return try buffer.withUnsafeReadableBytes { raw in try StoreError.decoding(raw, what, body) }
    }
}
