import JourneyCore

/// The filters templates can use, by their Liquid names.
enum Filter: String, Sendable, CaseIterable {
    case `default`
    case upcase, downcase, capitalize
    case truncate, truncatewords
    case strip, lstrip, rstrip
    case stripHTML = "strip_html", stripNewlines = "strip_newlines", newlineToBr = "newline_to_br"
    case replace, replaceFirst = "replace_first", replaceLast = "replace_last"
    case remove, removeFirst = "remove_first", removeLast = "remove_last"
    case append, prepend
    case split, join, first, last, size, sort, sortNatural = "sort_natural", uniq, reverse, map, compact, slice
    case `where`, concat
    case plus, minus, times, dividedBy = "divided_by", modulo, round, ceil, floor, abs
    case atLeast = "at_least", atMost = "at_most"
    case date
    case escape, h, escapeOnce = "escape_once", urlEncode = "url_encode", urlDecode = "url_decode", json

    /// How many positional arguments it takes, and its keyword arguments.
    var arity: (min: Int, max: Int, keywords: [String]) {
        switch self {
        case .default: return (1, 1, ["allow_false"])
        case .truncate, .truncatewords: return (0, 2, [])
        case .replace, .replaceFirst, .replaceLast: return (1, 2, [])
        case .remove, .removeFirst, .removeLast, .append, .prepend, .split, .map, .concat: return (1, 1, [])
        case .plus, .minus, .times, .dividedBy, .modulo, .atLeast, .atMost, .date: return (1, 1, [])
        case .join, .sort, .sortNatural, .uniq, .compact, .round: return (0, 1, [])
        case .slice, .where: return (1, 2, [])
        default: return (0, 0, [])
        }
    }

    /// Names from other template languages (and common slips) that mean one of ours.
    static let aliases: [String: Filter] = [
        "upper": .upcase, "uppercase": .upcase, "lower": .downcase, "lowercase": .downcase,
        "capfirst": .capitalize, "title": .capitalize, "length": .size, "count": .size, "trim": .strip,
        "escape_html": .escape, "urlencode": .urlEncode, "url_escape": .urlEncode, "to_json": .json,
        "jsonify": .json, "divide": .dividedBy, "divided": .dividedBy, "mod": .modulo, "truncate_words": .truncatewords,
        "strftime": .date, "format_date": .date,
    ]

    static let byName: [String: Filter] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })
}

/// A filter with its compiled arguments.
struct FilterCall: Sendable {
    var filter: Filter
    var args: [Expr]
    var keywords: [(name: String, value: Expr)]
    /// `date` with a literal format: the format compiled once.
    var dateFormat: DateFormat?
    /// `divided_by` with a number written with a fraction (`3.0`) divides exactly, as in Liquid.
    var exactDivision = false
    /// `newline_to_br` in an HTML part escapes its input first, so its `<br />` can stand unescaped.
    var escapesInput = false
}

extension FilterCall {
    func apply(_ input: Value, _ s: inout RenderState) -> Value {
        let result = applyUnchecked(input, &s)
        if case .string(let text) = result, text.utf8.count > s.maxBytes {
            s.fail("a value grew past \(s.maxBytes) bytes in `\(filter.rawValue)`")
            return .null
        }
        return result
    }

    private func arg(_ i: Int, _ s: inout RenderState) -> Value { i < args.count ? s.evaluate(args[i]) : .null }

    private func text(_ i: Int, _ s: inout RenderState, default fallback: String = "") -> String {
        i < args.count ? s.evaluate(args[i]).liquidText : fallback
    }

    private func int(_ i: Int, _ s: inout RenderState, default fallback: Int) -> Int {
        guard i < args.count else { return fallback }
        return Self.clampedInt(s.evaluate(args[i]).liquidNumber)
    }

    static func clampedInt(_ d: Double) -> Int {
        guard d.isFinite else { return d > 0 ? Int.max / 2 : (d < 0 ? Int.min / 2 : 0) }
        return Int(max(min(d, 1e15), -1e15))
    }

