import GRDB
import HeapModule
public import JourneyCore
import JourneyEvents

/// The durable ``StateStore``: one SQLite database in WAL mode, `synchronous=FULL` by default.
///
/// Hot state lives in memory: users touched since the last commit, every pending timer (a heap, as the
/// engine needs the earliest one constantly), and the message ids inside the deduplication window.
/// ``commit(outbox:positions:)`` writes everything that changed — users, timers armed and fired, message
/// ids, touches for the outbox, input positions — in **one transaction**, so after a crash the database
/// holds exactly the state of the last commit: an input is acknowledged only after the commit that
/// covers it (DESIGN §6). Nothing is written between commits.
///
/// Tables (append-only migrations in ``migrator``): `users(id, state)`, `timers(seq, due, user, kind,
/// target)`, `dedup(id, at)`, `outbox(touch_id, …, status)`, `positions(source, position)`, `meta(key, value)`.
public final class SQLiteStateStore: StateStore {
    public enum Durability: String, Sendable {
        /// fsync on every commit: survives power loss (the default).
        case full = "FULL"
        /// WAL without fsync per commit: survives a process crash, may lose the last commits on power loss.
        case normal = "NORMAL"
    }

    public let path: String
    private let database: DatabaseQueue
    private let parser = JSONParser()

    // In memory.
    private var cache: [String: UserState] = [:]
    private var timers = Heap<TimerEntry>()
    private var timerSeq: UInt64 = 0
    private var seen: Set<String> = []
    private var seenOrder: [(at: Timestamp, id: String)] = []
    private var seenHead = 0
    public var dedupWindow: TimeSpan
    /// How many users stay in memory between commits before the committed ones are dropped.
    public var cacheLimit = 50_000

    // Changes since the last commit.
    private var dirtyUsers: Set<String> = []
    private var removedUsers: Set<String> = []
    private var armed: [TimerEntry] = []
    private var fired: [UInt64] = []
    private var newIDs: [(id: String, at: Timestamp)] = []

