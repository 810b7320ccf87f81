import JourneyCore

/// Users in memory in their checkpoint encoding (``UserState/encoded()``): what a user costs while
/// nothing happens to it — a waiting enrollment, a known profile — is one byte array instead of a
/// dozen allocations of decoded state (issue 9: bytes per waiting enrollment, bytes per user).
///
/// Only clean users are compacted (a checkpoint holds their last change, so the encoding is theirs
/// exactly: the same bytes the store keeps), a few hundred per turn of the processor so no turn stalls;
/// a user is decoded again on its next event. Decoding reproduces the state exactly (the checkpoint
/// round trip), so the engine sees the same user either way and stays deterministic.
struct ColdUsers {
    private var encoded: [String: [UInt8]] = [:]
    /// Users a written checkpoint made clean, to compact when their turn comes.
    private var queue: [String] = []
    private var head = 0

    var count: Int { encoded.count }
    /// Whether compaction work is waiting (the processor then does not sleep long).
    var hasWork: Bool { head < queue.count }

    func contains(_ id: String) -> Bool { encoded.index(forKey: id) != nil }

    /// The user's bytes, if compacted.
    func bytes(of id: String) -> [UInt8]? { encoded[id] }

    /// Takes the user out (it is decoded and becomes hot again).
    mutating func take(_ id: String) -> [UInt8]? { encoded.removeValue(forKey: id) }

    mutating func remove(_ id: String) { encoded[id] = nil }

    mutating func store(_ id: String, _ bytes: [UInt8]) { encoded[id] = bytes }

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
    func evictable(_ limit: Int) -> [String] { Array(encoded.keys.prefix(limit)) }
}
