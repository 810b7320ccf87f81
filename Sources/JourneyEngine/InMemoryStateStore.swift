public import JourneyCore

/// A ``StateStore`` held entirely in memory: for tests, `journeyd test` and `journeyd replay`.
///
/// Deduplication and timers are the shared ``DedupWindow`` and ``TimerQueue``, as in the daemon. Users
/// live in ``UserSlots``: a hash table of ids beside the states in fixed chunks, not one dictionary of
/// whole states (see there why).
public struct InMemoryStateStore: StateStore, Sendable {
    private var slots = UserSlots()
    private var timers = TimerQueue()
    private var dedup: DedupWindow

    public init(dedupWindow: TimeSpan = .days(7), dedupMaxEntries: Int = 10_000_000) {
        dedup = DedupWindow(window: dedupWindow, maxEntries: dedupMaxEntries)
    }

    /// Every user's state by id (a copy: for tests and reports, not for the engine's path).
    public var users: [String: UserState] { slots.all }

    /// How many users the store holds (merged ids included).
    public var userCount: Int { slots.count }

    public mutating func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        try slots.withUser(id, body)
    }

    public func user(_ id: String) -> UserState? { slots.user(id) }

    public func contains(user id: String) -> Bool { slots.contains(id) }

    public mutating func removeUser(_ id: String) { slots.remove(id) }

    public var lastTimerSeq: UInt64 { timers.lastSeq }

    public mutating func schedule(_ timer: TimerEntry) { timers.schedule(timer) }

    public mutating func popTimer(dueBy now: Timestamp) -> TimerEntry? { timers.popDue(by: now) }

    public var nextTimerDue: Timestamp? { timers.nextDue }

    /// Timers armed and not yet fired (including stale ones).
    public var pendingTimerCount: Int { timers.count }

    public mutating func markSeen(_ key: DedupWindow.Key, at: Timestamp) -> Bool { dedup.insert(key, at: at) }
}
