/// A partition's state as of one log position, written in the background (DESIGN §6): the changes since
/// the previous checkpoint, so a checkpoint costs what changed, not what is held.
public struct Checkpoint: Sendable {
    public var partition: Int
    /// Every log record up to and including this sequence number is reflected here.
    public var logSequence: UInt64
    /// The content hash of the rule set live at that position (see ``RuleSnapshot``).
    public var rulesVersion: String
    public var timerSeq: UInt64
    /// The partition's processing clock at that position (it never goes back, also across a restart).
    public var clock: Timestamp = .distantPast
    /// Users changed since the previous checkpoint (whole), and users removed.
    public var users: [UserState] = []
    public var removedUsers: [String] = []
    /// Users forgotten (`journeyd forget`) since the previous checkpoint: their outbox entries are erased
    /// too — before this checkpoint's own entries are written (a user may come back as a new one).
    public var forgottenUsers: [String] = []
    /// The tombstones of users forgotten since the previous checkpoint (``Tombstone``): kept for good.
    public var tombstones: [String] = []
    /// Timers armed since the previous checkpoint and still armed; timers fired or dropped since.
    public var timersArmed: [TimerEntry] = []
    public var timersDone: [UInt64] = []
    /// Deduplication ids added since the previous checkpoint; ids older than the horizon are forgotten.
    public var dedupAdded: [DedupWindow.Entry] = []
    public var dedupHorizon: Timestamp = .distantPast
    /// Outbox entries created or changed since the previous checkpoint (whole).
    public var outbox: [OutboxEntry] = []
    /// Input positions changed since the previous checkpoint; nil removes one (a finished spool file).
    public var positions: [String: Int64?] = [:]
    /// Figures that must survive a restart (running enrollments per journey), whole.
    public var figures: [String: Int64] = [:]
    /// The delivery pipeline's state per channel (rate windows, breaker…), whole; empty when unchanged.
    public var channels: [String: [UInt8]] = [:]
    /// When it was taken (wall clock), for operators.
    public var takenAt: Timestamp
    /// The writer's lease on the partition, in cluster mode (see ``PartitionLeases``): a store that keeps
    /// leases refuses the write with ``StoreError/fenced(partition:presented:current:)`` unless this is the
    /// partition's current token, checking and writing in one transaction. nil in the embedded mode, where
    /// the state directory belongs to one process; stores without leases (SQLite, memory) ignore it.
    public var fence: FencingToken?

    public init(partition: Int, logSequence: UInt64, rulesVersion: String, timerSeq: UInt64, takenAt: Timestamp) {
        self.partition = partition
        self.logSequence = logSequence
        self.rulesVersion = rulesVersion
        self.timerSeq = timerSeq
        self.takenAt = takenAt
    }

    /// Whether it carries any change besides its position.
    public var isEmpty: Bool {
        users.isEmpty && removedUsers.isEmpty && forgottenUsers.isEmpty && tombstones.isEmpty && timersArmed.isEmpty && timersDone.isEmpty && dedupAdded.isEmpty && outbox.isEmpty
            && positions.isEmpty
    }
}

/// What a restart starts from: the last checkpoint's position and the state that must be in memory
/// (users are read on demand with ``CheckpointStore/user(_:)``).
public struct RestoredPartition: Sendable {
    /// 0 when the partition was never checkpointed: replay the whole log.
    public var logSequence: UInt64 = 0
    public var rulesVersion: String?
    public var timerSeq: UInt64 = 0
    public var clock: Timestamp = .distantPast
    public var timers: [TimerEntry] = []
    public var dedup: [DedupWindow.Entry] = []
    /// Outbox entries that are not final (pending, attempting, retry).
    public var outbox: [OutboxEntry] = []
    public var positions: [String: Int64] = [:]
    /// Whether the store holds any user (a first start reads no user from it).
    public var hasUsers = false
    public var figures: [String: Int64] = [:]
    public var channels: [String: [UInt8]] = [:]
    /// Every tombstone of the partition (``Tombstone``): events for these users are refused.
    public var tombstones: Set<String> = []
    /// The lease token the checkpoint was written under (``Checkpoint/fence``), kept by stores with leases
    /// (and the memory store); nil otherwise. A replay after it skips records a staler owner appended.
    public var fence: FencingToken?

    public init() {}
}

/// Where checkpoints go: the durable copy of users, timers, deduplication ids, the outbox and input
/// positions, each checkpoint written in one transaction with the log position it covers.
///
/// Implementations: `SQLiteCheckpointStore` (embedded), a PostgreSQL store in cluster mode. Every one
/// passes `CheckpointStoreConformance` in JourneyTesting.
public protocol CheckpointStore: AnyObject, Sendable {
    /// Writes `checkpoint` atomically: after a crash the store holds it whole or not at all.
    func write(_ checkpoint: Checkpoint) throws(StoreError)
    /// What a restart of `partition` loads.
    func restore(partition: Int) throws(StoreError) -> RestoredPartition
    /// A user's checkpointed state, or nil for a user never checkpointed (or removed).
    func user(_ id: String) throws(StoreError) -> UserState?
    /// The checkpointed state of those of `ids` the store holds, read at once (one transaction, one
    /// round trip): what a batch of events asks for before it is applied. Ids it does not hold are absent.
    func users(_ ids: [String]) throws(StoreError) -> [String: UserState]
    /// A user's checkpointed state as `partition` holds it: what the partition's processor reads. A store
    /// that keeps several partitions' users apart (cluster mode's) answers from that partition only — a
    /// user of the same id in another partition is that partition's, and no write of this one touches it;
    /// a store of one partition's users answers as ``user(_:)`` (the default).
    func user(_ id: String, partition: Int) throws(StoreError) -> UserState?
    /// ``users(_:)`` as `partition` holds them (see ``user(_:partition:)``).
    func users(_ ids: [String], partition: Int) throws(StoreError) -> [String: UserState]
}

