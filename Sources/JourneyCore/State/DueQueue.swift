import HeapModule

/// Keys due at times, earliest first, where a key may be rescheduled or withdrawn: the outbox's
/// schedule of touches to deliver, keyed by the slot each touch has in memory (an integer: not generic,
/// so that the outbox in another module calls it without generic dispatch). Entries are checked when
/// they come up (lazy deletion): an entry whose time is no longer its key's current time is skipped,
/// so rescheduling costs one insertion.
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
    private var current: [Key: Timestamp] = [:]
    private var counter: UInt64 = 0

    public init() {}

    /// How many keys are scheduled.
    public var count: Int { current.count }

    /// Schedules `key` at `at`, replacing its earlier time.
    public mutating func schedule(_ key: Key, at: Timestamp) {
        counter += 1
        current[key] = at
        heap.insert(Item(at: at, order: counter, key: key))
        if heap.count > 4 * current.count + 1024 { compact() }
    }

    /// Withdraws `key`.
    public mutating func remove(_ key: Key) { current[key] = nil }

    public func contains(_ key: Key) -> Bool { current[key] != nil }

    /// The earliest scheduled time.
    public mutating func nextDue() -> Timestamp? {
        while let top = heap.min {
            if current[top.key] == top.at { return top.at }
            heap.removeMin()
        }
        return nil
    }

    /// Removes and returns the earliest key due at or before `now`.
    public mutating func popDue(by now: Timestamp) -> Key? {
        while let top = heap.min, top.at <= now {
            heap.removeMin()
            if current[top.key] == top.at {
                current[top.key] = nil
                return top.key
            }
        }
        return nil
    }

    private mutating func compact() {
        heap = Heap(heap.unordered.filter { current[$0.key] == $0.at })
    }
}