    /// Opens (creating and migrating) the database at `path`, and loads pending timers and the message
    /// ids of the deduplication window.
    public init(path: String, durability: Durability = .full, dedupWindow: TimeSpan = .days(7)) throws(StoreError) {
        self.path = path
        self.dedupWindow = dedupWindow
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
            // Random-key B-tree work is the writer's cost: a page cache of 128 MiB keeps the hot part of
            // users and timers in memory (the 2 MiB default rereads pages on almost every upsert), and
            // reads through mmap save a copy per page.
            try db.execute(sql: "PRAGMA cache_size = -131072")
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
        }
        configuration.journalMode = .wal
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
            try database.read { db in
                let rows = try Row.fetchCursor(db, sql: "SELECT seq, due, user, kind, target FROM timers")
                while let row = try rows.next() {
                    let purpose: TimerEntry.Purpose =
                        (row["kind"] as String) == "date"
                        ? .dateTrigger(row["target"]) : .enrollment(UInt64(row["target"] as Int64))
                    timers.insert(
                        TimerEntry(due: Timestamp(milliseconds: row["due"]), seq: UInt64(row["seq"] as Int64), user: row["user"], purpose: purpose))
                }
                timerSeq = UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'timer_seq'") ?? 0)
                let ids = try Row.fetchCursor(db, sql: "SELECT id, at FROM dedup ORDER BY at")
                while let row = try ids.next() {
                    let id: String = row["id"]
                    seen.insert(id)
                    seenOrder.append((Timestamp(milliseconds: row["at"]), id))
                }
            }
        } catch let error as DatabaseError {
            throw StoreError.database(path: path, operation: "open", reason: error.message ?? "\(error.resultCode)")
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(path: path, operation: "open", reason: "\(error)")
        }
    }

    /// Append-only: a shipped migration is never edited; changes come as new ones.
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
        return migrator
    }

    /// A journey version as kept in the database: enough to compile it again.
    public struct StoredJourney: Sendable, Hashable {
        public var version: String
        public var journey: String
        public var file: String
        public var source: String

        public init(version: String, journey: String, file: String, source: String) {
            self.version = version
            self.journey = journey
            self.file = file
            self.source = source
        }
    }

    /// Keeps the text of journey versions (once per content hash), so that users pinned to a version can
    /// keep running it after a restart even when the file has changed since.
    public func keepJourneyVersions(_ journeys: [StoredJourney], at now: Timestamp) throws(StoreError) {
        do {
            try database.write { db in
                let statement = try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO journey_versions (version, journey, file, source, loaded_at) VALUES (?, ?, ?, ?, ?)")
                for j in journeys { try statement.execute(arguments: [j.version, j.journey, j.file, j.source, now.milliseconds]) }
            }
        } catch {
            throw StoreError.database(path: path, operation: "keep journey versions", reason: "\(error)")
        }
    }

    /// Every journey version kept, oldest first.
    public func keptJourneyVersions() throws(StoreError) -> [StoredJourney] {
        do {
            return try database.read { db in
                try Row.fetchAll(db, sql: "SELECT version, journey, file, source FROM journey_versions ORDER BY loaded_at, version")
                    .map { StoredJourney(version: $0["version"], journey: $0["journey"], file: $0["file"], source: $0["source"]) }
            }
        } catch {
            throw StoreError.database(path: path, operation: "read journey versions", reason: "\(error)")
        }
    }

    // MARK: - StateStore

    public func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        if cache[id] == nil { cache[id] = loadOrStop(id) ?? UserState(id: id) }
        dirtyUsers.insert(id)
        removedUsers.remove(id)
        return try body(&cache[id]!)
    }

    public func user(_ id: String) -> UserState? {
        if let user = cache[id] { return user }
        if removedUsers.contains(id) { return nil }
        return loadOrStop(id)
    }

    public func contains(user id: String) -> Bool {
        if cache[id] != nil { return true }
        if removedUsers.contains(id) { return false }
        do {
            return try database.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE id = ?", arguments: [id]) } != nil
        } catch {
            Self.stop(path, "cannot read user \(id)", error)
        }
    }

    public func removeUser(_ id: String) {
        cache[id] = nil
        dirtyUsers.remove(id)
        removedUsers.insert(id)
    }

    public var lastTimerSeq: UInt64 { timerSeq }

    public func schedule(_ timer: TimerEntry) {
        timerSeq = max(timerSeq, timer.seq)
        timers.insert(timer)
        armed.append(timer)
    }

    public func popTimer(dueBy now: Timestamp) -> TimerEntry? {
        guard let first = timers.min, first.due <= now else { return nil }
        let timer = timers.popMin()!
        fired.append(timer.seq)
        return timer
    }

    public var nextTimerDue: Timestamp? { timers.min?.due }

    public var pendingTimerCount: Int { timers.count }

    public func markSeen(messageId: String, at: Timestamp) -> Bool {
        while seenHead < seenOrder.count, seenOrder[seenHead].at < at - dedupWindow {
            seen.remove(seenOrder[seenHead].id)
            seenHead += 1
        }
        if seenHead > 4096 && seenHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenHead)
            seenHead = 0
        }
        guard seen.insert(messageId).inserted else { return false }
        seenOrder.append((at, messageId))
        newIDs.append((messageId, at))
        return true
    }

    // MARK: - Durability

    /// Whether anything changed since the last commit.
    public var hasChanges: Bool {
        !dirtyUsers.isEmpty || !removedUsers.isEmpty || !armed.isEmpty || !fired.isEmpty || !newIDs.isEmpty
    }

    /// One touch for the outbox, with what it says (the rendered message, as JSON) when it was rendered
    /// at enqueue time, and when it stops being worth sending.
    public struct OutboxEntry: Sendable, Hashable {
        public var touch: Touch
        public var content: String?
        public var expiresAt: Timestamp?
        public init(touch: Touch, content: String? = nil, expiresAt: Timestamp? = nil) {
            self.touch = touch
            self.content = content
            self.expiresAt = expiresAt
        }
    }

    /// Writes every change since the last commit, `outbox` touches and input `positions` in one
    /// transaction. A touch already in the outbox (same id) is not inserted twice.
    public func commit(outbox: [Touch], positions: [String: Int64] = [:]) throws(StoreError) {
        try commit(outbox: outbox.map { OutboxEntry(touch: $0) }, positions: positions)
    }

    /// Writes every change since the last commit, `outbox` entries and input `positions` in one
    /// transaction; delivery `outcomes` recorded since the last commit ride along. A touch already in the
    /// outbox (same id) is not inserted twice.
    public func commit(
        outbox: [OutboxEntry] = [], positions: [String: Int64] = [:], outcomes: [DeliveryOutcome] = []
    ) throws(StoreError) {
        let users = dirtyUsers.compactMap { id in cache[id].map { (id, $0.record.jsonText) } }
        let removed = removedUsers
        let firedNow = Set(fired)
        let armed = self.armed.filter { !firedNow.contains($0.seq) }
        let firedSeqs = fired
        let ids = newIDs
        let horizon = (seenOrder.last?.at ?? .distantPast) - dedupWindow
        let seq = timerSeq
        do {
            try database.write { db in
                let putUser = try db.cachedStatement(sql: "INSERT OR REPLACE INTO users (id, state) VALUES (?, ?)")
                for (id, state) in users { try putUser.execute(arguments: [id, state]) }
                for id in removed { try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id]) }
                let putTimer = try db.cachedStatement(sql: "INSERT INTO timers (seq, due, user, kind, target) VALUES (?, ?, ?, ?, ?)")
                for t in armed {
                    switch t.purpose {
                    case .enrollment(let e):
                        try putTimer.execute(arguments: [Int64(t.seq), t.due.milliseconds, t.user, "enrollment", String(e)])
                    case .dateTrigger(let journey):
                        try putTimer.execute(arguments: [Int64(t.seq), t.due.milliseconds, t.user, "date", journey])
                    }
                }
                let dropTimer = try db.cachedStatement(sql: "DELETE FROM timers WHERE seq = ?")
                for s in firedSeqs { try dropTimer.execute(arguments: [Int64(s)]) }
                let putID = try db.cachedStatement(sql: "INSERT OR IGNORE INTO dedup (id, at) VALUES (?, ?)")
                for (id, at) in ids { try putID.execute(arguments: [id, at.milliseconds]) }
                try db.execute(sql: "DELETE FROM dedup WHERE at < ?", arguments: [horizon.milliseconds])
                let putTouch = try db.cachedStatement(
                    sql: """
                        INSERT OR IGNORE INTO outbox (touch_id, user, journey, version, enrollment, step, channel, template, due,
                            transactional, content, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for entry in outbox {
                    let t = entry.touch
                    try putTouch.execute(arguments: [
                        t.id, t.user, t.journey, t.version, t.enrollment, t.step, t.channel, t.template, t.at.milliseconds,
                        t.transactional, entry.content, entry.expiresAt?.milliseconds,
                    ])
                }
                try Self.record(outcomes, in: db)
                let putPosition = try db.cachedStatement(sql: "INSERT OR REPLACE INTO positions (source, position) VALUES (?, ?)")
                for (source, position) in positions { try putPosition.execute(arguments: [source, position]) }
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('timer_seq', ?)", arguments: [Int64(seq)])
            }
        } catch let error as DatabaseError {
            throw StoreError.database(path: path, operation: "commit", reason: error.message ?? "\(error.resultCode)")
        } catch {
            throw StoreError.database(path: path, operation: "commit", reason: "\(error)")
        }
        dirtyUsers.removeAll(keepingCapacity: true)
        removedUsers.removeAll()
        self.armed.removeAll(keepingCapacity: true)
        fired.removeAll(keepingCapacity: true)
        newIDs.removeAll(keepingCapacity: true)
        // Committed users may leave memory at any time (they reload on demand); keep the hot ones until
        // the cache is full, so RAM stays bounded without rereading every active user after each batch.
        if cache.count > cacheLimit { cache.removeAll(keepingCapacity: true) }
    }

    /// The committed position of input `source`, if any.
    public func position(of source: String) throws(StoreError) -> Int64? {
        do {
            return try database.read { db in
                try Int64.fetchOne(db, sql: "SELECT position FROM positions WHERE source = ?", arguments: [source])
            }
        } catch {
            throw StoreError.database(path: path, operation: "read position", reason: "\(error)")
        }
    }

    /// One queued touch, as the dispatcher needs it.
    public struct QueuedTouch: Sendable, Hashable {
        public var touch: Touch
        public var attempts: Int
        /// The rendered message (JSON), when it was rendered at enqueue time.
        public var content: String?
        public var expiresAt: Timestamp?
        /// When the first delivery attempt began (retries give up by age from here).
        public var firstAttemptAt: Timestamp?
    }

    /// What became of one delivery, recorded with the next commit.
    public struct DeliveryOutcome: Sendable, Hashable {
        public var touchID: String
        public var state: DeliveryState
        public var reason: String?
        /// For `retry`: when the touch is due again.
        public var nextAttempt: Timestamp?
        /// Attempts made so far, when the outcome knows (nil keeps the stored count).
        public var attempts: Int?
        /// When the first attempt began, when the outcome knows (nil keeps the stored time).
        public var firstAttemptAt: Timestamp?
        public init(
            touchID: String, state: DeliveryState, reason: String? = nil, nextAttempt: Timestamp? = nil, attempts: Int? = nil,
            firstAttemptAt: Timestamp? = nil
        ) {
            self.touchID = touchID
            self.state = state
            self.reason = reason
            self.nextAttempt = nextAttempt
            self.attempts = attempts
            self.firstAttemptAt = firstAttemptAt
        }
    }

    static func record(_ outcomes: [DeliveryOutcome], in db: Database) throws {
        guard !outcomes.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                UPDATE outbox SET status = ?, reason = ?, next_attempt = ?, attempts = COALESCE(?, attempts),
                    first_attempt_at = COALESCE(?, first_attempt_at)
                WHERE touch_id = ?
                """)
        for o in outcomes {
            try statement.execute(arguments: [
                o.state.rawValue, o.reason, o.nextAttempt?.milliseconds, o.attempts, o.firstAttemptAt?.milliseconds, o.touchID,
            ])
        }
    }

    /// Up to `limit` touches that are due by `now` and pending (or due for a retry), oldest first.
    public func dueTouches(at now: Timestamp, limit: Int) throws(StoreError) -> [QueuedTouch] {
        do {
            return try database.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM outbox
                        WHERE (status = 'pending' AND due <= ?) OR (status = 'retry' AND next_attempt <= ?)
                        ORDER BY due, touch_id LIMIT ?
                        """, arguments: [now.milliseconds, now.milliseconds, limit]
                ).map { row in
                    QueuedTouch(
                        touch: Touch(
                            id: row["touch_id"], user: row["user"], journey: row["journey"], version: row["version"],
                            enrollment: row["enrollment"], step: row["step"], channel: row["channel"], template: row["template"],
                            at: Timestamp(milliseconds: row["due"]), transactional: row["transactional"]),
                        attempts: row["attempts"], content: row["content"],
                        expiresAt: (row["expires_at"] as Int64?).map { Timestamp(milliseconds: $0) },
                        firstAttemptAt: (row["first_attempt_at"] as Int64?).map { Timestamp(milliseconds: $0) })
                }
            }
        } catch {
            throw StoreError.database(path: path, operation: "read outbox", reason: "\(error)")
        }
    }

    /// Outbox states (DESIGN §6): `pending → attempting → sent | retry | dead_letter | in_doubt`.
    public enum DeliveryState: String, Sendable {
        case pending, attempting, sent, retry, deadLetter = "dead_letter", inDoubt = "in_doubt"
    }

    /// After a restart: touches left `attempting` by a crash may or may not have reached the provider.
    /// On channels in `resendable` (they accept idempotency keys) they are queued again; on the others
    /// they become `in_doubt` — held and counted, never sent twice. Returns how many are in doubt.
    @discardableResult
    public func recoverInterruptedDeliveries(resendable: Set<String> = []) throws(StoreError) -> Int {
        do {
            return try database.write { db in
                for channel in resendable {
                    try db.execute(
                        sql: "UPDATE outbox SET status = 'pending' WHERE status = 'attempting' AND channel = ?", arguments: [channel])
                }
                try db.execute(sql: "UPDATE outbox SET status = 'in_doubt', reason = 'interrupted by a restart' WHERE status = 'attempting'")
                return db.changesCount
            }
        } catch {
            throw StoreError.database(path: path, operation: "recover outbox", reason: "\(error)")
        }
    }

    /// Outbox rows per state.
    public func outboxCounts() throws(StoreError) -> [String: Int] {
        do {
            return try database.read { db in
                var counts: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM outbox GROUP BY status") {
                    counts[row["status"]] = row["n"]
                }
                return counts
            }
        } catch {
            throw StoreError.database(path: path, operation: "count outbox", reason: "\(error)")
        }
    }

    /// Forgets the position of an input that is finished (a spool file archived).
    public func forgetPosition(of source: String) throws(StoreError) {
        do {
            try database.write { db in try db.execute(sql: "DELETE FROM positions WHERE source = ?", arguments: [source]) }
        } catch {
            throw StoreError.database(path: path, operation: "forget position", reason: "\(error)")
        }
    }

    /// Touches in the outbox, oldest first (for tests and the dispatcher).
    public func outbox(status: String = "pending") throws(StoreError) -> [(id: String, user: String, step: String)] {
        do {
            return try database.read { db in
                try Row.fetchAll(db, sql: "SELECT touch_id, user, step FROM outbox WHERE status = ? ORDER BY due, touch_id", arguments: [status])
                    .map { ($0["touch_id"], $0["user"], $0["step"]) }
            }
        } catch {
            throw StoreError.database(path: path, operation: "read outbox", reason: "\(error)")
        }
    }

    /// `PRAGMA integrity_check`: "ok", or SQLite's list of problems.
    public func integrityCheck() throws(StoreError) -> String {
        do {
            return try database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
        } catch {
            throw StoreError.database(path: path, operation: "integrity check", reason: "\(error)")
        }
    }

    /// The committed state of `id`, or nil for an unknown user. A read that fails (I/O error, corrupt
    /// record) stops the process: the store is crash-only, and carrying on with a blank user would lose
    /// their journeys silently (DESIGN §6).
    private func loadOrStop(_ id: String) -> UserState? {
        do {
            return try load(id)
        } catch {
            Self.stop(path, "cannot read user \(id)", error)
        }
    }

    static func stop(_ path: String, _ what: String, _ error: any Error) -> Never {
        fatalError("\(path): \(what): \(error)")
    }

    private func load(_ id: String) throws -> UserState? {
        guard let text = try database.read({ db in try String.fetchOne(db, sql: "SELECT state FROM users WHERE id = ?", arguments: [id]) })
        else { return nil }
        return try UserState(id: id, record: try parser.parse(text))
    }
}