extension CheckpointStore {
    public func user(_ id: String, partition: Int) throws(StoreError) -> UserState? { try user(id) }
    public func users(_ ids: [String], partition: Int) throws(StoreError) -> [String: UserState] { try users(ids) }
}

/// The outbox as the store holds it, for the questions asked of a stopped daemon's state (`status`,
/// `explain`, `report` with `--state`) and for tests.
public protocol OutboxReader: AnyObject, Sendable {
    /// How many touches are in each delivery state.
    func outboxCounts() throws(StoreError) -> [DeliveryState: Int]
    /// A user's touches, oldest first.
    func outbox(of user: String) throws(StoreError) -> [OutboxEntry]
    /// Every touch in `state`, oldest first, at most `limit`.
    func outbox(in state: DeliveryState, limit: Int) throws(StoreError) -> [OutboxEntry]
}

/// The rule sets and journey versions the daemon has run, by content hash: so users pinned to an older
/// journey version keep running it after a restart, and a log written under older rules replays under
/// exactly those rules.
public protocol JourneyArchive: AnyObject, Sendable {
    func keep(_ snapshot: RuleSnapshot) throws(StoreError)
    func snapshot(version: String) throws(StoreError) -> RuleSnapshot?
    func keep(journeys: [StoredJourney], at: Timestamp) throws(StoreError)
    /// Every journey version kept, oldest first.
    func keptJourneyVersions() throws(StoreError) -> [StoredJourney]
}

/// The text of a rule directory's rule files (journeyd.yaml, channels.yaml, journeys/, templates/) and
/// its content hash, the ``version`` that log reload marks and checkpoints name.
public struct RuleSnapshot: Sendable, Hashable {
    public var version: String
    /// Relative path → file content.
    public var files: [String: String]

    public init(files: [String: String]) {
        self.files = files
        var hash = StableHash()
        for path in files.keys.sorted() {
            hash.combine(path)
            hash.combine(byte: 0)
            hash.combine(files[path]!)
            hash.combine(byte: 0)
        }
        version = hash.hex
    }
}

/// A journey version as kept: enough to compile it again.
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

/// What goes wrong with a state store. Texts name the store and the record, never user data.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// A stored record does not have the shape this version writes.
    case corrupt(String)
    /// The store refused an operation.
    case database(path: String, operation: String, reason: String)
    /// Lost ownership (cluster mode): a checkpoint of `partition` carried token `presented` (nil: none)
    /// while the partition's lease is at `current` — another instance leased it since. Nothing of it was
    /// written; the writer must stop processing the partition.
    case fenced(partition: Int, presented: FencingToken?, current: FencingToken?)
    /// The store's schema is at version `found`, newer than this build knows (`known`): written by a newer
    /// journeyd. Nothing was changed; restarting this build will not help (a configuration error).
    case newerSchema(path: String, found: Int, known: Int)

    public var description: String {
        switch self {
        case .newerSchema(let path, let found, let known):
            "\(path): the database is at schema version \(found), newer than this journeyd knows (\(known)): run the newer journeyd"
        case .corrupt(let what): "corrupt state record: \(what)"
        case .database(let path, let operation, let reason): "\(path): \(operation) failed: \(reason)"
        case .fenced(let partition, let presented, let current):
            "partition \(partition): checkpoint refused, nothing of it written: it carries \(presented.map { "\($0)" } ?? "no token")"
                + " but the partition's lease is at \(current.map { "\($0)" } ?? "no token") (another instance leased it since)"
        }
    }

    /// Whether the store was written by a newer journeyd (see ``newerSchema(path:found:known:)``).
    public var isNewerSchema: Bool {
        if case .newerSchema = self { return true }
        return false
    }

    /// Whether a checkpoint was refused by its fencing token (see ``fenced(partition:presented:current:)``).
    public var isFenced: Bool {
        if case .fenced = self { return true }
        return false
    }

    /// Decodes the stored record in `raw` with `body` (every store's rows hold the same binary records);
    /// one that does not decode is ``corrupt(_:)``, named by `what`.
    public static func decoding<T>(
        _ raw: UnsafeRawBufferPointer, _ what: String, _ body: (inout ByteReader) throws(BinaryDecodingError) -> T
    ) throws(StoreError) -> T {
        var reader = ByteReader(raw)
        do { return try body(&reader) } catch { throw .corrupt("\(what): \(error)") }
    }

    /// The disk is full (SQLite's SQLITE_FULL), for the refusal producers get.
    public var isDiskFull: Bool {
        if case .database(_, _, let reason) = self { return reason.contains("database or disk is full") || reason.contains("No space left") }
        return false
    }
}
