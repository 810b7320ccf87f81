import JourneyCore

/// One lexeme of the markup inside `{{ … }}` and `{% … %}`.
struct Lexeme: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// `[A-Za-z_][A-Za-z0-9_-]*` with an optional trailing `?`, as Liquid names are.
        case identifier(String)
        /// `'…'` or `"…"`; no escapes, as in Liquid.
        case string(String)
        /// `isFloat` when written with a fraction (`3.0`): it makes `divided_by` divide exactly.
        case number(Double, isFloat: Bool)
        case comparison(Comparison)
        case dot, dotDot, comma, colon, pipe, equals
        case leftBracket, rightBracket, leftParen, rightParen
        case end
    }

    var kind: Kind
    /// Byte offset in the template source.
    var offset: Int

    var text: String {
        switch kind {
        case .identifier(let s): return s
        case .string(let s): return "\"\(s)\""
        case .number(let d, _): return ValueFormatting.text(of: .number(d))
        case .comparison(let c): return c.rawValue
        case .dot: return "."
        case .dotDot: return ".."
        case .comma: return ","
        case .colon: return ":"
        case .pipe: return "|"
        case .equals: return "="
        case .leftBracket: return "["
        case .rightBracket: return "]"
        case .leftParen: return "("
        case .rightParen: return ")"
        case .end: return "end of tag"
        }
    }
}

enum Comparison: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", greater = ">", lessEqual = "<=", greaterEqual = ">="
    case contains
}

/// Splits markup into lexemes, all at once (markup is short).
struct MarkupScanner {
    static func scan(_ bytes: [UInt8], _ range: Range<Int>) throws(SyntaxError) -> [Lexeme] {
        var out: [Lexeme] = []
        var i = range.lowerBound
        let end = range.upperBound
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        func isNameStart(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 }
        while i < end {
            let c = bytes[i]
            let start = i
            if TemplateLexer.isSpace(c) {
                i += 1
                continue
            }
            if isNameStart(c) {
                i += 1
                while i < end, TemplateLexer.isNameByte(bytes[i]) || bytes[i] == TemplateLexer.dash { i += 1 }
                if i < end, bytes[i] == UInt8(ascii: "?") { i += 1 }
                out.append(Lexeme(kind: .identifier(String(decoding: bytes[start..<i], as: UTF8.self)), offset: start))
                continue
            }
            if isDigit(c) || (c == TemplateLexer.dash && i + 1 < end && isDigit(bytes[i + 1])) {
                i += 1
                while i < end, isDigit(bytes[i]) { i += 1 }
                var isFloat = false
                // `1..5` is a range, not the number `1.`.
                if i + 1 < end, bytes[i] == UInt8(ascii: "."), isDigit(bytes[i + 1]) {
                    isFloat = true
                    i += 1
                    while i < end, isDigit(bytes[i]) { i += 1 }
                }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                guard let value = Double(text), value.isFinite else { throw SyntaxError(start, "number out of range: \(text)") }
                out.append(Lexeme(kind: .number(value, isFloat: isFloat), offset: start))
                continue
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                i += 1
                while i < end, bytes[i] != c { i += 1 }
                guard i < end else { throw SyntaxError(start, "unterminated string: expected a closing \(c == 34 ? "\"" : "'")") }
                out.append(Lexeme(kind: .string(String(decoding: bytes[(start + 1)..<i], as: UTF8.self)), offset: start))
                i += 1
                continue
            }
            let next: UInt8 = i + 1 < end ? bytes[i + 1] : 0
            let kind: Lexeme.Kind
            var width = 1
            switch c {
            case UInt8(ascii: "="):
                if next == UInt8(ascii: "=") {
                    kind = .comparison(.equal)
                    width = 2
                } else {
                    kind = .equals
                }
            case UInt8(ascii: "!") where next == UInt8(ascii: "="):
                kind = .comparison(.notEqual)
                width = 2
            case UInt8(ascii: "<"):
                if next == UInt8(ascii: "=") {
                    kind = .comparison(.lessEqual)
                    width = 2
                } else if next == UInt8(ascii: ">") {
                    kind = .comparison(.notEqual)
                    width = 2
                } else {
                    kind = .comparison(.less)
                }
            case UInt8(ascii: ">"):
                if next == UInt8(ascii: "=") {
                    kind = .comparison(.greaterEqual)
                    width = 2
                } else {
                    kind = .comparison(.greater)
                }
            case UInt8(ascii: "."):
                if next == UInt8(ascii: ".") {
                    kind = .dotDot
                    width = 2
                } else {
                    kind = .dot
                }
            case UInt8(ascii: ","): kind = .comma
            case UInt8(ascii: ":"): kind = .colon
            case UInt8(ascii: "|"): kind = .pipe
            case UInt8(ascii: "["): kind = .leftBracket
            case UInt8(ascii: "]"): kind = .rightBracket
            case UInt8(ascii: "("): kind = .leftParen
            case UInt8(ascii: ")"): kind = .rightParen
            default:
                var scalarEnd = i + 1
                while scalarEnd < end, bytes[scalarEnd] & 0xC0 == 0x80 { scalarEnd += 1 }
                let shown = String(decoding: bytes[i..<scalarEnd], as: UTF8.self)
                throw SyntaxError(start, "unexpected character `\(shown)`")
            }
            out.append(Lexeme(kind: kind, offset: start))
            i += width
        }
        out.append(Lexeme(kind: .end, offset: end))
        return out
    }
}
