import JourneyCore

/// A date the `date` filter can format.
enum DateInput {
    /// An instant (a time with a zone or offset, a Unix time, `"now"`): shown in the user's zone.
    case instant(Timestamp)
    /// A calendar date or a wall time without an offset (`"2025-03-15"`, `"2025-03-15 10:00"`): shown as
    /// written, whatever the user's zone — a birthday is the same day everywhere. Milliseconds of wall
    /// time since 1970-01-01T00:00.
    case floating(Int64)

    /// Reads `value` as Liquid's `date` does: `"now"`/`"today"`, ISO 8601 / RFC 3339 text, a Unix time
    /// (a number or digits); nil for anything else (the filter then returns its input unchanged).
    init?(_ value: Value, now: Timestamp) {
        switch value {
        case .number(let seconds):
            guard seconds.isFinite, Swift.abs(seconds) < 1e11 else { return nil }
            self = .instant(Timestamp(milliseconds: Int64((seconds * 1000).rounded(.down))))
        case .string(let raw):
            let text = Strings.trim(raw, leading: true, trailing: true)
            if text.utf8.count <= 5, case let lowered = text.lowercased(), lowered == "now" || lowered == "today" {
                self = .instant(now)
                return
            }
            if !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                guard let seconds = Double(text) else { return nil }
                self.init(.number(seconds), now: now)
                return
            }
            guard let t = Timestamp(iso8601: text) else {
                // Only when it is not ISO 8601: words are slower to read, and rarely what data holds.
                guard let date = Self.writtenDate(text) else { return nil }
                self = .floating(date.daysSinceEpoch * 86_400_000)
                return
            }
            // A zone is present when the text has a time and ends in `Z` or an offset after it.
            let bytes = Array(text.utf8)
            let hasTime = bytes.count > 10
            let hasZone =
                hasTime
                && (bytes.last == UInt8(ascii: "Z") || bytes.last == UInt8(ascii: "z")
                    || bytes[11...].contains(UInt8(ascii: "+")) || bytes[11...].contains(UInt8(ascii: "-")))
            self = hasZone ? .instant(t) : .floating(t.milliseconds)
        default:
            return nil
        }
    }
}

extension DateInput {
    static let monthNames = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
        "december",
    ]

    /// A date as people write it in English: `March 14, 2016`, `Mar 14 2016`, `14 March 2016`.
    static func writtenDate(_ text: String) -> CivilDate? {
        let words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        guard words.count == 3 else { return nil }
        func month(_ word: String) -> Int? {
            guard word.count >= 3 else { return nil }
            return monthNames.firstIndex { $0.hasPrefix(word) }.map { $0 + 1 }
        }
        let (m, d, y): (Int?, Int?, Int?) =
            month(words[0]) != nil ? (month(words[0]), Int(words[1]), Int(words[2])) : (month(words[1]), Int(words[0]), Int(words[2]))
        guard let m, let d, let y, (1...31).contains(d), (1...9999).contains(y) else { return nil }
        return CivilDate(year: y, month: m, day: d)
    }
}

/// A `strftime` format, split into pieces once.
///
/// Directives: `%Y %C %y %m %B %b %h %d %e %j %H %k %I %l %M %S %L %p %P %A %a %u %w %Z %z %s %F %T %D %R
/// %n %t %%`; flags `-` (no padding: `%-d`), `_` (pad with spaces), `0` (pad with zeros), `^` (upper case).
/// Names are English. An unknown directive is written as it stands.
struct DateFormat: Sendable {
    enum Piece: Sendable {
        case literal([UInt8])
        case field(UInt8, Flags)
    }

    struct Flags: Sendable {
        var pad: UInt8?  // nil: default padding; 0: none; else the pad byte
        var upper = false
    }

    let pieces: [Piece]

    static let directives = Set("YCymBbhdejHkIlMSLpPAauwZzsFTDRnt%".utf8)

