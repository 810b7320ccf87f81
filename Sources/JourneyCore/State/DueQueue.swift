import HeapModule

/// Keys due at times, earliest first, where a key may be rescheduled or withdrawn: the outbox's
/// schedule of touches to deliver, keyed by the slot each touch has in memory (an integer: not generic,
/// so that the outbox in another module calls it without generic dispatch). Entries are checked when
/// they come up (lazy deletion): an entry that is not its key's latest scheduling is skipped, so
/// rescheduling costs one insertion.
///
/// Keys are small non-negative integers (slots, reused): each key's latest scheduling is in an array
/// indexed by it, not a dictionary — a touch delivered is scheduled, popped and checked, each of which
/// hashed the key before. (Before 2026-12-07 an entry was checked by its time alone, so a key rescheduled
/// at the time it already had kept its first place among keys due at that same millisecond.)
public struct DueQueue: Sendable {
    public typealias Key = Int
    private struct Item: Comparable, Sendable {
        var at: Timestamp
        var order: UInt64
        var key: Key
        static func < (a: Item, b: Item) -> Bool { a.at != b.at ? a.at < b.at : a.order < b.order }
        static func == (a: Item, b: Item) -> Bool { a.at == b.at && a.order == b.order }
    }
    private var heap = Heap<Item>()
    /// Per key, the `order` of its latest scheduling (0: not scheduled); as long as the largest key
    /// scheduled so far.
    private var current: [UInt64] = []
    private var counter: UInt64 = 0

    public init() {}

    /// How many keys are scheduled.
    public private(set) var count = 0

    /// Schedules `key` (≥ 0) at `at`, replacing its earlier time.
    public mutating func schedule(_ key: Key, at: Timestamp) {
        precondition(key >= 0, "DueQueue: a key is a slot, not negative (\(key))")
        if key >= current.count { current.append(contentsOf: repeatElement(0, count: key - current.count + 1)) }
        if current[key] == 0 { count += 1 }
        counter += 1
        current[key] = counter
        heap.insert(Item(at: at, order: counter, key: key))
        if heap.count > 4 * count + 1024 { compact() }
    }

    /// Withdraws `key`.
    public mutating func remove(_ key: Key) {
        guard contains(key) else { return }
        current[key] = 0
        count -= 1
    }

    public func contains(_ key: Key) -> Bool { key >= 0 && key < current.count && current[key] != 0 }

    /// The earliest scheduled time.
    public mutating func nextDue() -> Timestamp? {
        while let top = heap.min {
            if current[top.key] == top.order { return top.at }
            heap.removeMin()
        }
        return nil
    }

    /// Removes and returns the earliest key due at or before `now`.
    public mutating func popDue(by now: Timestamp) -> Key? {
        while let top = heap.min, top.at <= now {
            heap.removeMin()
            if current[top.key] == top.order {
                current[top.key] = 0
                count -= 1
                return top.key
            }
        }
        return nil
    }

    private mutating func compact() {
        heap = Heap(heap.unordered.filter { current[$0.key] == $0.order })
    }
}
