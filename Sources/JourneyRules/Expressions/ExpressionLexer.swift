import JourneyCore

/// One token of the condition language. `column` is the 0-based UTF-8 offset of its first byte.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case number(Double)
        case string(String)
        case duration(TimeSpan)
        case identifier(String)
        /// `and or not in true false null`.
        case keyword(Keyword)
        case symbol(Symbol)
        case end
    }

    enum Keyword: String, Sendable, CaseIterable {
        case and, or, not, `in`, `true`, `false`, null
    }

    enum Symbol: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
        case plus = "+", minus = "-", star = "*", slash = "/", percent = "%"
        case andAnd = "&&", orOr = "||", bang = "!"
        case leftParen = "(", rightParen = ")", leftBracket = "[", rightBracket = "]"
        case comma = ",", dot = ".", colon = ":"
    }

    var kind: Kind
    var column: Int
    /// The byte offset just past the token.
    var end: Int
}

/// Splits expression text into tokens. Columns are UTF-8 byte offsets so that the rule loader can map
/// them into the YAML file.
struct ExpressionLexer {
    private let bytes: [UInt8]
    private var i = 0

    init(_ text: String) { self.bytes = Array(text.utf8) }

    static func tokenize(_ text: String) -> Result<[Token], ExpressionError> {
        var lexer = ExpressionLexer(text)
        var tokens: [Token] = []
        while true {
            switch lexer.next() {
            case .failure(let error): return .failure(error)
            case .success(let token):
                tokens.append(token)
                if token.kind == .end { return .success(tokens) }
            }
        }
    }

