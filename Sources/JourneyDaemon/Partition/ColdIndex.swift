/// Which ``ColdArena`` entry holds which user, for ``ColdUsers``: an open-addressing hash table of 8-byte
/// slots, the user id kept in the arena entry itself (beside the encoding) instead of in the table.
///
/// A `[String: Place]` took 28 bytes a bucket, at a load between 3/8 and 3/4: 58 bytes a user with a
/// million of them; these slots take 8 at the same load (21 bytes a user, 13 more for the id in the arena).
/// A slot packs the place (chunk + 1, offset below 2^20) with 12 bits of the id's hash, so a probe
/// rarely reads an entry that is not the one looked for. Linear probing; a removal leaves a tombstone,
/// and the table is rebuilt (ids hashed again from the arena) when tombstones and entries fill 3/4 of it.
///
/// The caller hashes ids and says whether the entry at a place is the id looked for (``ColdUsers``).
struct ColdIndex {
    private static let empty: UInt64 = 0
    private static let tombstone: UInt64 = 1
    private static let offsetBits = 20
    private static let fingerprintBits = 12

    private var slots = [UInt64](repeating: empty, count: 16)
    /// Entries held.
    private(set) var count = 0
    private var tombstones = 0

    /// Slots in the table (for the memory figures).
    var capacity: Int { slots.count }

    /// The slot of the entry `matches` accepts among those whose id hashes to `hash`.
    func find(hash: Int, matches: (ColdArena.Place) -> Bool) -> Int? {
        let mask = slots.count - 1
        let fingerprint = Self.fingerprint(hash)
        var index = hash & mask
        while true {
            let slot = slots[index]
            if slot == Self.empty { return nil }
            if slot != Self.tombstone, slot & Self.fingerprintMask == fingerprint, matches(Self.place(slot)) { return index }
            index = (index + 1) & mask
        }
    }

    /// The place held in slot `index` (from ``find(hash:matches:)``).
    func place(at index: Int) -> ColdArena.Place { Self.place(slots[index]) }

    /// Moves the entry in slot `index` (same id) to `place`.
    mutating func replace(at index: Int, with place: ColdArena.Place) {
        slots[index] = Self.slot(place, fingerprint: slots[index] & Self.fingerprintMask)
    }

    /// Adds an entry for an id not held (``find(hash:matches:)`` said nil); `rehash` gives the hash of
    /// the id at a place, for when the table is rebuilt.
    mutating func insert(hash: Int, place: ColdArena.Place, rehash: (ColdArena.Place) -> Int) {
        if (count + tombstones + 1) * 4 > slots.count * 3 { rebuild(rehash) }
        let mask = slots.count - 1
        var index = hash & mask
        while slots[index] != Self.empty && slots[index] != Self.tombstone { index = (index + 1) & mask }
        if slots[index] == Self.tombstone { tombstones -= 1 }
        slots[index] = Self.slot(place, fingerprint: Self.fingerprint(hash))
        count += 1
    }

    /// Removes the entry in slot `index`.
    mutating func remove(at index: Int) {
        let mask = slots.count - 1
        // Ending a probe run: no tombstone needed, and those before it end the run too.
        if slots[(index + 1) & mask] == Self.empty {
            slots[index] = Self.empty
            var before = (index - 1) & mask
            while slots[before] == Self.tombstone {
                slots[before] = Self.empty
                tombstones -= 1
                before = (before - 1) & mask
            }
        } else {
            slots[index] = Self.tombstone
            tombstones += 1
        }
        count -= 1
    }

    /// Every entry's place, which `body` may change (the entry moved in the arena).
    mutating func updatePlaces(_ body: (inout ColdArena.Place) -> Void) {
        for index in slots.indices where slots[index] > Self.tombstone {
            var place = Self.place(slots[index])
            let before = place
            body(&place)
            if place != before { replace(at: index, with: place) }
        }
    }

    /// Up to `limit` entries' places.
    func places(_ limit: Int) -> [ColdArena.Place] {
        var places: [ColdArena.Place] = []
        for slot in slots where slot > Self.tombstone {
            guard places.count < limit else { break }
            places.append(Self.place(slot))
        }
        return places
    }

    /// A table sized for the entries (twice as many slots, at least; shrinks after many removals).
    private mutating func rebuild(_ rehash: (ColdArena.Place) -> Int) {
        var size = 16
        while size * 3 < (count + 1) * 8 { size *= 2 }  // load ≤ 3/8 after the rebuild
        let old = slots
        slots = [UInt64](repeating: Self.empty, count: size)
        tombstones = 0
        let mask = size - 1
        for slot in old where slot > Self.tombstone {
            var index = rehash(Self.place(slot)) & mask
            while slots[index] != Self.empty { index = (index + 1) & mask }
            slots[index] = slot
        }
    }

    private static let fingerprintMask: UInt64 = 1 << fingerprintBits - 1

    private static func fingerprint(_ hash: Int) -> UInt64 { UInt64(bitPattern: Int64(hash)) >> (64 - fingerprintBits) }

    private static func slot(_ place: ColdArena.Place, fingerprint: UInt64) -> UInt64 {
        precondition(place.offset < 1 << offsetBits && place.chunk < UInt32.max, "arena place \(place) does not fit a slot")
        return (UInt64(place.chunk) + 1) << 32 | UInt64(place.offset) << fingerprintBits | fingerprint
    }

    private static func place(_ slot: UInt64) -> ColdArena.Place {
        ColdArena.Place(chunk: UInt32(slot >> 32) - 1, offset: UInt32(truncatingIfNeeded: slot >> fingerprintBits) & (1 << offsetBits - 1))
    }
}
