import JourneyCore

/// Users in memory in their checkpoint encoding (``UserState/encode(into:)``) with recurring strings
/// by number (``StringTable``): what a user costs while nothing happens to it — a waiting enrollment, a
/// known profile — is its encoding in a ``ColdArena`` chunk and a dictionary entry, instead of a dozen
/// allocations of decoded state (issue 9: bytes per waiting enrollment, bytes per user).
///
/// Only clean users are compacted (a checkpoint holds their last change), a few hundred per turn of the
/// processor so no turn stalls; a user is decoded again on its next event. Decoding reproduces the state
/// exactly (the checkpoint round trip; the table only replaces a string by its number), so the engine
/// sees the same user either way and stays deterministic.
struct ColdUsers {
    private var index = ColdIndex()
    /// Each user's id (length and UTF-8) followed by its encoding.
    private var arena = ColdArena()
    /// The journey ids and versions, event and property names the encodings share, each kept once.
    /// Optional only to be handed to a writer while it grows (never shared, so never copied).
    private var strings: StringTable? = StringTable()
    /// Users a written checkpoint made clean, to compact when their turn comes.
    private var queue: [String] = []
    private var head = 0

    var count: Int { index.count }
    /// Whether compaction work is waiting (the processor then does not sleep long).
    var hasWork: Bool { head < queue.count || arena.wantsReclaim }
    /// Bytes of entries held (ids and encodings), and of holes left by users taken out.
    var bytes: (live: Int, garbage: Int) { (arena.liveBytes, arena.garbageBytes) }
    /// Strings kept once for all users.
    var sharedStrings: Int { strings?.count ?? 0 }

    func contains(_ id: String) -> Bool { slot(of: id) != nil }

    /// Compacts `user` (replacing its earlier encoding).
    mutating func store(_ id: String, user: UserState) {
        var writer = ByteWriter(capacity: 128)
        Self.writeID(id, into: &writer)
        swap(&writer.strings, &strings)
        user.encode(into: &writer)
        swap(&writer.strings, &strings)
        put(id, writer.bytes)
    }

    /// The user, decoded, if compacted (it stays compacted).
    func user(_ id: String) throws(BinaryDecodingError) -> UserState? {
        guard let slot = slot(of: id) else { return nil }
        return try decode(id, index.place(at: slot))
    }

    /// The traits of a compacted user, without decoding the rest (it stays compacted).
    func traits(_ id: String) throws(BinaryDecodingError) -> Value? {
        guard let slot = slot(of: id) else { return nil }
        return try read(index.place(at: slot)) { reader throws(BinaryDecodingError) in try UserState.traits(from: &reader) }
    }

    /// Takes the user out, decoded (it becomes hot again).
    mutating func take(user id: String) throws(BinaryDecodingError) -> UserState? {
        guard let slot = slot(of: id) else { return nil }
        let place = index.place(at: slot)
        defer { drop(slot, place) }
        return try decode(id, place)
    }

    /// Raw bytes instead of a user's encoding (tests of the arena and the index).
    mutating func store(_ id: String, _ bytes: [UInt8]) {
        var writer = ByteWriter(capacity: bytes.count + 16)
        Self.writeID(id, into: &writer)
        writer.bytes.append(contentsOf: bytes)
        put(id, writer.bytes)
    }

    /// The bytes stored for `id`, if any.
    func bytes(of id: String) -> [UInt8]? {
        guard let slot = slot(of: id) else { return nil }
        return arena.withBytes(at: index.place(at: slot)) { raw in Array(raw[Self.idRange(raw).upperBound...]) }
    }

    /// Takes the bytes stored for `id` out.
    mutating func take(_ id: String) -> [UInt8]? {
        guard let slot = slot(of: id) else { return nil }
        let place = index.place(at: slot)
        defer { drop(slot, place) }
        return arena.withBytes(at: place) { raw in Array(raw[Self.idRange(raw).upperBound...]) }
    }

    mutating func remove(_ id: String) {
        if let slot = slot(of: id) { drop(slot, index.place(at: slot)) }
    }

    /// Moves users out of mostly empty chunks when holes outweigh half of what is live (one pass over
    /// the users: rare, since each user taken out adds only its own length to the holes).
    mutating func reclaim() {
        guard arena.wantsReclaim else { return }
        var index = self.index
        self.index = ColdIndex()  // not shared while the places move, so changing them copies nothing
        arena.reclaim { move in index.updatePlaces(move) }
        self.index = index
    }

    private mutating func put(_ id: String, _ entry: [UInt8]) {
        let place = arena.store(entry)
        if let slot = slot(of: id) {
            let old = index.place(at: slot)
            index.replace(at: slot, with: place)
            arena.remove(old)
        } else {
            let arena = self.arena
            index.insert(hash: id.hashValue, place: place) { Self.id(at: $0, in: arena).hashValue }
        }
    }

    private mutating func drop(_ slot: Int, _ place: ColdArena.Place) {
        index.remove(at: slot)
        arena.remove(place)
    }

    private func slot(of id: String) -> Int? {
        index.find(hash: id.hashValue) { place in
            arena.withBytes(at: place) { raw in
                let stored = raw[Self.idRange(raw)]
                var id = id
                // Bytes first; ids equal as strings but spelled apart (Unicode normalization) are one user, as in a dictionary.
                return id.withUTF8 { stored.elementsEqual($0) } || String(decoding: stored, as: UTF8.self) == id
            }
        }
    }

    private func decode(_ id: String, _ place: ColdArena.Place) throws(BinaryDecodingError) -> UserState {
        try read(place) { reader throws(BinaryDecodingError) in try UserState(id: id, from: &reader) }
    }

    /// Reads the encoding at `place` (after the id), with the shared strings.
    private func read<T>(_ place: ColdArena.Place, _ body: (inout ByteReader) throws(BinaryDecodingError) -> T) throws(BinaryDecodingError) -> T {
        try arena.withBytes(at: place) { raw throws(BinaryDecodingError) in
            var reader = ByteReader(raw, offset: Self.idRange(raw).upperBound)
            reader.strings = strings
            return try body(&reader)
        }
    }

    private static func writeID(_ id: String, into writer: inout ByteWriter) {
        var id = id
        id.withUTF8 { writer.blob($0) }
    }

    /// Where the id is in an entry (after its length).
    private static func idRange(_ entry: UnsafeRawBufferPointer) -> Range<Int> {
        var reader = ByteReader(entry)
        let length = (try? reader.length()) ?? 0  // written by ``writeID(_:into:)`` just before
        return reader.offset..<reader.offset + length
    }

    private static func id(at place: ColdArena.Place, in arena: ColdArena) -> String {
        arena.withBytes(at: place) { raw in String(decoding: raw[idRange(raw)], as: UTF8.self) }
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
    func evictable(_ limit: Int) -> [String] { index.places(limit).map { Self.id(at: $0, in: arena) } }
}
