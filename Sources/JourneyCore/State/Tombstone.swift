/// What `journeyd forget` keeps of an erased user: a 128-bit hash of the id, no personal data. Events
/// for a forgotten id are refused (counted, not logged, not quarantined) so nothing rebuilds the user.
///
/// The hash is stable (``StableHash``) and unkeyed: it tells whether an id was forgotten, it cannot be
/// turned back into the id — but an id guessed can be checked against it (pseudonymous, not anonymous).
public enum Tombstone {
    /// The tombstone of `user`: 32 lower-case hex digits.
    public static func hash(_ user: String) -> String {
        var a = StableHash()
        a.combine("forgotten user")
        a.combine(user)
        var b = StableHash()
        b.combine(0x5851_F42D_4C95_7F2D)
        b.combine(user)
        return hex(a.finalized) + hex(b.finalized)
    }

    static func hex(_ n: UInt64) -> String {
        let digits = String(n, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
