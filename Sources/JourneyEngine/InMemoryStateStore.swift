public import JourneyCore

/// A ``StateStore`` held entirely in memory: for tests, `journeyd test` and `journeyd replay`.
///
/// Deduplication and timers are the shared ``DedupWindow`` and ``TimerQueue``, as in the daemon.
public struct InMemoryStateStore: StateStore, Sendable {
    public private(set) var users: [String: UserState] = [:]
    private var timers = TimerQueue()
    private var dedup: DedupWindow

    public init(dedupWindow: TimeSpan = .days(7), dedupMaxEntries: Int = 10_000_000) {
        dedup = DedupWindow(window: dedupWindow, maxEntries: dedupMaxEntries)
    }

    public mutating func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        try body(&users[id, default: UserState(id: id)])
    }

    public func user(_ id: String) -> UserState? { users[id] }

    public func contains(user id: String) -> Bool { users.index(forKey: id) != nil }

    public mutating func removeUser(_ id: String) { users[id] = nil }

    public var lastTimerSeq: UInt64 { timers.lastSeq }

    public mutating func schedule(_ timer: TimerEntry) { timers.schedule(timer) }

    public mutating func popTimer(dueBy now: Timestamp) -> TimerEntry? { timers.popDue(by: now) }

    public var nextTimerDue: Timestamp? { timers.nextDue }

    /// Timers armed and not yet fired (including stale ones).
    public var pendingTimerCount: Int { timers.count }

    public mutating func markSeen(_ key: DedupWindow.Key, at: Timestamp) -> Bool { dedup.insert(key, at: at) }
}
