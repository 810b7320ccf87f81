import JourneyCore
import PostgresNIO

/// The tables of the cluster's state database and their history, applied in order when a store opens.
/// Append-only: a shipped migration is never edited; changes come as new ones.
///
/// `journeyd_migrations(version, name, applied_at)` records what was applied. The missing migrations run
/// in one transaction (PostgreSQL's DDL is transactional: all of them or none) after a transaction-scoped
/// advisory lock, so instances that open the database at the same moment apply each once.
///
/// - v1: the checkpoint tables, as in the embedded SQLite store (`SQLiteSchema` v4–v5) with the
///   partition in every key that is per partition: `checkpoints(partition, log_sequence, …)` — the
///   partition's committed stream sequence —, `user_state`, `timer_state(partition, seq)`,
///   `dedup_state(partition, high, low)`, `outbox_entries`, `input_positions`, `channel_state`,
///   `partition_figures`, `tombstones`, and the archive (`rule_sets`, `journey_versions`). Records are
///   the binary forms of JourneyCore's StateCoding, as `bytea`; times are milliseconds since 1970.
/// - v3: `checkpoint_commits(partition, token, log_sequence, committed_at)`, a row per checkpoint written
///   (in its transaction: the fencing history a test checks), and `cluster_instances(owner, expires_at)`,
///   the instances' heartbeats (how many share the partitions).
/// - v2: `partition_leases(partition, owner, token, expires_at)`, one row per partition ever leased
///   (tokens only grow, so rows are never deleted), and `lease_grants`, the history of grants (which
///   owner held which token from when), for operators and the cluster tests' ownership checks.
/// - v4: `instance_positions(instance, source, position)`: where each instance's spool and tail resume
///   (``InputPositionStore``) — an instance's own files, not a partition's (`input_positions` stays the
///   embedded layout's, unused in cluster mode).
/// - v5: `user_state` keyed by `(partition, id)` (was `id`): a partition reads and writes its own users
///   only, so an identify or alias naming an id whose events go to another partition neither reads that
///   partition's user nor overwrites it at the next checkpoint.
/// - v6: an index on `checkpoint_commits(partition, committed_at)`: the fencing history is kept for
///   ``PostgresStoreConfiguration/historyRetention`` only — a partition's checkpoint deletes its older
///   rows, a grant its partition's older `lease_grants` — where it grew by a row per checkpoint forever;
///   `checkpoints.fence`, the lease token a checkpoint was written under (``RestoredPartition/fence``).
/// - v7: a unique index on `partition_leases(partition, token)`. It makes `token` a key column, and
///   PostgreSQL's row locks tell key updates from others: a checkpoint reads its lease row `FOR KEY SHARE`,
///   which a grant (it raises the token: a key update) waits for, and a renewal (it moves `expires_at`
///   only) does not. Before it the checkpoint read the row `FOR SHARE`, which every update waits for: a
///   checkpoint that took longer than the ttl held up its owner's renewal of *all* its leases (one
///   statement renews them), and they lapsed together.
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// An arbitrary key for `pg_advisory_xact_lock`: journeyd's migrations, not another program's.
    static let lockKey: Int64 = 0x6A6F_7572_6E65_7964  // "journeyd"

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "checkpoint tables and the archive",
            statements: [
                """
                CREATE TABLE checkpoints (
                    partition integer PRIMARY KEY, log_sequence bigint NOT NULL, rules_version text NOT NULL,
                    timer_seq bigint NOT NULL, clock bigint NOT NULL, taken_at bigint NOT NULL)
                """,
                "CREATE TABLE user_state (id text PRIMARY KEY, partition integer NOT NULL, state bytea NOT NULL)",
                "CREATE INDEX user_state_partition ON user_state (partition)",
                """
                CREATE TABLE timer_state (
                    partition integer NOT NULL, seq bigint NOT NULL, entry bytea NOT NULL, PRIMARY KEY (partition, seq))
                """,
                """
                CREATE TABLE dedup_state (
                    partition integer NOT NULL, high bigint NOT NULL, low bigint NOT NULL, at bigint NOT NULL,
                    PRIMARY KEY (partition, high, low))
                """,
                "CREATE INDEX dedup_state_at ON dedup_state (partition, at)",
                """
                CREATE TABLE outbox_entries (
                    touch_id text PRIMARY KEY, partition integer NOT NULL, user_id text NOT NULL, state text NOT NULL,
                    due bigint NOT NULL, entry bytea NOT NULL)
                """,
                "CREATE INDEX outbox_entries_user ON outbox_entries (user_id)",
                "CREATE INDEX outbox_entries_state ON outbox_entries (state, due, touch_id)",
                "CREATE INDEX outbox_entries_partition ON outbox_entries (partition, state, due)",
                """
                CREATE TABLE input_positions (
                    partition integer NOT NULL, source text NOT NULL, position bigint NOT NULL, PRIMARY KEY (partition, source))
                """,
                """
                CREATE TABLE channel_state (
                    partition integer NOT NULL, name text NOT NULL, state bytea NOT NULL, PRIMARY KEY (partition, name))
                """,
                """
                CREATE TABLE partition_figures (
                    partition integer NOT NULL, name text NOT NULL, value bigint NOT NULL, PRIMARY KEY (partition, name))
                """,
                "CREATE TABLE tombstones (hash text PRIMARY KEY, partition integer NOT NULL)",
                "CREATE TABLE rule_sets (version text PRIMARY KEY, files bytea NOT NULL, kept_at bigint NOT NULL)",
                """
                CREATE TABLE journey_versions (
                    version text PRIMARY KEY, journey text NOT NULL, file text NOT NULL, source text NOT NULL,
                    loaded_at bigint NOT NULL)
                """,
            ]),
        Migration(
            version: 2, name: "partition leases with fencing tokens",
            statements: [
                """
                CREATE TABLE partition_leases (
                    partition integer PRIMARY KEY, owner text NOT NULL, token bigint NOT NULL CHECK (token > 0),
                    expires_at timestamptz NOT NULL)
                """,
                """
                CREATE TABLE lease_grants (
                    partition integer NOT NULL, token bigint NOT NULL, owner text NOT NULL,
                    granted_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (partition, token))
                """,
            ]),
        Migration(
            version: 3, name: "commit history and instance heartbeats",
            statements: [
                """
                CREATE TABLE checkpoint_commits (
                    partition integer NOT NULL, token bigint, log_sequence bigint NOT NULL,
                    committed_at timestamptz NOT NULL DEFAULT clock_timestamp())
                """,
                """
                CREATE TABLE cluster_instances (owner text PRIMARY KEY, expires_at timestamptz NOT NULL)
                """,
            ]),
        Migration(
            version: 4, name: "input positions per instance",
            statements: [
                """
                CREATE TABLE instance_positions (
                    instance text NOT NULL, source text NOT NULL, position bigint NOT NULL, PRIMARY KEY (instance, source))
                """,
            ]),
        Migration(
            version: 5, name: "users kept per partition",
            statements: [
                "ALTER TABLE user_state DROP CONSTRAINT user_state_pkey",
                "ALTER TABLE user_state ADD PRIMARY KEY (partition, id)",
                "DROP INDEX user_state_partition",
            ]),
        Migration(
            version: 6, name: "fencing history kept for a bounded time; the fence of each checkpoint",
            statements: [
                "CREATE INDEX checkpoint_commits_partition_time ON checkpoint_commits (partition, committed_at)",
                "ALTER TABLE checkpoints ADD COLUMN fence bigint",
            ]),
        Migration(
            version: 7, name: "a lease's token is a key column: a checkpoint holds off a takeover, not a renewal",
            statements: ["CREATE UNIQUE INDEX partition_leases_token ON partition_leases (partition, token)"]),
    ]

    /// Applies the migrations `pool`'s database lacks; returns the schema version it is at.
    @discardableResult
    static func migrate(_ pool: PostgresPool) throws(StoreError) -> Int {
        try pool.transaction("migrate the schema") { session in
            try session.run("SELECT pg_advisory_xact_lock(\(lockKey))")
            try session.run(
                """
                CREATE TABLE IF NOT EXISTS journeyd_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var applied: Set<Int> = []
            for row in try session.run("SELECT version FROM journeyd_migrations") { applied.insert(try row.decode(Int.self)) }
            if let newest = applied.max(), newest > migrations.last!.version {
                throw StoreError.newerSchema(path: pool.configuration.address, found: newest, known: migrations.last!.version)
            }
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements { try session.run(PostgresQuery(unsafeSQL: statement)) }
                try session.run("INSERT INTO journeyd_migrations (version, name) VALUES (\(migration.version), \(migration.name))")
            }
            return migrations.last!.version
        }
    }
}
