/// Every armed timer, earliest first: the one timer structure every store and the engine share.
///
/// A binary heap of 40-byte ``PackedTimer``s (``TimerHeap``): a journey id in a purpose is kept once in
/// a table and referred to by its index, so a waiting user's timer costs its due time, sequence number,
/// user id and one word (issue 9: bytes per waiting enrollment). Cancelling needs no search: owners
/// remember the `seq` they expect, and a timer that fires with another `seq` is stale and ignored
/// (``TimerEntry``).
public struct TimerQueue: Sendable {
    private var heap = TimerHeap()
    /// Journey ids of date triggers and segment rechecks, by index (few: one per journey that has them).
    private var journeys: [String] = []
    private var journeyIndices: [String: UInt64] = [:]
    /// Purposes that do not fit a word (enrollment numbers from 2^62 on), by timer `seq`.
    private var wide: [UInt64: TimerEntry.Purpose] = [:]
    /// The highest sequence number handed out so far.
    public private(set) var lastSeq: UInt64 = 0

    public init() {}

    /// The timers a checkpoint restored. An array, not any sequence: a generic initializer is not
    /// specialized across modules, and a restart packs a million timers.
    public init(_ timers: [TimerEntry], lastSeq: UInt64) {
        var packed = ContiguousArray<PackedTimer>()
        packed.reserveCapacity(timers.count)
        var highest = lastSeq
        for timer in timers {
            packed.append(pack(timer))
            highest = max(highest, timer.seq)
        }
        heap = TimerHeap(packed)
        self.lastSeq = highest
    }

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.count == 0 }
    /// When the earliest timer is due.
    public var nextDue: Timestamp? { heap.min.map { Timestamp(milliseconds: $0.due) } }

    /// Arms `timer`; afterwards ``lastSeq`` is at least `timer.seq`.
    public mutating func schedule(_ timer: TimerEntry) {
        lastSeq = max(lastSeq, timer.seq)
        heap.insert(pack(timer))
    }

    /// Removes and returns the earliest timer due at or before `now`.
    public mutating func popDue(by now: Timestamp) -> TimerEntry? {
        guard let first = heap.min, first.due <= now.milliseconds else { return nil }
        _ = heap.popMin()
        return take(first)
    }

    /// The users of up to `limit` timers due at or before `now`, in no particular order, without taking
    /// them (what firing them will read: the heap's due entries are the top of it, walked in O(limit)).
    public func dueUsers(by now: Timestamp, limit: Int) -> [String] {
        var users: [String] = []
        heap.forEachDue(by: now.milliseconds, limit: limit) { users.append($0.user) }
        return users
    }

    /// Every armed timer, in no particular order.
    public var unordered: [TimerEntry] { heap.storage.map(unpack) }

    /// Removes every timer of `user` (a forgotten user); returns them.
    @discardableResult
    public mutating func removeAll(of user: String) -> [TimerEntry] {
        var removed: [TimerEntry] = []
        for timer in heap.storage where timer.user == user { removed.append(take(timer)) }
        if !removed.isEmpty { heap.removeAll { $0.user == user } }
        return removed
    }

    private static let kindBits: UInt64 = 2
    private static let kindMask: UInt64 = 0b11

    private mutating func pack(_ timer: TimerEntry) -> PackedTimer {
        let purpose: UInt64
        switch timer.purpose {
        case .enrollment(let number) where number >> (64 - Self.kindBits) == 0: purpose = number << Self.kindBits
        case .dateTrigger(let journey): purpose = index(of: journey) << Self.kindBits | 1
        case .segmentRecheck(let journey): purpose = index(of: journey) << Self.kindBits | 2
        case .enrollment:
            wide[timer.seq] = timer.purpose
            purpose = 3
        }
        return PackedTimer(due: timer.due.milliseconds, seq: timer.seq, user: timer.user, purpose: purpose)
    }

    /// The timer `packed` stands for, leaving the queue (its wide purpose, if any, goes too).
    private mutating func take(_ packed: PackedTimer) -> TimerEntry {
        defer { if packed.purpose & Self.kindMask == 3 { wide[packed.seq] = nil } }
        return unpack(packed)
    }

    /// The timer `packed` stands for.
    private func unpack(_ packed: PackedTimer) -> TimerEntry {
        let payload = packed.purpose >> Self.kindBits
        let purpose: TimerEntry.Purpose =
            switch packed.purpose & Self.kindMask {
            case 0: .enrollment(payload)
            case 1: .dateTrigger(journeys[Int(payload)])
            case 2: .segmentRecheck(journeys[Int(payload)])
            default: wide[packed.seq]!
            }
        return TimerEntry(due: Timestamp(milliseconds: packed.due), seq: packed.seq, user: packed.user, purpose: purpose)
    }

    private mutating func index(of journey: String) -> UInt64 {
        if let index = journeyIndices[journey] { return index }
        let index = UInt64(journeys.count)
        journeys.append(journey)
        journeyIndices[journey] = index
        return index
    }
}
