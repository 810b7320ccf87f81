/// The storage behind ``DedupWindow``: remembered ids in the order they were seen, with a hash index
/// over them, at about 40–50 bytes per id where a `Set` beside an array of entries took about 84.
///
/// - The entries (a 16-byte key and an 8-byte time) live once, in a ring buffer, oldest first; it grows
///   by half when full and shrinks when a quarter full, so its slack stays below half its size.
/// - The index is an open-addressing table of 8-byte buckets (linear probing, at most three quarters
///   full, deletion by backward shift, so no tombstones pile up), keyed by the id's hash — which is
///   already a well-mixed 128-bit hash, so its low bits are the probe start. A bucket holds the ring slot
///   and the low 32 bits of the key's hash: probing and backward shifts compare and re-home entries from
///   the bucket alone, without a cache miss into the ring per probed bucket (issue 9: the dedup window
///   was the engine's largest single item, 11% of its time, most of it those misses).
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
    /// Per bucket: ring slot + 1 of an entry in the low 32 bits (0: an empty bucket), the low 32 bits of
    /// its key's hash in the high 32; the count of buckets is a power of two, at most 2³².
    private var buckets: [UInt64] = []

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
        buckets[index] = Self.bucket(slot: slot, key: key)
        count += 1
        return true
    }

    /// Forgets the oldest entry.
    mutating func removeOldest() {
        guard count > 0 else { return }
        let mask = buckets.count - 1
        let oldest = Self.bucket(slot: head, key: keys[head])
        var hole = Int(truncatingIfNeeded: keys[head].low) & mask
        while buckets[hole] != oldest { hole = (hole + 1) & mask }
        // Backward-shift deletion: move later members of the probe run into the hole when their home
        // bucket lies cyclically outside (hole, next].
        var next = hole
        while true {
            next = (next + 1) & mask
            let occupant = buckets[next]
            if occupant == 0 { break }
            let home = Int(truncatingIfNeeded: occupant >> 32) & mask
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
        let tag = UInt64(truncatingIfNeeded: UInt32(truncatingIfNeeded: key.low)) << 32
        var index = Int(truncatingIfNeeded: key.low) & mask
        while true {
            let occupant = buckets[index]
            if occupant == 0 { return (index, false) }
            if occupant & 0xFFFF_FFFF_0000_0000 == tag, keys[Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: occupant)) - 1] == key {
                return (index, true)
            }
            index = (index + 1) & mask
        }
    }

    /// The bucket word of the entry in ring `slot` with `key`: the slot + 1 low, the hash's low 32 bits high.
    private static func bucket(slot: Int, key: DedupWindow.Key) -> UInt64 {
        UInt64(truncatingIfNeeded: UInt32(truncatingIfNeeded: key.low)) << 32 | UInt64(UInt32(slot + 1))
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
        precondition(bucketCount <= 1 << 32, "KeyRing: more than 2³² buckets (the hash kept in a bucket is 32 bits)")
        var newKeys = [DedupWindow.Key](repeating: DedupWindow.Key(high: 0, low: 0), count: ring)
        var newTimes = [Int64](repeating: 0, count: ring)
        for offset in 0..<count {
            newKeys[offset] = keys[slot(offset)]
            newTimes[offset] = times[slot(offset)]
        }
        keys = newKeys
        times = newTimes
        head = 0
        buckets = [UInt64](repeating: 0, count: bucketCount)
        let mask = bucketCount - 1
        for slot in 0..<count {
            var index = Int(truncatingIfNeeded: keys[slot].low) & mask
            while buckets[index] != 0 { index = (index + 1) & mask }
            buckets[index] = Self.bucket(slot: slot, key: keys[slot])
        }
    }
}
