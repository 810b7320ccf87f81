public import JourneyCore
import HeapModule

/// A ``StateStore`` held entirely in memory: for tests, `journeyd test` and `journeyd replay`.
///
/// Deduplication keeps message ids for the configured window and at most `dedupMaxEntries` of them,
/// forgetting the oldest first. It remembers each id by its 64-bit hash (8 bytes instead of a string):
/// two distinct ids collide with a probability of about n²/2⁶⁵ — below one in a million for ten million
/// ids in the window — and a collision would drop an event, so the durable store keeps the ids themselves.
public struct InMemoryStateStore: StateStore, Sendable {
    public private(set) var users: [String: UserState] = [:]
    private var timers = Heap<TimerEntry>()
    private var timerSeq: UInt64 = 0
    private var seen: Set<UInt64> = []
    private var seenOrder: [(at: Timestamp, id: UInt64)] = []
    private var seenHead = 0
    public var dedupWindow: TimeSpan
    public var dedupMaxEntries: Int

    public init(dedupWindow: TimeSpan = .days(7), dedupMaxEntries: Int = 10_000_000) {
        self.dedupWindow = dedupWindow
        self.dedupMaxEntries = dedupMaxEntries
    }

    public mutating func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        try body(&users[id, default: UserState(id: id)])
    }

    public func user(_ id: String) -> UserState? { users[id] }

    public func contains(user id: String) -> Bool { users.index(forKey: id) != nil }

    public mutating func removeUser(_ id: String) { users[id] = nil }

    public var lastTimerSeq: UInt64 { timerSeq }

    public mutating func schedule(_ timer: TimerEntry) {
        timerSeq = max(timerSeq, timer.seq)
        timers.insert(timer)
    }

    public mutating func popTimer(dueBy now: Timestamp) -> TimerEntry? {
        guard let first = timers.min, first.due <= now else { return nil }
        return timers.popMin()
    }

    public var nextTimerDue: Timestamp? { timers.min?.due }

    /// Timers armed and not yet fired (including stale ones).
    public var pendingTimerCount: Int { timers.count }

    public mutating func markSeen(messageId: String, at: Timestamp) -> Bool {
        // Forget ids older than the window, and the oldest beyond the size bound.
        while seenHead < seenOrder.count,
            seenOrder[seenHead].at < at - dedupWindow || seenOrder.count - seenHead >= dedupMaxEntries
        {
            seen.remove(seenOrder[seenHead].id)
            seenHead += 1
        }
        if seenHead > 4096 && seenHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenHead)
            seenHead = 0
        }
        var hasher = StableHash()
        hasher.combine(messageId)
        let key = hasher.finalized
        guard seen.insert(key).inserted else { return false }
        seenOrder.append((at, key))
        return true
    }
}
