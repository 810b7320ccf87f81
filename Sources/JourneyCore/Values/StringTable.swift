/// Strings that recur across many encodings — journey ids and versions, event names, the keys of a
/// kept trigger event — stored once and written as a small number by a ``ByteWriter`` that carries
/// the table (issue 9: a waiting user's encoding repeats its journey's id twice, its version hash and
/// the trigger's property names; 122 of its bytes become about 66).
///
/// Only strings that recur are taken in: a string is counted in a small table of candidates (by hash)
/// and interned on its ``threshold``-th sighting, so strings seen once (message ids, user ids,
/// timestamps) never fill the table. Interned strings stay (encodings refer to them by index); the
/// table holds at most ``capacity`` of them, after which strings are written in full.
///
/// A string may be counted in either of two slots, and a newcomer takes the one with fewer sightings:
/// with one slot, two recurring strings that shared it reset each other's count at every alternation
/// and neither was ever interned (seen as a test that failed now and then: the slot came from Swift's
/// per-process seeded hash). The hash is ``StableHash``, so which strings are interned is the same
/// from run to run.
///
/// A value type, used by one owner (a partition's ``ColdUsers``): give it to a writer, take it back
/// after the encoding (`ByteWriter.strings`), so it is never shared while it grows.
public struct StringTable: Sendable {
    /// The most strings interned.
    public let capacity: Int
    /// Sightings after which a string is interned.
    public let threshold: UInt64
    /// The longest string interned, in UTF-8 bytes (longer ones are rare and kept in full).
    public static let longest = 256
    /// Candidate slots: a fingerprint of the string's hash above the low byte, the count in it.
    private var candidates: [UInt64]
    private var strings: [String] = []
    private var indices: [String: UInt32] = [:]

    public init(capacity: Int = 16_384, threshold: Int = 4, candidateSlots: Int = 4_096) {
        precondition(candidateSlots > 0 && candidateSlots & (candidateSlots - 1) == 0, "candidate slots must be a power of two")
        precondition(threshold >= 1 && threshold < 255 && capacity <= Int(UInt32.max))
        self.capacity = capacity
        self.threshold = UInt64(threshold)
        candidates = Array(repeating: 0, count: candidateSlots)
    }

    /// Strings interned so far.
    public var count: Int { strings.count }

    /// The string interned at `index`.
    public func string(at index: Int) -> String? { strings.indices.contains(index) ? strings[index] : nil }

    /// The index of `string` if it is interned; otherwise counts the sighting and interns it when it
    /// has recurred often enough (then returns its new index).
    public mutating func index(for string: String, utf8Count: Int) -> UInt32? {
        if let index = indices[string] { return index }
        guard utf8Count >= 2, utf8Count <= Self.longest, strings.count < capacity else { return nil }
        var hasher = StableHash()
        hasher.combine(string)
        let hash = hasher.finalized
        let mask = candidates.count - 1
        let first = Int(truncatingIfNeeded: hash) & mask
        let second = Int(truncatingIfNeeded: hash >> 40) & mask
        let fingerprint = hash & ~0xFF
        let slot: Int
        let sightings: UInt64
        if candidates[first] & ~0xFF == fingerprint {
            (slot, sightings) = (first, (candidates[first] & 0xFF) + 1)
        } else if candidates[second] & ~0xFF == fingerprint {
            (slot, sightings) = (second, (candidates[second] & 0xFF) + 1)
        } else {
            // A newcomer: in the slot whose candidate was seen less (a string seen once gives way).
            (slot, sightings) = (candidates[first] & 0xFF <= candidates[second] & 0xFF ? first : second, 1)
        }
        guard sightings >= threshold else {
            candidates[slot] = fingerprint | sightings
            return nil
        }
        candidates[slot] = 0
        let index = UInt32(strings.count)
        strings.append(string)
        indices[string] = index
        return index
    }
}

extension ByteWriter {
    /// A string through ``strings``: its index, tagged 1 in the low bit, or its length, tagged 0, and
    /// its bytes. Only ``ByteReader``s with the same table read it.
    mutating func tableString(_ value: String) {
        var s = value
        s.withUTF8 { utf8 in
            if let index = strings!.index(for: value, utf8Count: utf8.count) {
                varint(UInt64(index) << 1 | 1)
            } else {
                varint(UInt64(utf8.count) << 1)
                bytes.append(contentsOf: utf8)
            }
        }
    }
}
