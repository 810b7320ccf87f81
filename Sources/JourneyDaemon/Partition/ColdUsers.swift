import JourneyCore

/// Users in memory in their checkpoint encoding (``UserState/encoded()``): what a user costs while
/// nothing happens to it — a waiting enrollment, a known profile — is its encoding in a ``ColdArena``
/// chunk and a dictionary entry, instead of a dozen allocations of decoded state (issue 9: bytes per
/// waiting enrollment, bytes per user).
///
/// Only clean users are compacted (a checkpoint holds their last change, so the encoding is theirs
/// exactly: the same bytes the store keeps), a few hundred per turn of the processor so no turn stalls;
/// a user is decoded again on its next event. Decoding reproduces the state exactly (the checkpoint
/// round trip), so the engine sees the same user either way and stays deterministic.
struct ColdUsers {
    private var places: [String: ColdArena.Place] = [:]
    private var arena = ColdArena()
    /// Users a written checkpoint made clean, to compact when their turn comes.
    private var queue: [String] = []
    private var head = 0

    var count: Int { places.count }
    /// Whether compaction work is waiting (the processor then does not sleep long).
    var hasWork: Bool { head < queue.count || arena.wantsReclaim }
    /// Bytes of encodings held, and of holes left by users taken out.
    var bytes: (live: Int, garbage: Int) { (arena.liveBytes, arena.garbageBytes) }

    func contains(_ id: String) -> Bool { places.index(forKey: id) != nil }

    /// The user's bytes, if compacted.
    func bytes(of id: String) -> [UInt8]? { places[id].map { arena.bytes(at: $0) } }

    /// Takes the user out (it is decoded and becomes hot again).
    mutating func take(_ id: String) -> [UInt8]? {
        guard let place = places.removeValue(forKey: id) else { return nil }
        defer { arena.remove(place) }
        return arena.bytes(at: place)
    }

    mutating func remove(_ id: String) {
        if let place = places.removeValue(forKey: id) { arena.remove(place) }
    }

    mutating func store(_ id: String, _ bytes: [UInt8]) {
        let place = arena.store(bytes)
        if let old = places.updateValue(place, forKey: id) { arena.remove(old) }
    }

    /// Moves users out of mostly empty chunks when holes outweigh half of what is live (one pass over
    /// the users: rare, since each user taken out adds only its own length to the holes).
    mutating func reclaim() {
        guard arena.wantsReclaim else { return }
        var places = self.places
        self.places = [:]  // not shared while the places move, so changing them copies nothing
        arena.reclaim { move in
            var index = places.startIndex
            while index != places.endIndex {
                move(&places.values[index])
                index = places.index(after: index)
            }
        }
        self.places = places
    }

    /// Users that may be compacted once their turn comes (checked again then: they may be dirty).
    mutating func enqueue(_ ids: [String]) {
        if head == queue.count {
            queue = ids
            head = 0
        } else {
            queue.append(contentsOf: ids)
        }
    }

    /// The next `limit` users to look at.
    mutating func next(_ limit: Int) -> ArraySlice<String> {
        let end = min(queue.count, head + limit)
        defer {
            head = end
            if head == queue.count {
                queue = []
                head = 0
            }
        }
        return queue[head..<end]
    }

    /// Cold users to drop from memory (the store holds them), at most `limit`.
    func evictable(_ limit: Int) -> [String] { Array(places.keys.prefix(limit)) }
}
