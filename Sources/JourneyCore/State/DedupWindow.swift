/// The message ids seen recently, to drop duplicate events (same `messageId` from the same source):
/// the one deduplication structure every store and the engine share.
///
/// Ids are kept for `window` of event-processing time and at most `maxEntries` of them, forgetting the
/// oldest first (`dedup.window`, `dedup.max_entries` in journeyd.yaml). Each id is remembered by a
/// 128-bit hash — 16 bytes instead of a string: two distinct ids collide with a probability of about
/// n²/2¹²⁹ (below 10⁻²⁴ for ten million ids), so no event is dropped by a collision in practice. Held in
/// a ``KeyRing``: about 40–50 bytes per remembered id in memory.
public struct DedupWindow: Sendable {
    /// A remembered id: its 128-bit hash.
    public struct Key: Sendable, Hashable {
        public var high: UInt64
        public var low: UInt64
        public init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        /// The key of `messageId` within `namespace` (a source's name, so ids are per source).
        public init(_ messageId: String, namespace: String = "") {
            var a = StableHash()
            a.combine(namespace)
            a.combine(messageId)
            var b = StableHash()
            b.combine(0x9E37_79B9_7F4A_7C15)
            b.combine(namespace)
            b.combine(byte: 0)
            b.combine(messageId)
            high = a.finalized
            low = b.finalized
        }
    }

    public struct Entry: Sendable, Hashable {
        public var key: Key
        public var at: Timestamp
        public init(key: Key, at: Timestamp) {
            self.key = key
            self.at = at
        }
    }

    public var window: TimeSpan
    public var maxEntries: Int
    private var ring = KeyRing()

    public init(window: TimeSpan = .days(7), maxEntries: Int = 10_000_000) {
        self.window = window
        self.maxEntries = max(1, maxEntries)
    }

    /// How many ids are remembered.
    public var count: Int { ring.count }

    /// Records `key` as seen at `at`; returns false when it was already seen (a duplicate).
    public mutating func insert(_ key: Key, at: Timestamp) -> Bool {
        expire(before: at - window)
        if ring.count >= maxEntries {
            if ring.contains(key) { return false }
            while ring.count >= maxEntries { ring.removeOldest() }
        }
        return ring.append(key, at: at)
    }

    public func contains(_ key: Key) -> Bool { ring.contains(key) }

    /// Restores remembered ids (from a checkpoint), oldest first.
    public mutating func restore(_ entries: some Sequence<Entry>) {
        for entry in entries { _ = ring.append(entry.key, at: entry.at) }
    }

    /// The oldest remembered id.
    public var oldest: Entry? { ring.oldest }

    /// The remembered ids, oldest first.
    public var entries: [Entry] { ring.entries }

    /// Forgets ids seen before `horizon`.
    public mutating func expire(before horizon: Timestamp) {
        while let oldest = ring.oldest, oldest.at < horizon { ring.removeOldest() }
    }
}