    private func applyUnchecked(_ input: Value, _ s: inout RenderState) -> Value {
        switch filter {
        case .default:
            var allowFalse = false
            for keyword in keywords where keyword.name == "allow_false" {
                allowFalse = s.evaluate(keyword.value).liquidTruthy
            }
            let missing: Bool
            switch input {
            case .null: missing = true
            case .bool(let b): missing = !b && !allowFalse
            default: missing = input.isLiquidEmpty
            }
            return missing ? arg(0, &s) : input

        case .upcase: return .string(input.liquidText.uppercased())
        case .downcase: return .string(input.liquidText.lowercased())
        case .capitalize:
            let text = input.liquidText
            guard let first = text.first else { return .string("") }
            return .string(first.uppercased() + text.dropFirst().lowercased())

        case .truncate:
            let text = input.liquidText
            let length = int(0, &s, default: 50)
            let ellipsis = self.text(1, &s, default: "...")
            guard text.count > length else { return .string(text) }
            let keep = max(length - ellipsis.count, 0)
            return .string(String(text.prefix(keep)) + ellipsis)
        case .truncatewords:
            let text = input.liquidText
            let count = max(int(0, &s, default: 15), 1)
            let ellipsis = self.text(1, &s, default: "...")
            let words = text.split(whereSeparator: { $0.isWhitespace })
            guard words.count > count else { return .string(text) }
            return .string(words.prefix(count).joined(separator: " ") + ellipsis)

        case .strip: return .string(Strings.trim(input.liquidText, leading: true, trailing: true))
        case .lstrip: return .string(Strings.trim(input.liquidText, leading: true, trailing: false))
        case .rstrip: return .string(Strings.trim(input.liquidText, leading: false, trailing: true))
        case .stripHTML: return .string(Strings.stripHTML(input.liquidText))
        case .stripNewlines:
            return .string(String(String.UnicodeScalarView(input.liquidText.unicodeScalars.filter { $0 != "\n" && $0 != "\r" })))
        case .newlineToBr:
            var text = input.liquidText
            if escapesInput { text = Escaping.escapeHTML(text) }
            return .string(Strings.replace(Strings.replace(text, "\r\n", "\n", .all), "\n", "<br />\n", .all))

        case .replace: return .string(Strings.replace(input.liquidText, text(0, &s), text(1, &s), .all))
        case .replaceFirst: return .string(Strings.replace(input.liquidText, text(0, &s), text(1, &s), .first))
        case .replaceLast: return .string(Strings.replace(input.liquidText, text(0, &s), text(1, &s), .last))
        case .remove: return .string(Strings.replace(input.liquidText, text(0, &s), "", .all))
        case .removeFirst: return .string(Strings.replace(input.liquidText, text(0, &s), "", .first))
        case .removeLast: return .string(Strings.replace(input.liquidText, text(0, &s), "", .last))
        case .append:
            let suffix = text(0, &s)
            guard input.liquidText.utf8.count + suffix.utf8.count <= s.maxBytes else {
                s.fail("a value grew past \(s.maxBytes) bytes in `append`")
                return .null
            }
            return .string(input.liquidText + suffix)
        case .prepend:
            let prefix = text(0, &s)
            guard input.liquidText.utf8.count + prefix.utf8.count <= s.maxBytes else {
                s.fail("a value grew past \(s.maxBytes) bytes in `prepend`")
                return .null
            }
            return .string(prefix + input.liquidText)

        case .split: return .array(Strings.split(input.liquidText, by: text(0, &s)).map(Value.string))
        case .join:
            let separator = text(0, &s, default: " ")
            guard case .array(let items) = input else { return .string(input.liquidText) }
            var total = 0
            var parts: [String] = []
            parts.reserveCapacity(items.count)
            for item in items {
                let part = item.liquidText
                total += part.utf8.count + separator.utf8.count
                guard total <= s.maxBytes else {
                    s.fail("a value grew past \(s.maxBytes) bytes in `join`")
                    return .null
                }
                parts.append(part)
            }
            return .string(parts.joined(separator: separator))
        case .first:
            switch input {
            case .array(let items): return items.first ?? .null
            case .string(let text): return text.first.map { .string(String($0)) } ?? .null
            default: return .null
            }
        case .last:
            switch input {
            case .array(let items): return items.last ?? .null
            case .string(let text): return text.last.map { .string(String($0)) } ?? .null
            default: return .null
            }
        case .size: return .number(Double(input.liquidSize ?? 0))
        case .sort, .sortNatural:
            guard case .array(let items) = input else { return input }
            let property = args.isEmpty ? nil : text(0, &s)
            let natural = filter == .sortNatural
            func key(_ v: Value) -> Value {
                let k = property.map { v[$0] ?? .null } ?? v
                if natural, case .string(let t) = k { return .string(t.lowercased()) }
                return k
            }
            let keyed = items.map { (key($0), $0) }
            return .array(keyed.sorted { LiquidComparison.sortsBefore($0.0, $1.0) }.map(\.1))
        case .uniq:
            guard case .array(let items) = input else { return input }
            let property = args.isEmpty ? nil : text(0, &s)
            var seen = Set<Value>()
            return .array(items.filter { item in seen.insert(property.map { item[$0] ?? .null } ?? item).inserted })
        case .reverse:
            guard case .array(let items) = input else { return input }
            return .array(items.reversed())
        case .map:
            let property = text(0, &s)
            switch input {
            case .array(let items): return .array(items.map { $0[property] ?? .null })
            case .object: return .array([input[property] ?? .null])
            default: return .array([])
            }
        case .compact:
            guard case .array(let items) = input else { return input }
            let property = args.isEmpty ? nil : text(0, &s)
            return .array(items.filter { item in !(property.map { item[$0] ?? .null } ?? item).isNull })
        case .slice:
            let offset = int(0, &s, default: 0)
            let length = max(int(1, &s, default: 1), 0)
            switch input {
            case .array(let items):
                guard let range = Strings.sliceRange(count: items.count, offset: offset, length: length) else { return .array([]) }
                return .array(Array(items[range]))
            default:
                let characters = Array(input.liquidText)
                guard let range = Strings.sliceRange(count: characters.count, offset: offset, length: length) else {
                    return .string("")
                }
                return .string(String(characters[range]))
            }
        case .where:
            guard case .array(let items) = input else { return input }
            let property = text(0, &s)
            if args.count > 1 {
                let target = arg(1, &s)
                return .array(items.filter { ($0[property] ?? .null) == target })
            }
            return .array(items.filter { ($0[property] ?? .null).liquidTruthy })
        case .concat:
            let other = arg(0, &s)
            let head: [Value] = input.arrayValue ?? (input.isNull ? [] : [input])
            let tail: [Value] = other.arrayValue ?? (other.isNull ? [] : [other])
            return .array(head + tail)

        case .plus: return .number(input.liquidNumber + arg(0, &s).liquidNumber)
        case .minus: return .number(input.liquidNumber - arg(0, &s).liquidNumber)
        case .times: return .number(input.liquidNumber * arg(0, &s).liquidNumber)
        case .dividedBy:
            let a = input.liquidNumber
            let b = arg(0, &s).liquidNumber
            guard b != 0 else { return .null }
            let exact = exactDivision || a != a.rounded(.towardZero) || b != b.rounded(.towardZero)
            return .number(exact ? a / b : (a / b).rounded(.down))
        case .modulo:
            let a = input.liquidNumber
            let b = arg(0, &s).liquidNumber
            guard b != 0 else { return .null }
            // Ruby's modulo takes the divisor's sign.
            return .number(a - b * (a / b).rounded(.down))
        case .round:
            let x = input.liquidNumber
            let digits = min(max(int(0, &s, default: 0), 0), 15)
            guard digits > 0 else { return .number(x.rounded()) }
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            return .number((x * scale).rounded() / scale)
        case .ceil: return .number(input.liquidNumber.rounded(.up))
        case .floor: return .number(input.liquidNumber.rounded(.down))
        case .abs: return .number(Swift.abs(input.liquidNumber))
        case .atLeast: return .number(Swift.max(input.liquidNumber, arg(0, &s).liquidNumber))
        case .atMost: return .number(Swift.min(input.liquidNumber, arg(0, &s).liquidNumber))

        case .date:
            guard let instant = DateInput(input, now: s.context.now) else { return input }
            let format: DateFormat
            if let compiled = dateFormat {
                format = compiled
            } else {
                let text = self.text(0, &s)
                guard !text.isEmpty else { return input }
                format = DateFormat(text)
            }
            return .string(format.format(instant, in: s.context.zone))

        case .escape, .h:
            if input.isNull { return .null }
            return .string(Escaping.escapeHTML(input.liquidText))
        case .escapeOnce:
            if input.isNull { return .null }
            return .string(Escaping.escapeOnce(input.liquidText))
        case .urlEncode:
            if input.isNull { return .null }
            var out: [UInt8] = []
            var text = input.liquidText
            text.withUTF8 { Escaping.appendPercentEncoded($0, into: &out, spaceAsPlus: true) }
            return .string(String(decoding: out, as: UTF8.self))
        case .urlDecode:
            if input.isNull { return .null }
            return .string(Escaping.percentDecode(input.liquidText))
        case .json:
            return .string(input.jsonText)
        }
    }

    /// Filters whose result is already safe where HTML is written: their output is not escaped again.
    var producesHTML: Bool {
        switch filter {
        case .escape, .h, .escapeOnce: return true
        case .newlineToBr: return escapesInput
        default: return false
        }
    }
}
