/// The storage behind ``DedupWindow``: remembered ids in the order they were seen, with a hash index
/// over them, at about 30–40 bytes per id where a `Set` beside an array of entries took about 84.
///
/// - The entries (a 16-byte key and an 8-byte time) live once, in a ring buffer, oldest first; it grows
///   by half when full and shrinks when a quarter full, so its slack stays below half its size.
/// - The index is an open-addressing table of 4-byte ring slots (linear probing, at most three quarters
///   full, deletion by backward shift, so no tombstones pile up), keyed by the id's hash — which is
///   already a well-mixed 128-bit hash, so its low bits are the probe start.
///
/// Only the oldest entry is ever removed (ids expire in the order they were seen), which is what lets a
/// ring hold them without gaps. Written by hand because no package here has an insertion-ordered hash
/// set that stores a key once (swift-collections' `OrderedSet` keeps an array of elements beside its
/// hash table, but cannot drop its first element without shifting them all).
struct KeyRing: Sendable {
    private var keys: [DedupWindow.Key] = []
    private var times: [Int64] = []
    /// The ring slot of the oldest entry, and how many entries are held.
    private var head = 0
    private(set) var count = 0
    /// Ring slot + 1 of an entry, 0 for an empty bucket; the count of buckets is a power of two.
    private var buckets: [UInt32] = []

    var isEmpty: Bool { count == 0 }

    /// The oldest entry.
    var oldest: DedupWindow.Entry? {
        count == 0 ? nil : DedupWindow.Entry(key: keys[head], at: Timestamp(milliseconds: times[head]))
    }

    /// Every entry, oldest first.
    var entries: [DedupWindow.Entry] {
        (0..<count).map { offset in
            let slot = self.slot(offset)
            return DedupWindow.Entry(key: keys[slot], at: Timestamp(milliseconds: times[slot]))
        }
    }

    func contains(_ key: DedupWindow.Key) -> Bool { bucket(of: key).found }

    /// Adds `key` as the newest entry; false (and nothing changes) when it is held already.
    mutating func append(_ key: DedupWindow.Key, at: Timestamp) -> Bool {
        if buckets.isEmpty { resize(ring: 16, buckets: 32) }
        var (index, found) = bucket(of: key)
        if found { return false }
        if count == keys.count {
            // The index is sized for the ring, so a ring with room leaves it at most 3/4 full.
            let ring = keys.count + keys.count / 2
            resize(ring: ring, buckets: Self.bucketCount(for: ring))
            index = bucket(of: key).index
        }
        let slot = self.slot(count)
        keys[slot] = key
        times[slot] = at.milliseconds
        buckets[index] = UInt32(slot + 1)
        count += 1
        return true
    }

    /// Forgets the oldest entry.
    mutating func removeOldest() {
        guard count > 0 else { return }
        let mask = buckets.count - 1
        var hole = Int(truncatingIfNeeded: keys[head].low) & mask
        while buckets[hole] != UInt32(head + 1) { hole = (hole + 1) & mask }
        // Backward-shift deletion: move later members of the probe run into the hole when their home
        // bucket lies cyclically outside (hole, next].
        var next = hole
        while true {
            next = (next + 1) & mask
            let occupant = buckets[next]
            if occupant == 0 { break }
            let home = Int(truncatingIfNeeded: keys[Int(occupant) - 1].low) & mask
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if stays { continue }
            buckets[hole] = occupant
            hole = next
        }
        buckets[hole] = 0
        head = head + 1 == keys.count ? 0 : head + 1
        count -= 1
        if keys.count > 64 && count * 4 < keys.count {
            let ring = max(16, count * 2)
            resize(ring: ring, buckets: Self.bucketCount(for: ring))
        }
    }

    // MARK: - Layout

    private func slot(_ offset: Int) -> Int {
        let slot = head + offset
        return slot >= keys.count ? slot - keys.count : slot
    }

    /// The bucket holding `key`, or the empty bucket where it would go.
    private func bucket(of key: DedupWindow.Key) -> (index: Int, found: Bool) {
        guard !buckets.isEmpty else { return (0, false) }
        let mask = buckets.count - 1
        var index = Int(truncatingIfNeeded: key.low) & mask
        while true {
            let occupant = buckets[index]
            if occupant == 0 { return (index, false) }
            if keys[Int(occupant) - 1] == key { return (index, true) }
            index = (index + 1) & mask
        }
    }

    /// Buckets for a ring of `ring` entries: a power of two that keeps the table at most 3/4 full.
    private static func bucketCount(for ring: Int) -> Int {
        var count = 32
        while count * 3 < ring * 4 { count *= 2 }
        return count
    }

    /// Moves the entries to a ring of `ring` slots, oldest at slot 0, and rebuilds the index.
    private mutating func resize(ring: Int, buckets bucketCount: Int) {
        precondition(ring < Int(UInt32.max), "KeyRing: more than 4 billion remembered ids")
        var newKeys = [DedupWindow.Key](repeating: DedupWindow.Key(high: 0, low: 0), count: ring)
        var newTimes = [Int64](repeating: 0, count: ring)
        for offset in 0..<count {
            newKeys[offset] = keys[slot(offset)]
            newTimes[offset] = times[slot(offset)]
        }
        keys = newKeys
        times = newTimes
        head = 0
        buckets = [UInt32](repeating: 0, count: bucketCount)
        let mask = bucketCount - 1
        for slot in 0..<count {
            var index = Int(truncatingIfNeeded: keys[slot].low) & mask
            while buckets[index] != 0 { index = (index + 1) & mask }
            buckets[index] = UInt32(slot + 1)
        }
    }
}
