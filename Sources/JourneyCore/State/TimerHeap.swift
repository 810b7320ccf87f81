/// A timer as ``TimerQueue`` keeps it: 40 bytes where a ``TimerEntry`` takes 56 (its purpose, an enum
/// with a `String` payload, is 17 bytes padded to 24). With a million users waiting, that is 16 MB.
struct PackedTimer: Sendable {
    /// ``TimerEntry/due`` in milliseconds.
    var due: Int64
    var seq: UInt64
    var user: String
    /// The purpose (``TimerQueue`` packs and unpacks it): its kind in the low two bits, above them the
    /// enrollment number or the index of the journey id in the queue's table.
    var purpose: UInt64

    /// Due first, then armed first — the order of ``TimerEntry``.
    @inline(__always) static func earlier(_ a: PackedTimer, _ b: PackedTimer) -> Bool {
        a.due != b.due ? a.due < b.due : a.seq < b.seq
    }
}

/// A binary min-heap of ``PackedTimer``s that gives memory back after a burst: once fewer than a quarter
/// of its slots are used, the storage shrinks to twice what is used (a growing array doubles and never
/// shrinks on its own; after a million timers fired, their 40 MB would stay).
struct TimerHeap: Sendable {
    private(set) var storage: ContiguousArray<PackedTimer> = []
    /// Below this many slots the heap never shrinks (not worth a copy).
    static let shrinkFloor = 4_096

    init() {}

    /// Heapifies `timers` in place (O(n)).
    init(_ timers: ContiguousArray<PackedTimer>) {
        storage = timers
        var i = storage.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    var count: Int { storage.count }
    var capacity: Int { storage.capacity }
    var min: PackedTimer? { storage.first }

    /// Calls `body` with up to `limit` timers due at or before `due`, in no particular order: a node is
    /// due only if its parent is, so the walk stops at the first entry not due on every path.
    func forEachDue(by due: Int64, limit: Int, _ body: (PackedTimer) -> Void) {
        var pending = [0]
        var visited = 0
        while visited < limit, let index = pending.popLast() {
            guard index < storage.count, storage[index].due <= due else { continue }
            body(storage[index])
            visited += 1
            pending.append(2 * index + 2)
            pending.append(2 * index + 1)
        }
    }

    mutating func insert(_ timer: PackedTimer) {
        storage.append(timer)
        siftUp(storage.count - 1)
    }

    mutating func popMin() -> PackedTimer? {
        guard let first = storage.first else { return nil }
        let last = storage.removeLast()
        if !storage.isEmpty {
            storage[0] = last
            siftDown(0)
        }
        shrinkIfSparse()
        return first
    }

    /// Removes the timers `remove` picks; the storage then fits the rest.
    mutating func removeAll(where remove: (PackedTimer) -> Bool) {
        var kept = ContiguousArray<PackedTimer>()
        kept.reserveCapacity(storage.count)
        for timer in storage where !remove(timer) { kept.append(timer) }
        guard kept.count != storage.count else { return }
        self = TimerHeap(Self.fitted(kept))
    }

    private mutating func shrinkIfSparse() {
        guard storage.capacity > Self.shrinkFloor, storage.count * 4 < storage.capacity else { return }
        var smaller = ContiguousArray<PackedTimer>()
        smaller.reserveCapacity(Swift.max(storage.count * 2, Self.shrinkFloor))
        smaller.append(contentsOf: storage)
        storage = smaller  // the order is kept: still a heap
    }

    private static func fitted(_ timers: ContiguousArray<PackedTimer>) -> ContiguousArray<PackedTimer> {
        guard timers.capacity > Swift.max(timers.count * 2, shrinkFloor) else { return timers }
        var fitted = ContiguousArray<PackedTimer>()
        fitted.reserveCapacity(timers.count)
        fitted.append(contentsOf: timers)
        return fitted
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        let timer = storage[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard PackedTimer.earlier(timer, storage[parent]) else { break }
            storage[child] = storage[parent]
            child = parent
        }
        storage[child] = timer
    }

    private mutating func siftDown(_ index: Int) {
        let count = storage.count
        var parent = index
        let timer = storage[parent]
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count, PackedTimer.earlier(storage[child + 1], storage[child]) { child += 1 }
            guard PackedTimer.earlier(storage[child], timer) else { break }
            storage[parent] = storage[child]
            parent = child
        }
        storage[parent] = timer
    }
}