    init(_ format: String) {
        let bytes = Array(format.utf8)
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "%"), i + 1 < bytes.count else {
                literal.append(bytes[i])
                i += 1
                continue
            }
            var j = i + 1
            var flags = Flags()
            flagLoop: while j < bytes.count {
                switch bytes[j] {
                case UInt8(ascii: "-"): flags.pad = 0
                case UInt8(ascii: "_"): flags.pad = 32
                case UInt8(ascii: "0"): flags.pad = 48
                case UInt8(ascii: "^"): flags.upper = true
                default: break flagLoop
                }
                j += 1
            }
            guard j < bytes.count, Self.directives.contains(bytes[j]) else {
                literal.append(contentsOf: bytes[i..<min(j + 1, bytes.count)])
                i = j + 1
                continue
            }
            if !literal.isEmpty {
                pieces.append(.literal(literal))
                literal = []
            }
            pieces.append(.field(bytes[j], flags))
            i = j + 1
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        self.pieces = pieces
    }

    static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
        "December",
    ]
    static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    func format(_ input: DateInput, in zone: Zone) -> String {
        let wall: Int64
        let offset: Int64
        let unix: Int64
        switch input {
        case .instant(let t):
            offset = zone.offsetSeconds(at: t)
            wall = t.milliseconds + offset * 1000
            unix = t.milliseconds
        case .floating(let ms):
            offset = zone.offsetSeconds(at: Timestamp(milliseconds: ms))
            wall = ms
            unix = ms - offset * 1000
        }
        let days = wall >= 0 ? wall / 86_400_000 : (wall - 86_399_999) / 86_400_000
        let msOfDay = wall - days * 86_400_000
        let date = CivilDate(daysSinceEpoch: days)
        let hour = Int(msOfDay / 3_600_000)
        let minute = Int(msOfDay / 60_000 % 60)
        let second = Int(msOfDay / 1000 % 60)

        var out: [UInt8] = []
        out.reserveCapacity(32)
        func number(_ n: Int, width: Int, _ flags: Flags, defaultPad: UInt8 = 48) {
            var v = Swift.abs(n)
            var count = 1
            var power = 10
            while v >= power && count < 18 {
                count += 1
                power *= 10
            }
            if n < 0 { out.append(UInt8(ascii: "-")) }
            let pad = flags.pad ?? defaultPad
            if pad != 0 { for _ in count..<max(width, count) { out.append(pad) } }
            var divisor = power / 10
            while divisor > 0 {
                out.append(UInt8(48 + v / divisor % 10))
                v %= divisor
                divisor /= 10
            }
        }
        func word(_ s: String, _ flags: Flags) { out.append(contentsOf: (flags.upper ? s.uppercased() : s).utf8) }

        for piece in pieces {
            switch piece {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .field(let directive, let flags):
                switch directive {
                case UInt8(ascii: "Y"): number(date.year, width: 1, flags)
                case UInt8(ascii: "C"): number(date.year / 100, width: 2, flags)
                case UInt8(ascii: "y"): number(((date.year % 100) + 100) % 100, width: 2, flags)
                case UInt8(ascii: "m"): number(date.month, width: 2, flags)
                case UInt8(ascii: "B"): word(Self.months[date.month - 1], flags)
                case UInt8(ascii: "b"), UInt8(ascii: "h"): word(String(Self.months[date.month - 1].prefix(3)), flags)
                case UInt8(ascii: "d"): number(date.day, width: 2, flags)
                case UInt8(ascii: "e"): number(date.day, width: 2, flags, defaultPad: 32)
                case UInt8(ascii: "j"):
                    let dayOfYear = Int(days - CivilDate(year: date.year, month: 1, day: 1).daysSinceEpoch) + 1
                    number(dayOfYear, width: 3, flags)
                case UInt8(ascii: "H"): number(hour, width: 2, flags)
                case UInt8(ascii: "k"): number(hour, width: 2, flags, defaultPad: 32)
                case UInt8(ascii: "I"): number((hour + 11) % 12 + 1, width: 2, flags)
                case UInt8(ascii: "l"): number((hour + 11) % 12 + 1, width: 2, flags, defaultPad: 32)
                case UInt8(ascii: "M"): number(minute, width: 2, flags)
                case UInt8(ascii: "S"): number(second, width: 2, flags)
                case UInt8(ascii: "L"): number(Int(msOfDay % 1000), width: 3, flags)
                case UInt8(ascii: "p"): word(hour < 12 ? "AM" : "PM", flags)
                case UInt8(ascii: "P"): word(hour < 12 ? "am" : "pm", flags)
                case UInt8(ascii: "A"): word(Self.weekdays[date.weekday - 1], flags)
                case UInt8(ascii: "a"): word(String(Self.weekdays[date.weekday - 1].prefix(3)), flags)
                case UInt8(ascii: "u"): number(date.weekday, width: 1, flags)
                case UInt8(ascii: "w"): number(date.weekday % 7, width: 1, flags)
                case UInt8(ascii: "Z"): word(ZoneNames.abbreviation(zone, offsetSeconds: offset), flags)
                case UInt8(ascii: "z"):
                    out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
                    number(Int(Swift.abs(offset) / 3600), width: 2, Flags())
                    number(Int(Swift.abs(offset) / 60 % 60), width: 2, Flags())
                case UInt8(ascii: "s"):
                    number(Int(unix >= 0 ? unix / 1000 : (unix - 999) / 1000), width: 1, flags)
                case UInt8(ascii: "F"):
                    number(date.year, width: 4, Flags())
                    out.append(UInt8(ascii: "-"))
                    number(date.month, width: 2, Flags())
                    out.append(UInt8(ascii: "-"))
                    number(date.day, width: 2, Flags())
                case UInt8(ascii: "T"), UInt8(ascii: "R"):
                    number(hour, width: 2, Flags())
                    out.append(UInt8(ascii: ":"))
                    number(minute, width: 2, Flags())
                    if directive == UInt8(ascii: "T") {
                        out.append(UInt8(ascii: ":"))
                        number(second, width: 2, Flags())
                    }
                case UInt8(ascii: "D"):
                    number(date.month, width: 2, Flags())
                    out.append(UInt8(ascii: "/"))
                    number(date.day, width: 2, Flags())
                    out.append(UInt8(ascii: "/"))
                    number(((date.year % 100) + 100) % 100, width: 2, Flags())
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                default: out.append(UInt8(ascii: "%"))
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
