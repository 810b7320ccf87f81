import Foundation
import GRDB
public import JourneyCore

/// The embedded checkpoint store: one SQLite database (WAL) in the state directory.
///
/// The event log is the durability point; this database is a checkpoint of it (DESIGN §6): a
/// checkpointer writes what changed since the previous checkpoint — users (binary, see
/// `UserState.encoded()`), timers, deduplication ids, outbox entries, input positions — in one
/// transaction with the log position it covers, `synchronous=FULL`, so log segments it covers can be
/// deleted. Reads (a user not in memory, a restart, `journeyd status --state`) go through their own
/// connections and never wait for a checkpoint being written.
///
/// It also is the ``JourneyArchive`` (rule sets and journey versions by content hash) and answers
/// ``OutboxReader`` questions. Tables and their history: ``SQLiteSchema``.
public final class SQLiteCheckpointStore: CheckpointStore, JourneyArchive, OutboxReader, @unchecked Sendable {
    public let path: String
    let database: DatabasePool
    /// Fault injection (tests): runs inside a checkpoint's transaction, after its rows are written and
    /// before the commit — a crash there must leave the previous checkpoint whole.
    public nonisolated(unsafe) var beforeCommit: (@Sendable () -> Void)?

    /// Opens (creating and migrating) the database at `path`. `readOnly` opens an existing database for
    /// questions (`status`, `explain`, `report` with `--state`) without migrating or writing.
    public init(path: String, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            if db.configuration.readonly {
                // Readers (a batch's users not in memory, the operator's questions) read pages through a
                // memory map — the kernel's page cache, shared and given back under pressure — with a small
                // private cache: a 64 MiB heap cache per reader grew with the users read (issue 9's memory
                // per user).
                try db.execute(sql: "PRAGMA cache_size = -2048")
                try db.execute(sql: "PRAGMA mmap_size = 2147418112")
            } else {
                try db.execute(sql: "PRAGMA cache_size = -65536")
            }
            try db.execute(sql: "PRAGMA busy_timeout = 60000")
            // Deleted rows are overwritten with zeros, so an erased user (forget) leaves no bytes behind.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            database = try DatabasePool(path: path, configuration: configuration)
            if !readOnly { try SQLiteSchema.migrator.migrate(database) }
        } catch {
            throw Self.failure(path, "open", error)
        }
    }

    /// Closes the database (a clean stop: SQLite folds its write-ahead log into the file and removes it,
    /// so the file alone is the whole state). Nothing may use the store afterwards.
    public func close() throws(StoreError) {
        // Readers first: only the last connection to close folds the log in, and a read-only one cannot.
        database.releaseMemory()
        do { try database.close() } catch { throw Self.failure(path, "close", error) }
    }

    static func failure(_ path: String, _ operation: String, _ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            return .database(path: path, operation: operation, reason: error.message ?? "\(error.resultCode)")
        }
        return .database(path: path, operation: operation, reason: "\(error)")
    }

    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try database.write(body) } catch { throw Self.failure(path, operation, error) }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try database.read(body) } catch { throw Self.failure(path, operation, error) }
    }

    // MARK: - CheckpointStore

    public func write(_ checkpoint: Checkpoint) throws(StoreError) {
        let partition = checkpoint.partition
        let outbox = EncodedOutbox(checkpoint.outbox)  // on another thread, while the users go in
        defer { outbox.abandon() }  // a write that fails before the outbox rows must not leave the encoder waiting
        try write("write checkpoint") { db in
            // Row by row through SQLite's C API (``BoundStatement``): one buffer encodes every row in turn.
            var w = ByteWriter(capacity: 1024)
            let putUser = try BoundStatement(db, "INSERT OR REPLACE INTO user_state (id, partition, state) VALUES (?, ?, ?)")
            // In key order: SQLite's B-tree then inserts next to the previous row instead of at random.
            // (Sorted as (key, index) pairs, and each row read in place: a copy of a row's value is a
            // reference count per string in it, tens of thousands of rows in a back-fill's last checkpoint.)
            for (id, i) in checkpoint.users.indices.map({ (checkpoint.users[$0].id, $0) }).sorted(by: { $0.0 < $1.0 }) {
                w.bytes.removeAll(keepingCapacity: true)
                checkpoint.users[i].encode(into: &w)
                try putUser.bind(1, id)
                try putUser.bind(2, partition)
                try putUser.bind(3, w.bytes)
                try putUser.step()
            }
            let dropUser = try BoundStatement(db, "DELETE FROM user_state WHERE id = ?")
            for id in checkpoint.removedUsers {
                try dropUser.bind(1, id)
                try dropUser.step()
            }

            let putTimer = try BoundStatement(db, "INSERT OR REPLACE INTO timer_state (seq, partition, entry) VALUES (?, ?, ?)")
            for timer in checkpoint.timersArmed {
                w.bytes.removeAll(keepingCapacity: true)
                timer.encode(into: &w)
                try putTimer.bind(1, Int64(bitPattern: timer.seq))
                try putTimer.bind(2, partition)
                try putTimer.bind(3, w.bytes)
                try putTimer.step()
            }
            let dropTimer = try BoundStatement(db, "DELETE FROM timer_state WHERE seq = ?")
            for seq in checkpoint.timersDone {
                try dropTimer.bind(1, Int64(bitPattern: seq))
                try dropTimer.step()
            }

            let putID = try BoundStatement(db, "INSERT OR REPLACE INTO dedup_state (high, low, partition, at) VALUES (?, ?, ?, ?)")
            for entry in checkpoint.dedupAdded {
                try putID.bind(1, Int64(bitPattern: entry.key.high))
                try putID.bind(2, Int64(bitPattern: entry.key.low))
                try putID.bind(3, partition)
                try putID.bind(4, entry.at.milliseconds)
                try putID.step()
            }
            try db.execute(
                sql: "DELETE FROM dedup_state WHERE partition = ? AND at < ?", arguments: [partition, checkpoint.dedupHorizon.milliseconds])

            let dropTouches = try BoundStatement(db, "DELETE FROM outbox_entries WHERE user = ?")
            for id in checkpoint.forgottenUsers {
                try dropTouches.bind(1, id)
                try dropTouches.step()
                try dropUser.bind(1, id)
                try dropUser.step()
            }
            let putTombstone = try db.cachedStatement(sql: "INSERT OR REPLACE INTO tombstones (hash, partition) VALUES (?, ?)")
            for hash in checkpoint.tombstones { try putTombstone.execute(arguments: [hash, partition]) }
            let putTouch = try BoundStatement(
                db, "INSERT OR REPLACE INTO outbox_entries (touch_id, partition, user, state, due, entry) VALUES (?, ?, ?, ?, ?, ?)")
            try outbox.forEach { i, row in
                try putTouch.bind(1, checkpoint.outbox[i].touch.id)
                try putTouch.bind(2, partition)
                try putTouch.bind(3, checkpoint.outbox[i].touch.user)
                try putTouch.bind(4, checkpoint.outbox[i].state.rawValue)
                try putTouch.bind(5, checkpoint.outbox[i].touch.at.milliseconds)
                try putTouch.bind(6, row)
                try putTouch.step()
            }

            let putPosition = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO input_positions (partition, source, position) VALUES (?, ?, ?)")
            let dropPosition = try db.cachedStatement(sql: "DELETE FROM input_positions WHERE partition = ? AND source = ?")
            for (source, position) in checkpoint.positions {
                if let position {
                    try putPosition.execute(arguments: [partition, source, position])
                } else {
                    try dropPosition.execute(arguments: [partition, source])
                }
            }
            beforeCommit?()
            if !checkpoint.channels.isEmpty {
                try db.execute(sql: "DELETE FROM channel_state WHERE partition = ?", arguments: [partition])
                let putChannel = try db.cachedStatement(sql: "INSERT INTO channel_state (partition, name, state) VALUES (?, ?, ?)")
                for (name, state) in checkpoint.channels { try putChannel.execute(arguments: [partition, name, Data(state)]) }
            }
            if !checkpoint.figures.isEmpty {
                try db.execute(sql: "DELETE FROM partition_figures WHERE partition = ?", arguments: [partition])
                let putFigure = try db.cachedStatement(sql: "INSERT INTO partition_figures (partition, name, value) VALUES (?, ?, ?)")
                for (name, value) in checkpoint.figures { try putFigure.execute(arguments: [partition, name, value]) }
            }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO checkpoints (partition, log_sequence, rules_version, timer_seq, clock, taken_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    partition, Int64(bitPattern: checkpoint.logSequence), checkpoint.rulesVersion,
                    Int64(bitPattern: checkpoint.timerSeq), checkpoint.clock.milliseconds, checkpoint.takenAt.milliseconds,
                ])
        }
        if !checkpoint.forgottenUsers.isEmpty { try eraseWriteAheadLog() }
    }

    /// The indices of `keys` in the order of the outbox table's key, (user, touch id), as SQLite's B-tree
    /// (BINARY collation: UTF-8 bytes) sorts them: each row then goes in next to the previous one instead
    /// of at random. Users are ranked once, not compared per pair (each compare of two heap strings retains
    /// both — a back-fill's last checkpoint holds ~50,000 touches); touch ids, 16 lowercase hex digits,
    /// sort as their value.
    static func keyOrder(_ keys: [(user: String, id: String)]) -> [Int] {
        func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        var ranks: [String: Int] = [:]
        for key in keys { ranks[key.user] = 0 }
        for (rank, user) in ranks.keys.sorted(by: precedes).enumerated() { ranks[user] = rank }
        var keyed: [(user: Int, id: UInt64, index: Int)] = []
        keyed.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            guard key.id.utf8.count == 16, let id = Self.hexValue(key.id.utf8) else {
                return keys.indices.sorted { a, b in
                    keys[a].user == keys[b].user ? precedes(keys[a].id, keys[b].id) : precedes(keys[a].user, keys[b].user)
                }
            }
            keyed.append((ranks[key.user]!, id, index))
        }
        return keyed.sorted { ($0.user, $0.id) < ($1.user, $1.id) }.map(\.index)
    }

    /// The value of 16 lowercase hex digits; nil for anything else.
    private static func hexValue(_ digits: some Collection<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for c in digits {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(c - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return value
    }

    public func restore(partition: Int) throws(StoreError) -> RestoredPartition {
        try read("restore") { db in
            var restored = RestoredPartition()
            if let row = try Row.fetchOne(
                db, sql: "SELECT log_sequence, rules_version, timer_seq, clock FROM checkpoints WHERE partition = ?",
                arguments: [partition])
            {
                restored.clock = Timestamp(milliseconds: row["clock"])
                restored.logSequence = UInt64(bitPattern: row["log_sequence"])
                restored.rulesVersion = row["rules_version"]
                restored.timerSeq = UInt64(bitPattern: row["timer_seq"])
            }
            let timers = try Row.fetchCursor(db, sql: "SELECT entry FROM timer_state WHERE partition = ?", arguments: [partition])
            while let row = try timers.next() {
                restored.timers.append(try Self.decodeFirstColumn(row, "timer") { r throws(BinaryDecodingError) in try TimerEntry(from: &r) })
            }
            let ids = try Row.fetchCursor(
                db, sql: "SELECT high, low, at FROM dedup_state WHERE partition = ? ORDER BY at", arguments: [partition])
            while let row = try ids.next() {
                restored.dedup.append(
                    DedupWindow.Entry(
                        key: .init(high: UInt64(bitPattern: row["high"]), low: UInt64(bitPattern: row["low"])),
                        at: Timestamp(milliseconds: row["at"])))
            }
            let outbox = try Row.fetchCursor(
                db, sql: "SELECT entry FROM outbox_entries WHERE partition = ? AND \(SQLiteSchema.waitingCondition) ORDER BY due",
                arguments: [partition])
            while let row = try outbox.next() {
                restored.outbox.append(try Self.decodeFirstColumn(row, "outbox entry") { r throws(BinaryDecodingError) in try OutboxEntry(from: &r) })
            }
            restored.hasUsers = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM user_state)") ?? true
            for row in try Row.fetchAll(db, sql: "SELECT name, value FROM partition_figures WHERE partition = ?", arguments: [partition]) {
                restored.figures[row["name"]] = row["value"]
            }
            for row in try Row.fetchAll(db, sql: "SELECT name, state FROM channel_state WHERE partition = ?", arguments: [partition]) {
                restored.channels[row["name"]] = [UInt8](row["state"] as Data)
            }
            restored.tombstones = Set(try String.fetchAll(db, sql: "SELECT hash FROM tombstones WHERE partition = ?", arguments: [partition]))
            for row in try Row.fetchAll(db, sql: "SELECT source, position FROM input_positions WHERE partition = ?", arguments: [partition]) {
                restored.positions[row["source"]] = row["position"]
            }
            return restored
        }
    }

    /// One user's state, or nil. Asked for every user an event names that is not in memory — after a
    /// restart, every new user — so it is one point lookup with a prepared statement kept per reader
    /// connection and no transaction around it (a single SELECT reads one snapshot by itself): GRDB's
    /// `read` would begin and commit a transaction and prepare the statement each time, about 100 µs a user
    /// (a replay of 100,000 new users after a checkpoint took 12 s).
    public func user(_ id: String) throws(StoreError) -> UserState? {
        let fetched: Data?
        do {
            fetched = try database.unsafeRead { db in
                try Data.fetchOne(db.cachedStatement(sql: "SELECT state FROM user_state WHERE id = ?"), arguments: [id])
            }
        } catch {
            throw Self.failure(path, "read user", error)
        }
        return try Self.decodeUser(id, fetched)
    }

    /// Those of `ids` checkpointed, in one read transaction with the point lookup's cached statement:
    /// a transaction per id takes SQLite's shared-memory locks (`fcntl`) each time, which was two thirds of
    /// a restart's replay of 100,000 new users.
    public func users(_ ids: [String]) throws(StoreError) -> [String: UserState] {
        guard !ids.isEmpty else { return [:] }
        let fetched: [(String, Data)]
        do {
            fetched = try database.read { db in
                let statement = try db.cachedStatement(sql: "SELECT state FROM user_state WHERE id = ?")
                var rows: [(String, Data)] = []
                for id in ids {
                    if let bytes = try Data.fetchOne(statement, arguments: [id]) { rows.append((id, bytes)) }
                }
                return rows
            }
        } catch {
            throw Self.failure(path, "read users", error)
        }
        var found: [String: UserState] = [:]
        found.reserveCapacity(fetched.count)
        for (id, bytes) in fetched { found[id] = try Self.decodeUser(id, bytes) }
        return found
    }

    private static func decodeUser(_ id: String, _ fetched: Data?) throws(StoreError) -> UserState? {
        do {
            guard let bytes = fetched else { return nil }
            return try UserState(id: id, encoded: [UInt8](bytes))
        } catch {
            throw StoreError.corrupt("user state row \(id.count) bytes of id: \(error)")
        }
    }

    /// The record in a cursor row's first column, decoded where SQLite holds it (no copy: a restart
    /// reads a million timers this way; copying each into a `Data` and an array was most of the restore).
    static func decodeFirstColumn<T>(_ row: Row, _ what: String, _ body: (inout ByteReader) throws(BinaryDecodingError) -> T) throws -> T {
        try row.withUnsafeData(atIndex: 0) { data in
            guard let data else { throw StoreError.corrupt("\(what): no bytes") }
            return try data.withUnsafeBytes { raw in try StoreError.decoding(raw, what, body) }
        }
    }

    static func decode<T>(_ data: Data, _ what: String, _ body: (inout ByteReader) throws(BinaryDecodingError) -> T) throws -> T {
        try data.withUnsafeBytes { raw in try StoreError.decoding(raw, what, body) }
    }

    // MARK: - Questions

    /// Every user id checkpointed, in no particular order (for reports over a stopped daemon's state).
    public func forEachUser(_ body: (UserState) throws -> Void) throws(StoreError) {
        try read("read users") { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, state FROM user_state")
            while let row = try rows.next() {
                let bytes: Data = row["state"]
                try body(try UserState(id: row["id"], encoded: [UInt8](bytes)))
            }
        }
    }

    public var userCount: Int {
        (try? read("count users") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM user_state") ?? 0 }) ?? 0
    }

    public var timerCount: Int {
        (try? read("count timers") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM timer_state") ?? 0 }) ?? 0
    }

    /// The log position each partition's checkpoint covers.
    public func checkpointSequences() throws(StoreError) -> [Int: UInt64] {
        try read("read checkpoints") { db in
            var result: [Int: UInt64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT partition, log_sequence FROM checkpoints") {
                result[row["partition"]] = UInt64(bitPattern: row["log_sequence"])
            }
            return result
        }
    }

    /// `PRAGMA integrity_check`: "ok", or SQLite's list of problems.
    public func integrityCheck() throws(StoreError) -> String {
        try read("integrity check") { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }
}

extension SQLiteCheckpointStore {
    public func outboxCounts() throws(StoreError) -> [DeliveryState: Int] {
        try read("count outbox") { db in
            var counts: [DeliveryState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM outbox_entries GROUP BY state") {
                if let state = DeliveryState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    public func outbox(of user: String) throws(StoreError) -> [OutboxEntry] {
        try entries("SELECT entry FROM outbox_entries WHERE user = ? ORDER BY due, touch_id", [user])
    }

    public func outbox(in state: DeliveryState, limit: Int) throws(StoreError) -> [OutboxEntry] {
        // Waiting states through the index of waiting touches; final ones (few are asked for) by a scan.
        let waiting = state.isFinal ? "" : SQLiteSchema.waitingCondition + " AND "
        return try entries("SELECT entry FROM outbox_entries WHERE \(waiting)state = ? ORDER BY due, touch_id LIMIT ?", [state.rawValue, limit])
    }

    /// Every outbox entry, oldest first (reports and tests).
    public func forEachOutboxEntry(_ body: (OutboxEntry) throws -> Void) throws(StoreError) {
        try read("read outbox") { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT entry FROM outbox_entries ORDER BY due, touch_id")
            while let row = try rows.next() {
                let bytes: Data = row["entry"]
                try body(try Self.decode(bytes, "outbox entry") { r throws(BinaryDecodingError) in try OutboxEntry(from: &r) })
            }
        }
    }

    private func entries(_ sql: String, _ arguments: StatementArguments) throws(StoreError) -> [OutboxEntry] {
        try read("read outbox") { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let bytes: Data = row["entry"]
                return try Self.decode(bytes, "outbox entry") { r throws(BinaryDecodingError) in try OutboxEntry(from: &r) }
            }
        }
    }
}

extension SQLiteCheckpointStore {
    public func keep(_ snapshot: RuleSnapshot) throws(StoreError) {
        try write("keep rule set") { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO rule_sets (version, files, kept_at) VALUES (?, ?, ?)",
                arguments: [snapshot.version, Data(snapshot.encodedFiles()), WallClock().now.milliseconds])
        }
    }

    public func snapshot(version: String) throws(StoreError) -> RuleSnapshot? {
        try read("read rule set") { db in
            guard let data = try Data.fetchOne(db, sql: "SELECT files FROM rule_sets WHERE version = ?", arguments: [version]) else {
                return nil
            }
            return try Self.decode(data, "rule set \(version)") { r throws(BinaryDecodingError) in try RuleSnapshot(encodedFiles: &r) }
        }
    }

    public func keep(journeys: [StoredJourney], at now: Timestamp) throws(StoreError) {
        try write("keep journey versions") { db in
            let statement = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO journey_versions (version, journey, file, source, loaded_at) VALUES (?, ?, ?, ?, ?)")
            for j in journeys { try statement.execute(arguments: [j.version, j.journey, j.file, j.source, now.milliseconds]) }
        }
    }

    public func keptJourneyVersions() throws(StoreError) -> [StoredJourney] {
        try read("read journey versions") { db in
            try Row.fetchAll(db, sql: "SELECT version, journey, file, source FROM journey_versions ORDER BY loaded_at, version")
                .map { StoredJourney(version: $0["version"], journey: $0["journey"], file: $0["file"], source: $0["source"]) }
        }
    }
}
