import JourneyCore

/// The users of an ``InMemoryStateStore``: a hash table from id to slot, beside the states in chunks of
/// ``chunkSize`` slots that stay where they are once written.
///
/// A `[String: UserState]` kept every state (about 240 bytes) inline in the table's buckets. At 100,000
/// users that table had 262,144 buckets (the next power of two at most three quarters full), about 63 MB,
/// and each doubling on the way there moved every state into fresh memory the kernel had to zero first.
/// Here a bucket holds an id and a slot (24 bytes); a user's state is written once, in a chunk that never
/// moves; growing copies ids and slots, and the list of chunks. A removed user's slot is reused by the
/// next new one. Measured (issue 9, bench/README.md): `journeyd replay` of the 1,000,000-event bench
/// stream peaks about 30 MB lower, the engine bench 54 MB; the rates moved by less than the noise.
///
/// A value type like the dictionary it replaces: a copy of the store is independent, and writing to a
/// copy copies one chunk, not every state.
struct UserSlots: Sendable {
    /// States per chunk: a power of two, so a slot splits into chunk and offset by shift and mask.
    static let chunkSize = 1 << shift
    private static let shift = 10
    private static let mask = chunkSize - 1

    private var index: [String: Int] = [:]
    private var chunks: [[UserState]] = []
    /// Slots of removed users, reused first.
    private var free: [Int] = []
    /// Slots handed out so far, free ones included.
    private var used = 0

    /// How many users are held.
    var count: Int { index.count }

    /// Calls `body` with `id`'s state, in place; an unknown id gets a fresh state first (kept even if
    /// `body` changes nothing, as a dictionary's `default:` subscript does).
    mutating func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        let slot = index[id] ?? add(id)
        return try body(&chunks[slot >> Self.shift][slot & Self.mask])
    }

    func user(_ id: String) -> UserState? {
        guard let slot = index[id] else { return nil }
        return chunks[slot >> Self.shift][slot & Self.mask]
    }

    func contains(_ id: String) -> Bool { index[id] != nil }

    mutating func remove(_ id: String) {
        guard let slot = index.removeValue(forKey: id) else { return }
        chunks[slot >> Self.shift][slot & Self.mask] = UserState(id: "")  // the state's memory goes now, not at reuse
        free.append(slot)
    }

    /// Every state by id (a copy).
    var all: [String: UserState] { index.mapValues { chunks[$0 >> Self.shift][$0 & Self.mask] } }

    private mutating func add(_ id: String) -> Int {
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            chunks[slot >> Self.shift][slot & Self.mask] = UserState(id: id)
        } else {
            slot = used
            used += 1
            if slot & Self.mask == 0 {
                var chunk: [UserState] = []
                chunk.reserveCapacity(Self.chunkSize)
                chunks.append(chunk)
            }
            chunks[slot >> Self.shift].append(UserState(id: id))
        }
        index[id] = slot
        return slot
    }
}
