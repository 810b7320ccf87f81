/// A 64-bit FNV-1a hash whose value never changes between processes or platforms
/// (unlike `Hasher`, which is seeded per process). Used for touch ids, journey content
/// versions and the seeded randomness of `split`.
public struct StableHash: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func combine(_ s: String) {
        for byte in s.utf8 { combine(byte: byte) }
        combine(byte: 0xff)  // separator: ("ab","c") and ("a","bc") differ
    }

    public mutating func combine(_ n: UInt64) {
        var n = n
        for _ in 0..<8 {
            combine(byte: UInt8(truncatingIfNeeded: n))
            n >>= 8
        }
    }

    public mutating func combine<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for byte in bytes { combine(byte: byte) }
    }

    @inline(__always)
    public mutating func combine(byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    /// The final value, passed through a 64-bit finalizer (splitmix) so nearby inputs spread over all bits.
    public var finalized: UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// `finalized` as 16 lower-case hex digits.
    public var hex: String {
        let value = finalized
        // Written in place: touch ids are made once per touch, and radix formatting plus padding cost
        // three allocations (issue 9).
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for i in 0..<16 {
                let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * i)) & 0xF
                buffer[i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble  // 0-9, a-f
            }
            return 16
        }
    }

    public static func of(_ parts: String...) -> StableHash {
        var h = StableHash()
        for p in parts { h.combine(p) }
        return h
    }

    /// A 128-bit id of `parts` in order, as 32 hex digits (two differently seeded hashes): message ids
    /// that must be the same on every replay, where two different ones collide with a probability of
    /// about n²/2¹²⁹.
    public static func id128(_ parts: some Sequence<String>) -> String {
        var a = StableHash()
        var b = StableHash()
        b.combine(0x9E37_79B9_7F4A_7C15)
        for part in parts {
            a.combine(part)
            b.combine(part)
        }
        return a.hex + b.hex
    }
}
