/// A durable timer: at `due`, the engine looks at `user` again for `purpose`.
///
/// Timers fire late, never early, never twice: the engine checks that the owner still expects
/// `seq` before acting, so stale timers (an enrollment that moved on) are harmless.
public struct TimerEntry: Sendable, Hashable, Comparable {
    public enum Purpose: Sendable, Hashable {
        /// Resume enrollment `seq` of the user (a wait ended, a wait_for timed out, a deferral ended).
        case enrollment(UInt64)
        /// A date trigger of journey `id` is due.
        case dateTrigger(String)
        /// A segment trigger of journey `id` may have become true by time alone: evaluate it again.
        case segmentRecheck(String)
    }

    public var due: Timestamp
    /// Globally increasing; also orders timers due at the same millisecond (first armed fires first).
    public var seq: UInt64
    public var user: String
    public var purpose: Purpose

    public init(due: Timestamp, seq: UInt64, user: String, purpose: Purpose) {
        self.due = due
        self.seq = seq
        self.user = user
        self.purpose = purpose
    }

    public static func < (a: TimerEntry, b: TimerEntry) -> Bool {
        a.due != b.due ? a.due < b.due : a.seq < b.seq
    }
}

/// Where the engine keeps user state, timers and deduplication records.
///
/// The engine is a pure function of (rules, state, input, now): it reads and changes state only
/// through this protocol, so the same engine runs over an in-memory store (tests, `replay`) and the
/// durable store of the daemon.
public protocol StateStore {
    /// Runs `body` on the user's state, creating an empty state for a new user.
    mutating func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R
    /// The user's state, if the user is known.
    func user(_ id: String) -> UserState?
    /// Whether the user is known (without copying their state).
    func contains(user id: String) -> Bool
    /// Removes a user entirely (`forget`).
    mutating func removeUser(_ id: String)

    /// The highest timer sequence number handed out so far; new timers take the numbers after it.
    var lastTimerSeq: UInt64 { get }
    /// Arms `timer`; afterwards ``lastTimerSeq`` is at least `timer.seq`.
    mutating func schedule(_ timer: TimerEntry)
    /// Removes and returns the earliest timer due at or before `now`.
    mutating func popTimer(dueBy now: Timestamp) -> TimerEntry?
    /// When the earliest timer is due.
    var nextTimerDue: Timestamp? { get }

    /// Records a message id (its ``DedupWindow/Key``) as seen at `at`; returns false when it was already
    /// seen (a duplicate).
    mutating func markSeen(_ key: DedupWindow.Key, at: Timestamp) -> Bool
}
