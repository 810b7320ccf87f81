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
    case `where`, reject, find, findIndex = "find_index", has, sum, concat
    case plus, minus, times, dividedBy = "divided_by", modulo, round, ceil, floor, abs
    case atLeast = "at_least", atMost = "at_most"
    case date
    case escape, h, escapeOnce = "escape_once", urlEncode = "url_encode", urlDecode = "url_decode", json
    case base64Encode = "base64_encode", base64Decode = "base64_decode"
    case base64URLSafeEncode = "base64_url_safe_encode", base64URLSafeDecode = "base64_url_safe_decode"

    /// How many positional arguments it takes, and its keyword arguments.
    var arity: (min: Int, max: Int, keywords: [String]) {
        switch self {
        case .default: return (0, 1, ["allow_false"])
        case .truncate, .truncatewords: return (0, 2, [])
        case .replace, .replaceFirst: return (1, 2, [])
        case .replaceLast: return (2, 2, [])
        case .remove, .removeFirst, .removeLast, .append, .prepend, .split, .map, .concat: return (1, 1, [])
        case .plus, .minus, .times, .dividedBy, .modulo, .atLeast, .atMost, .date: return (1, 1, [])
        case .join, .sort, .sortNatural, .uniq, .compact, .round, .sum: return (0, 1, [])
        case .slice, .where, .reject, .find, .findIndex, .has: return (1, 2, [])
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
    /// Where the filter's name stands, for render errors.
    var at: SourcePoint
}

extension FilterCall {
    func apply(_ input: Value, _ s: inout RenderState) -> Value {
        let result = applyUnchecked(input, &s)
        if s.failure != nil { return .null }
        if case .string(let text) = result, text.utf8.count > s.maxBytes {
            s.fail("a value grew past \(s.maxBytes) bytes in `\(filter.rawValue)`")
            return .null
        }
        return result
    }

    func arg(_ i: Int, _ s: inout RenderState) -> Value { i < args.count ? s.evaluate(args[i]) : .null }

    /// Stops the render with `message` about this filter, at its place.
    func fail(_ message: String, _ s: inout RenderState) -> Value {
        s.fail("`\(filter.rawValue)`: \(message)", at: at)
        return .null
    }

    /// Argument `i` as a whole number for `slice`, `truncate`…: a number without a fraction or text that
    /// is one; nil (after failing the render) for anything else, nil included.
    func wholeNumber(_ i: Int, _ s: inout RenderState) -> Int? {
        let value = arg(i, &s)
        switch value {
        case .number(let d) where d == d.rounded(.towardZero): return Self.clampedInt(d)
        case .string(let text) where Int(text.trimmingSpaces) != nil: return Int(text.trimmingSpaces)!
        default:
            _ = fail("expected a whole number, found \(value.typeName) \(value.jsonText)", &s)
            return nil
        }
    }

    /// Argument 0 of `divided_by` and `modulo`: a number, or text that is one; never zero.
    func divisor(_ s: inout RenderState) -> Double? {
        let value = arg(0, &s)
        let d: Double?
        switch value {
        case .number(let n): d = n
        case .string(let text): d = Double(text.trimmingSpaces)
        default: d = nil
        }
        guard let d else {
            _ = fail("expected a number, found \(value.typeName) \(value.jsonText)", &s)
            return nil
        }
        guard d != 0 else {
            _ = fail("division by zero", &s)
            return nil
        }
        return d
    }

    /// Sums and differences as a person writes them: `10.1 - 2.2` is 7.9, not 7.8999999999999995.
    static func tidy(_ d: Double) -> Double {
        guard d.isFinite, d != d.rounded(.towardZero) else { return d }
        var magnitude = 0
        var m = Swift.abs(d)
        while m >= 10 {
            m /= 10
            magnitude += 1
        }
        while m < 1 && magnitude > -300 {
            m *= 10
            magnitude -= 1
        }
        let digits = 14 - magnitude
        guard digits > 0 && digits < 300 else { return d }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let tidied = (d * scale).rounded() / scale
        return tidied.isFinite ? tidied : d
    }

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
            guard args.isEmpty || wholeNumber(0, &s) != nil else { return .null }
            let length = int(0, &s, default: 50)
            let ellipsis = self.text(1, &s, default: "...")
            guard text.count > length else { return .string(text) }
            let keep = max(length - ellipsis.count, 0)
            return .string(String(text.prefix(keep)) + ellipsis)
        case .truncatewords:
            let text = input.liquidText
            guard args.isEmpty || wholeNumber(0, &s) != nil else { return .null }
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
        case .join, .first, .last, .size, .sort, .sortNatural, .uniq, .reverse, .map, .compact, .slice, .where, .reject,
            .find, .findIndex, .has, .sum, .concat:
            return applyToList(input, &s)

        case .plus: return .number(Self.tidy(input.liquidNumber + arg(0, &s).liquidNumber))
        case .minus: return .number(Self.tidy(input.liquidNumber - arg(0, &s).liquidNumber))
        case .times: return .number(Self.tidy(input.liquidNumber * arg(0, &s).liquidNumber))
        case .dividedBy:
            let a = input.liquidNumber
            guard let b = divisor(&s) else { return .null }
            let exact = exactDivision || a != a.rounded(.towardZero) || b != b.rounded(.towardZero)
            return .number(exact ? a / b : (a / b).rounded(.down))
        case .modulo:
            let a = input.liquidNumber
            guard let b = divisor(&s) else { return .null }
            // Ruby's modulo takes the divisor's sign.
            return .number(Self.tidy(a - b * (a / b).rounded(.down)))
        case .round:
            let x = input.liquidNumber
            let digits = min(max(int(0, &s, default: 0), -15), 15)
            var scale = 1.0
            for _ in 0..<Swift.abs(digits) { scale *= 10 }
            if digits < 0 { return .number((x / scale).rounded() * scale) }
            guard digits > 0 else { return .number(x.rounded()) }
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
        case .base64Encode, .base64URLSafeEncode:
            if input.isNull { return .null }
            return .string(Base64.encode(Array(input.liquidText.utf8), urlSafe: filter == .base64URLSafeEncode))
        case .base64Decode, .base64URLSafeDecode:
            if input.isNull { return .null }
            guard let bytes = Base64.decode(input.liquidText, urlSafe: filter == .base64URLSafeDecode) else {
                return fail("not valid base64: \(input.jsonText)", &s)
            }
            return .string(String(decoding: bytes, as: UTF8.self))
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
