import Foundation
import GRDB
import JourneyCore
import JourneyEvents

/// The tables of the state database and their history. Append-only: a shipped migration is never
/// edited; changes come as new ones.
///
/// - v1–v3: the daemon before the event log, which committed every batch here: `users` (JSON),
///   `timers`, `dedup`, `outbox`, `positions`, `meta`, `journey_versions`.
/// - v4: checkpoints of the event log (DESIGN §6). `checkpoints(partition, log_sequence, rules_version,
///   timer_seq, clock, taken_at)`; `user_state(id, partition, state)` in the binary form; `timer_state`,
///   `dedup_state` (128-bit id hashes), `outbox_entries`, `input_positions`, `rule_sets`,
///   `partition_figures` (running enrollments per journey, for the metrics), `channel_state` (the
///   delivery pipeline's rate windows, breakers and disabled channels). A v3 database
///   is converted in place (its state becomes the checkpoint at log position 0), so an upgrade keeps
///   every user, timer, queued touch and position.
/// - v5: `tombstones` of forgotten users.
/// - v6: `outbox_entries` keyed by (user, touch id) instead of indexed by user, and indexed by
///   `(partition, due)` over the touches not yet final only (``waitingCondition``), not by state for all.
/// - v7: that index's condition as comparisons joined by `OR` instead of an `IN` list.
enum SQLiteSchema {
    /// The touches not yet final, as `outbox_entries_waiting` is restricted and every query that should use
    /// it says (SQLite uses a partial index only for a query that contains its condition as written).
    ///
    /// Not `state IN (…)`: SQLite evaluates an `IN` list of more than two constants through an ephemeral
    /// table it builds for each execution of a statement, and a partial index's condition is evaluated on
    /// every insert into the table — twice for an `INSERT OR REPLACE` (the new row and the one it
    /// replaces). A checkpoint inserting 50,000 touches built 100,000 of them: about a third of its
    /// outbox inserts' time (Python's sqlite3, 50,000 sorted rows in one transaction: 0.24 s with the
    /// list, 0.15 s with the comparisons, 0.15 s without the index).
    static let waitingCondition = "(state = 'pending' OR state = 'attempting' OR state = 'retry')"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: users, timers, dedup, outbox, positions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE timers (
                        seq INTEGER PRIMARY KEY NOT NULL, due INTEGER NOT NULL, user TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('enrollment', 'date')), target TEXT NOT NULL);
                    CREATE TABLE dedup (id TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE INDEX dedup_at ON dedup(at);
                    CREATE TABLE outbox (
                        touch_id TEXT PRIMARY KEY NOT NULL, user TEXT NOT NULL, journey TEXT NOT NULL,
                        version TEXT NOT NULL, enrollment TEXT NOT NULL, step TEXT NOT NULL, channel TEXT NOT NULL,
                        template TEXT NOT NULL, due INTEGER NOT NULL, transactional INTEGER NOT NULL,
                        status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt INTEGER, reason TEXT) WITHOUT ROWID;
                    CREATE INDEX outbox_pending ON outbox(status, due);
                    CREATE TABLE positions (source TEXT PRIMARY KEY NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2: journey versions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE journey_versions (
                        version TEXT PRIMARY KEY NOT NULL, journey TEXT NOT NULL, file TEXT NOT NULL,
                        source TEXT NOT NULL, loaded_at INTEGER NOT NULL) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v3: rendered content and expiry in the outbox") { db in
            try db.execute(
                sql: """
                    ALTER TABLE outbox ADD COLUMN content TEXT;
                    ALTER TABLE outbox ADD COLUMN expires_at INTEGER;
                    ALTER TABLE outbox ADD COLUMN first_attempt_at INTEGER;
                    """)
        }
        migrator.registerMigration("v4: checkpoints of the event log") { db in
            try db.execute(
                sql: """
                    CREATE TABLE checkpoints (
                        partition INTEGER PRIMARY KEY NOT NULL, log_sequence INTEGER NOT NULL, rules_version TEXT NOT NULL,
                        timer_seq INTEGER NOT NULL, clock INTEGER NOT NULL, taken_at INTEGER NOT NULL);
                    CREATE TABLE user_state (id TEXT PRIMARY KEY NOT NULL, partition INTEGER NOT NULL, state BLOB NOT NULL) WITHOUT ROWID;
                    CREATE TABLE timer_state (seq INTEGER PRIMARY KEY NOT NULL, partition INTEGER NOT NULL, entry BLOB NOT NULL);
                    CREATE INDEX timer_state_partition ON timer_state(partition);
                    CREATE TABLE dedup_state (
                        high INTEGER NOT NULL, low INTEGER NOT NULL, partition INTEGER NOT NULL, at INTEGER NOT NULL,
                        PRIMARY KEY (high, low)) WITHOUT ROWID;
                    CREATE INDEX dedup_state_at ON dedup_state(partition, at);
                    CREATE TABLE outbox_entries (
                        touch_id TEXT PRIMARY KEY NOT NULL, partition INTEGER NOT NULL, user TEXT NOT NULL, state TEXT NOT NULL,
                        due INTEGER NOT NULL, entry BLOB NOT NULL) WITHOUT ROWID;
                    CREATE INDEX outbox_entries_user ON outbox_entries(user);
                    CREATE INDEX outbox_entries_state ON outbox_entries(partition, state, due);
                    CREATE TABLE input_positions (
                        partition INTEGER NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL,
                        PRIMARY KEY (partition, source)) WITHOUT ROWID;
                    CREATE TABLE rule_sets (version TEXT PRIMARY KEY NOT NULL, files BLOB NOT NULL, kept_at INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE channel_state (
                        partition INTEGER NOT NULL, name TEXT NOT NULL, state BLOB NOT NULL,
                        PRIMARY KEY (partition, name)) WITHOUT ROWID;
                    CREATE TABLE partition_figures (
                        partition INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
                        PRIMARY KEY (partition, name)) WITHOUT ROWID;
                    """)
            try convertVersion3(db)
            try db.execute(sql: "DROP TABLE users; DROP TABLE timers; DROP TABLE dedup; DROP TABLE outbox; DROP TABLE positions")
        }
        migrator.registerMigration("v5: tombstones of forgotten users") { db in
            try db.execute(
                sql: "CREATE TABLE tombstones (hash TEXT PRIMARY KEY NOT NULL, partition INTEGER NOT NULL) WITHOUT ROWID")
        }
        migrator.registerMigration("v6: touches keyed by user; only waiting ones indexed by due") { db in
            // A checkpoint wrote each touch into three B-trees: the table (by touch id) and indices by user
            // and by (partition, state, due) — most touches end `sent`, and only the restore of waiting ones
            // reads the last. Keyed by (user, touch id) the table answers "this user's touches" (explain,
            // forget) itself, and the index by due holds waiting touches only: a large checkpoint's outbox
            // is written in about half the time. The restore's condition is this index's, word for word
            // (``waitingCondition``), so SQLite uses it. Existing rows are copied over once.
            try db.execute(
                sql: """
                    CREATE TABLE outbox_entries_v6 (
                        user TEXT NOT NULL, touch_id TEXT NOT NULL, partition INTEGER NOT NULL, state TEXT NOT NULL,
                        due INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (user, touch_id)) WITHOUT ROWID;
                    INSERT INTO outbox_entries_v6 (user, touch_id, partition, state, due, entry)
                        SELECT user, touch_id, partition, state, due, entry FROM outbox_entries;
                    DROP TABLE outbox_entries;
                    ALTER TABLE outbox_entries_v6 RENAME TO outbox_entries;
                    CREATE INDEX outbox_entries_waiting ON outbox_entries(partition, due) WHERE state IN ('pending', 'attempting', 'retry');
                    """)
        }
        migrator.registerMigration("v7: the waiting touches' index without an IN list") { db in
            try db.execute(
                sql: """
                    DROP INDEX outbox_entries_waiting;
                    CREATE INDEX outbox_entries_waiting ON outbox_entries(partition, due)
                        WHERE (state = 'pending' OR state = 'attempting' OR state = 'retry');
                    """)
        }
        return migrator
    }

    /// Moves the state of a v3 database into the v4 tables: the checkpoint at log position 0.
    static func convertVersion3(_ db: Database) throws {
        let hadState = try Int.fetchOne(db, sql: "SELECT count(*) FROM users") ?? 0 > 0
            || (try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0) > 0
            || (try Int.fetchOne(db, sql: "SELECT count(*) FROM positions") ?? 0) > 0
        guard hadState else { return }
        let parser = JSONParser()
        let users = try Row.fetchCursor(db, sql: "SELECT id, state FROM users")
        while let row = try users.next() {
            let id: String = row["id"]
            let user = try UserState(id: id, record: try parser.parse(row["state"] as String))
            try db.execute(sql: "INSERT INTO user_state (id, partition, state) VALUES (?, 0, ?)", arguments: [id, Data(user.encoded())])
        }
        let timers = try Row.fetchCursor(db, sql: "SELECT seq, due, user, kind, target FROM timers")
        while let row = try timers.next() {
            let purpose: TimerEntry.Purpose =
                (row["kind"] as String) == "date" ? .dateTrigger(row["target"]) : .enrollment(UInt64(row["target"] as String) ?? 0)
            let timer = TimerEntry(due: Timestamp(milliseconds: row["due"]), seq: UInt64(row["seq"] as Int64), user: row["user"], purpose: purpose)
            var w = ByteWriter()
            timer.encode(into: &w)
            try db.execute(sql: "INSERT INTO timer_state (seq, partition, entry) VALUES (?, 0, ?)", arguments: [Int64(timer.seq), Data(w.bytes)])
        }
        let ids = try Row.fetchCursor(db, sql: "SELECT id, at FROM dedup")
        while let row = try ids.next() {
            let key = DedupWindow.Key(row["id"] as String)
            try db.execute(
                sql: "INSERT OR IGNORE INTO dedup_state (high, low, partition, at) VALUES (?, ?, 0, ?)",
                arguments: [Int64(bitPattern: key.high), Int64(bitPattern: key.low), row["at"] as Int64])
        }
        let outbox = try Row.fetchCursor(db, sql: "SELECT * FROM outbox")
        while let row = try outbox.next() {
            let touch = Touch(
                id: row["touch_id"], user: row["user"], journey: row["journey"], version: row["version"], enrollment: row["enrollment"],
                step: row["step"], channel: row["channel"], template: row["template"], at: Timestamp(milliseconds: row["due"]),
                transactional: row["transactional"])
            let content = (row["content"] as String?).flatMap { try? parser.parse($0) }
            let message = content.map {
                RenderedMessage(
                    subject: $0["subject"]?.stringValue, preheader: $0["preheader"]?.stringValue, from: $0["from"]?.stringValue,
                    replyTo: $0["reply_to"]?.stringValue, text: $0["text"]?.stringValue ?? "", html: $0["html"]?.stringValue,
                    unsubscribeURL: $0["unsubscribe_url"]?.stringValue)
            }
            let state = DeliveryState(rawValue: row["status"]) ?? .pending
            let entry = OutboxEntry(
                touch: touch, message: message, expiresAt: (row["expires_at"] as Int64?).map(Timestamp.init(milliseconds:)),
                state: state, attempts: row["attempts"], nextAttempt: (row["next_attempt"] as Int64?).map(Timestamp.init(milliseconds:)),
                firstAttemptAt: (row["first_attempt_at"] as Int64?).map(Timestamp.init(milliseconds:)), reason: row["reason"])
            var w = ByteWriter()
            entry.encode(into: &w)
            try db.execute(
                sql: "INSERT INTO outbox_entries (touch_id, partition, user, state, due, entry) VALUES (?, 0, ?, ?, ?, ?)",
                arguments: [touch.id, touch.user, state.rawValue, touch.at.milliseconds, Data(w.bytes)])
        }
        try db.execute(sql: "INSERT INTO input_positions (partition, source, position) SELECT 0, source, position FROM positions")
        let timerSeq = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'timer_seq'") ?? 0
        try db.execute(
            sql: """
                INSERT INTO checkpoints (partition, log_sequence, rules_version, timer_seq, clock, taken_at)
                VALUES (0, 0, '', ?, ?, ?)
                """,
            arguments: [timerSeq, Timestamp.distantPast.milliseconds, WallClock().now.milliseconds])
    }
}
