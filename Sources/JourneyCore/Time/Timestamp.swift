/// An instant, as milliseconds since 1970-01-01T00:00:00Z. All engine time is in this unit:
/// it is exact, cheap to compare and to store, and what Segment timestamps resolve to.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    @inlinable public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static let distantPast = Timestamp(milliseconds: .min / 4)
    public static let distantFuture = Timestamp(milliseconds: .max / 4)

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }
    @inlinable public static func + (t: Timestamp, span: TimeSpan) -> Timestamp {
        Timestamp(milliseconds: t.milliseconds &+ span.milliseconds)
    }
    @inlinable public static func - (t: Timestamp, span: TimeSpan) -> Timestamp {
        Timestamp(milliseconds: t.milliseconds &- span.milliseconds)
    }
    @inlinable public static func - (a: Timestamp, b: Timestamp) -> TimeSpan {
        TimeSpan(milliseconds: a.milliseconds &- b.milliseconds)
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2025-01-06T10:00:00.000Z`.
    public var description: String { iso8601 }
}

extension Timestamp {
    /// RFC 3339 text in UTC: `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds always shown, so output is fixed-width).
    public var iso8601: String {
        var out = [UInt8]()
        out.reserveCapacity(24)
        writeISO8601(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func writeISO8601(into out: inout [UInt8]) {
        let ms = milliseconds
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let msOfDay = ms - days * 86_400_000
        let date = CivilDate(daysSinceEpoch: days)
        func two(_ n: Int64) {
            out.append(UInt8(48 + n / 10))
            out.append(UInt8(48 + n % 10))
        }
        let y = Int64(date.year)
        if y < 0 || y > 9999 {
            out.append(contentsOf: String(y).utf8)
        } else {
            two(y / 100)
            two(y % 100)
        }
        out.append(UInt8(ascii: "-"))
        two(Int64(date.month))
        out.append(UInt8(ascii: "-"))
        two(Int64(date.day))
        out.append(UInt8(ascii: "T"))
        two(msOfDay / 3_600_000)
        out.append(UInt8(ascii: ":"))
        two(msOfDay / 60_000 % 60)
        out.append(UInt8(ascii: ":"))
        two(msOfDay / 1000 % 60)
        out.append(UInt8(ascii: "."))
        let frac = msOfDay % 1000
        out.append(UInt8(48 + frac / 100))
        two(frac % 100)
        out.append(UInt8(ascii: "Z"))
    }

    /// Parses RFC 3339 / ISO 8601 date-times as analytics clients send them:
    /// `2025-01-06T10:00:00Z`, `…T10:00:00.123456+08:00`, `…T10:00:00+0800`, a space instead of `T`,
    /// and a bare date `2025-01-06` (midnight UTC). Fractions beyond milliseconds are truncated.
    /// Returns `nil` for anything else (including out-of-range fields such as month 13).
    public init?(iso8601 text: String) {
        var text = text
        let parsed = text.withUTF8 { Timestamp.parseISO8601($0) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// The byte-level parser behind ``init(iso8601:)``; usable directly on a slice of an input buffer.
    public static func parseISO8601(_ b: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        let n = b.count
        var i = 0
        @inline(__always) func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let c = b[i + k] &- 48
                guard c < 10 else { return nil }
                v = v * 10 + Int(c)
            }
            i += count
            return v
        }
        @inline(__always) func expect(_ c: UInt8) -> Bool {
            guard i < n, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
            let day = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year) else { return nil }
        var ms = Int64(CivilDate(year: year, month: month, day: day).daysSinceEpoch) * 86_400_000
        if i == n { return Timestamp(milliseconds: ms) }
        guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2) else { return nil }
        var second = 0
        if expect(UInt8(ascii: ":")) {
            guard let s = digits(2) else { return nil }
            second = s
        }
        guard hour < 24, minute < 60, second < 61 else { return nil }
        ms += Int64(hour * 3_600_000 + minute * 60_000 + min(second, 59) * 1000)
        if i < n && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",")) {
            i += 1
            var scale: Int64 = 100
            var any = false
            while i < n, b[i] &- 48 < 10 {
                ms += Int64(b[i] &- 48) * scale
                scale /= 10
                i += 1
                any = true
            }
            guard any else { return nil }
        }
        if i == n { return Timestamp(milliseconds: ms) }  // no zone: taken as UTC
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = b[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            guard let oh = digits(2) else { return nil }
            _ = expect(UInt8(ascii: ":"))
            let om = digits(2) ?? 0
            guard oh < 24, om < 60 else { return nil }
            ms -= sign * Int64(oh * 3_600_000 + om * 60_000)
        default:
            return nil
        }
        return i == n ? Timestamp(milliseconds: ms) : nil
    }
}
