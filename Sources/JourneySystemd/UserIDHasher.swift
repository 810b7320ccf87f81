import CSystemd

/// What the log handlers write for the `user_id` metadata value (`logging.user_id` in journeyd.yaml).
public enum UserIDPolicy: Sendable {
    /// The id as the events carry it.
    case plain
    /// A stable keyed hash of the id (see ``UserIDHasher``).
    case hashed(UserIDHasher)

    func apply(to id: String) -> String {
        switch self {
        case .plain: id
        case .hashed(let hasher): hasher.hash(id)
        }
    }
}

/// Hashes user ids for logs: SipHash-2-4 of the id's UTF-8 bytes under a 128-bit key, written as 16
/// lowercase hex digits.
///
/// The same id gives the same hash as long as the key stays the same, so an operator can still follow
/// one user through `journalctl USER_ID=…` (their first record gives the hash), but the log alone
/// does not reveal it, and guessing ids (e-mail addresses, sequential numbers) and hashing them needs the
/// key. The default key is the machine's app-specific id (`sd_id128_get_machine_app_specific(3)`, an
/// HMAC of `/etc/machine-id` under journeyd's application id): stable across restarts on one machine,
/// different on every machine. Set `logging.user_id_key` (32 hex digits) to get the same hashes on
/// several machines.
///
/// SipHash is a keyed pseudo-random function made for exactly this (short inputs, secret key); it is not
/// a password hash, and 64 bits are plenty to tell users apart in logs without being an identifier store.
public struct UserIDHasher: Sendable, Equatable {
    let k0: UInt64
    let k1: UInt64

    /// journeyd's application id for `sd_id128_get_machine_app_specific` (never change it: every
    /// machine's hashes would change).
    static let applicationID: [UInt8] = [
        0x6a, 0x0b, 0x2f, 0x4e, 0x1c, 0x7d, 0x4a, 0x93, 0x8e, 0x55, 0x3d, 0x21, 0xc6, 0x0f, 0x9a, 0x17,
    ]

    /// A hasher with the 16-byte `key`.
    public init(key: [UInt8]) {
        precondition(key.count == 16, "a SipHash key has 16 bytes")
        k0 = key[0..<8].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        k1 = key[8..<16].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// A hasher with a key written as 32 hex digits; nil when `hex` is not that.
    public init?(hexKey hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var key: [UInt8] = []
        for index in stride(from: 0, to: 32, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            key.append(byte)
        }
        self.init(key: key)
    }

    /// The hasher keyed by this machine's app-specific id; nil when the machine id cannot be read.
    public static func machineKeyed() -> UserIDHasher? {
        var app = sd_id128_t()
        withUnsafeMutableBytes(of: &app.bytes) { $0.copyBytes(from: applicationID) }
        var derived = sd_id128_t()
        guard sd_id128_get_machine_app_specific(app, &derived) == 0 else { return nil }
        return UserIDHasher(key: withUnsafeBytes(of: derived.bytes) { Array($0) })
    }

    /// The id's hash: 16 lowercase hex digits.
    public func hash(_ id: String) -> String {
        let value = Self.sipHash24(Array(id.utf8), k0: k0, k1: k1)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// SipHash-2-4 (Aumasson & Bernstein), 64-bit output.
    static func sipHash24(_ bytes: [UInt8], k0: UInt64, k1: UInt64) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1
        func round() {
            v0 &+= v1
            v1 = v1.rotatedLeft(13)
            v1 ^= v0
            v0 = v0.rotatedLeft(32)
            v2 &+= v3
            v3 = v3.rotatedLeft(16)
            v3 ^= v2
            v0 &+= v3
            v3 = v3.rotatedLeft(21)
            v3 ^= v0
            v2 &+= v1
            v1 = v1.rotatedLeft(17)
            v1 ^= v2
            v2 = v2.rotatedLeft(32)
        }
        let whole = bytes.count / 8 * 8
        var index = 0
        while index < whole {
            var m: UInt64 = 0
            for shift in 0..<8 { m |= UInt64(bytes[index + shift]) << (8 * UInt64(shift)) }
            v3 ^= m
            round()
            round()
            v0 ^= m
            index += 8
        }
        var last = UInt64(truncatingIfNeeded: bytes.count) << 56
        for shift in 0..<(bytes.count - whole) { last |= UInt64(bytes[whole + shift]) << (8 * UInt64(shift)) }
        v3 ^= last
        round()
        round()
        v0 ^= last
        v2 ^= 0xff
        round()
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