    private static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95
    }
    static func isIdentifierByte(_ c: UInt8) -> Bool { isIdentifierStart(c) || isDigit(c) }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    private func peek(_ offset: Int = 0) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

    private mutating func next() -> Result<Token, ExpressionError> {
        while let c = peek(), c == 32 || c == 9 || c == 10 || c == 13 { i += 1 }
        let start = i
        guard let c = peek() else { return .success(Token(kind: .end, column: i, end: i)) }
        func token(_ kind: Token.Kind) -> Result<Token, ExpressionError> {
            .success(Token(kind: kind, column: start, end: i))
        }
        func fail(_ message: String) -> Result<Token, ExpressionError> {
            .failure(ExpressionError(column: start, message: message))
        }
        if Self.isDigit(c) { return number(start) }
        if Self.isIdentifierStart(c) {
            while let d = peek(), Self.isIdentifierByte(d) { i += 1 }
            let word = String(decoding: bytes[start..<i], as: UTF8.self)
            if let keyword = Token.Keyword(rawValue: word) { return token(.keyword(keyword)) }
            return token(.identifier(word))
        }
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") { return string(start, quote: c) }
        i += 1
        let second = peek()
        func two(_ symbol: Token.Symbol) -> Result<Token, ExpressionError> {
            i += 1
            return token(.symbol(symbol))
        }
        switch c {
        case UInt8(ascii: "="):
            if second == UInt8(ascii: "=") { return two(.equal) }
            return fail("use `==` to compare (`=` alone is not an operator)")
        case UInt8(ascii: "!"): return second == UInt8(ascii: "=") ? two(.notEqual) : token(.symbol(.bang))
        case UInt8(ascii: "<"): return second == UInt8(ascii: "=") ? two(.lessEqual) : token(.symbol(.less))
        case UInt8(ascii: ">"): return second == UInt8(ascii: "=") ? two(.greaterEqual) : token(.symbol(.greater))
        case UInt8(ascii: "&"):
            if second == UInt8(ascii: "&") { return two(.andAnd) }
            return fail("unexpected `&`; use `and` (or `&&`)")
        case UInt8(ascii: "|"):
            if second == UInt8(ascii: "|") { return two(.orOr) }
            return fail("unexpected `|`; use `or` (or `||`)")
        case UInt8(ascii: "+"): return token(.symbol(.plus))
        case UInt8(ascii: "-"): return token(.symbol(.minus))
        case UInt8(ascii: "*"): return token(.symbol(.star))
        case UInt8(ascii: "/"): return token(.symbol(.slash))
        case UInt8(ascii: "%"): return token(.symbol(.percent))
        case UInt8(ascii: "("): return token(.symbol(.leftParen))
        case UInt8(ascii: ")"): return token(.symbol(.rightParen))
        case UInt8(ascii: "["): return token(.symbol(.leftBracket))
        case UInt8(ascii: "]"): return token(.symbol(.rightBracket))
        case UInt8(ascii: ","): return token(.symbol(.comma))
        case UInt8(ascii: "."): return token(.symbol(.dot))
        case UInt8(ascii: ":"): return token(.symbol(.colon))
        default:
            i = start
            let scalar = decodeScalar()
            if c < 0x20 || c == 0x7F { return fail("unexpected control character") }
            return fail("unexpected character `\(scalar)`")
        }
    }

    /// The Unicode scalar starting at `i` (for messages), advancing past it.
    private mutating func decodeScalar() -> String {
        var iterator = bytes[i...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return String(scalar) }
        return "\\u{FFFD}"
    }

    /// `12`, `1.5`, `2e3`, `1.5e-3`, or a duration `30d`, `1h30m`, `500ms`.
    private mutating func number(_ start: Int) -> Result<Token, ExpressionError> {
        while let d = peek(), Self.isDigit(d) { i += 1 }
        var isInteger = true
        if peek() == UInt8(ascii: "."), let d = peek(1), Self.isDigit(d) {
            isInteger = false
            i += 1
            while let d = peek(), Self.isDigit(d) { i += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var j = 1
            if let s = peek(1), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { j = 2 }
            if let d = peek(j), Self.isDigit(d) {
                isInteger = false
                i += j
                while let d = peek(), Self.isDigit(d) { i += 1 }
            }
        }
        if let u = peek(), Self.isIdentifierStart(u) {
            // A number immediately followed by letters is a duration.
            while let d = peek(), Self.isIdentifierByte(d) { i += 1 }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            guard isInteger, let span = TimeSpan(parsing: text) else {
                return .failure(
                    ExpressionError(
                        column: start,
                        message: "`\(text)` is not a number or a duration; durations are whole numbers with "
                            + "units w, d, h, m, s, ms, such as `30d` or `1h30m`"
                    )
                )
            }
            return .success(Token(kind: .duration(span), column: start, end: i))
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            return .failure(ExpressionError(column: start, message: "number `\(text)` is out of range"))
        }
        return .success(Token(kind: .number(value), column: start, end: i))
    }

    /// A `"double"` or `'single'` quoted string with JSON-style escapes (plus `\'`).
    private mutating func string(_ start: Int, quote: UInt8) -> Result<Token, ExpressionError> {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else {
                return .failure(ExpressionError(column: start, message: "unterminated string"))
            }
            if c == quote {
                i += 1
                return .success(Token(kind: .string(String(decoding: out, as: UTF8.self)), column: start, end: i))
            }
            if c == 10 || c == 13 {
                return .failure(ExpressionError(column: start, message: "unterminated string (line break inside)"))
            }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            let escapeColumn = i
            i += 1
            guard let e = peek() else {
                return .failure(ExpressionError(column: start, message: "unterminated string"))
            }
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "u"):
                guard var scalar = hex4() else {
                    return .failure(ExpressionError(column: escapeColumn, message: "`\\u` needs four hex digits"))
                }
                if (0xD800..<0xDC00).contains(scalar) {
                    // A surrogate pair: `\uD83D\uDE00`.
                    guard peek() == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "u") else {
                        return .failure(ExpressionError(column: escapeColumn, message: "unpaired surrogate in `\\u` escape"))
                    }
                    i += 2
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else {
                        return .failure(ExpressionError(column: escapeColumn, message: "unpaired surrogate in `\\u` escape"))
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let value = Unicode.Scalar(scalar) else {
                    return .failure(ExpressionError(column: escapeColumn, message: "unpaired surrogate in `\\u` escape"))
                }
                out.append(contentsOf: String(value).utf8)
            default:
                i -= 1
                let shown = decodeScalar()
                return .failure(ExpressionError(column: escapeColumn, message: "unknown escape `\\\(shown)` in string"))
            }
        }
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[i + k]
            let digit: UInt8
            switch c {
            case 48...57: digit = c - 48
            case 65...70: digit = c - 55
            case 97...102: digit = c - 87
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        i += 4
        return value
    }
}
