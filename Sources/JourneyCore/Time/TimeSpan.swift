/// A length of time in milliseconds, written in rule files as `90s`, `15m`, `1h`, `1h30m`, `7d`, `2w`
/// (and `500ms`). Calendar-free: `1d` is 24 hours. Waits that must follow the user's calendar
/// (`until: "10:00"`) are expressed differently.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    @inlinable public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func milliseconds(_ ms: Int64) -> TimeSpan { TimeSpan(milliseconds: ms) }
    public static func seconds(_ s: Int64) -> TimeSpan { TimeSpan(milliseconds: s * 1000) }
    public static func minutes(_ m: Int64) -> TimeSpan { TimeSpan(milliseconds: m * 60_000) }
    public static func hours(_ h: Int64) -> TimeSpan { TimeSpan(milliseconds: h * 3_600_000) }
    public static func days(_ d: Int64) -> TimeSpan { TimeSpan(milliseconds: d * 86_400_000) }
    public static let zero = TimeSpan(milliseconds: 0)

    @inlinable public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.milliseconds < b.milliseconds }
    @inlinable public static func + (a: TimeSpan, b: TimeSpan) -> TimeSpan {
        TimeSpan(milliseconds: a.milliseconds + b.milliseconds)
    }

    private static let units: [(suffix: String, ms: Int64)] = [
        ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ]

    /// Parses `1h30m`-style text. Returns `nil` on anything malformed: no unit, unknown unit, empty, a sign,
    /// or overflow. Units may repeat in any order (`30m1h` is 90 minutes) but each needs digits before it.
    public init?(parsing text: String) {
        var total: Int64 = 0
        var number: Int64? = nil
        var chars = Array(text.utf8)[...]
        guard !chars.isEmpty else { return nil }
        while let c = chars.first {
            if c >= 48 && c <= 57 {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int64(c - 48))
                guard !o1, !o2 else { return nil }
                number = s
                chars = chars.dropFirst()
                continue
            }
            guard let n = number else { return nil }
            var unitMs: Int64
            if chars.starts(with: "ms".utf8) {
                unitMs = 1
                chars = chars.dropFirst(2)
            } else {
                switch c {
                case UInt8(ascii: "w"): unitMs = 604_800_000
                case UInt8(ascii: "d"): unitMs = 86_400_000
                case UInt8(ascii: "h"): unitMs = 3_600_000
                case UInt8(ascii: "m"): unitMs = 60_000
                case UInt8(ascii: "s"): unitMs = 1000
                default: return nil
                }
                chars = chars.dropFirst()
            }
            let (p, o1) = n.multipliedReportingOverflow(by: unitMs)
            let (t, o2) = total.addingReportingOverflow(p)
            guard !o1, !o2 else { return nil }
            total = t
            number = nil
        }
        guard number == nil else { return nil }  // trailing digits without a unit
        self.milliseconds = total
    }

    /// Shortest text that parses back to the same span, e.g. `1h30m`, `7d`, `0s`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var out = milliseconds < 0 ? "-" : ""
        rest = abs(rest)
        for (suffix, ms) in Self.units where rest >= ms {
            if suffix == "w" && rest % ms != 0 { continue }  // prefer 10d over 1w3d
            out += "\(rest / ms)\(suffix)"
            rest %= ms
        }
        return out
    }
}
