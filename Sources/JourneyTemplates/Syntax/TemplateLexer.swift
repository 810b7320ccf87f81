/// One piece of template source: literal text, an output `{{ … }}`, or a tag `{% name … %}`.
///
/// Whitespace control (`{{-`, `-}}`, `{%-`, `-%}`) is applied here: the text next to a dash is already
/// trimmed. `{% raw %}` bodies arrive as text, `{% comment %}` and `{% doc %}` bodies not at all. A
/// `{% liquid %}` tag arrives as one tag per line between a `liquid` tag and a ``TemplateLexer/liquidEnd``
/// tag, so that its blocks must close inside it.
struct TemplateToken: Sendable {
    enum Kind: Sendable, Equatable {
        case text
        case output
        case tag
    }

    var kind: Kind
    /// Text: the bytes to emit. Output: the markup between the delimiters. Tag: the markup after the name.
    var range: Range<Int>
    /// The offset of `{{` / `{%` (of the text itself for text), where errors about the token point.
    var start: Int
    /// Tags only: the name (`if`, `endfor`, `#` for an inline comment).
    var name: String = ""
    var nameOffset: Int = 0
}

/// Splits template source into ``TemplateToken``s.
///
/// As in Liquid, an output ends at the first `}}` and a tag at the first `%}`, quotes or not.
struct TemplateLexer {
    let bytes: [UInt8]

    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let percent = UInt8(ascii: "%")
    static let dash = UInt8(ascii: "-")

    /// Ruby's `\s`: what `-` trims.
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95
    }

    /// The name of the tag that ends the lines of a `{% liquid %}` tag (no tag can be written so).
    static let liquidEnd = "end of liquid"

    func tokenize() throws(SyntaxError) -> [TemplateToken] {
        var tokens: [TemplateToken] = []
        let n = bytes.count
        var i = 0
        var textStart = 0
        var trimNext = false

        func emitText(_ start: Int, _ end: Int, trimLeading: Bool, trimTrailing: Bool) {
            var a = start
            var b = end
            if trimLeading { while a < b, Self.isSpace(bytes[a]) { a += 1 } }
            if trimTrailing { while b > a, Self.isSpace(bytes[b - 1]) { b -= 1 } }
            if a < b { tokens.append(TemplateToken(kind: .text, range: a..<b, start: a)) }
        }

        while i + 1 < n {
            guard bytes[i] == Self.openBrace, bytes[i + 1] == Self.openBrace || bytes[i + 1] == Self.percent else {
                i += 1
                continue
            }
            let open = i
            let isOutput = bytes[i + 1] == Self.openBrace
            let trimLeft = i + 2 < n && bytes[i + 2] == Self.dash
            emitText(textStart, open, trimLeading: trimNext, trimTrailing: trimLeft)
            let contentStart = open + 2 + (trimLeft ? 1 : 0)
            let closer = isOutput ? Self.closeBrace : Self.percent
            guard let close = find(closer, Self.closeBrace, from: contentStart) else {
                throw SyntaxError(
                    open, isOutput ? "`{{` is not closed: expected `}}`" : "`{%` is not closed: expected `%}`")
            }
            let trimRight = close > contentStart && bytes[close - 1] == Self.dash
            let contentEnd = trimRight ? close - 1 : close
            i = close + 2
            textStart = i
            trimNext = trimRight
            if isOutput {
                tokens.append(TemplateToken(kind: .output, range: contentStart..<contentEnd, start: open))
                continue
            }
            let token = tag(open: open, content: contentStart..<contentEnd)
            switch token.name {
            case "raw":
                let end = try literalClosing("raw", from: i, open: open)
                emitText(i, end.start, trimLeading: trimRight, trimTrailing: end.trimLeft)
                i = end.next
                textStart = i
                trimNext = end.trimRight
            case "comment", "doc":
                if token.name == "doc", let extra = firstNonSpace(token.range) {
                    throw SyntaxError(extra, "`{% doc %}` takes no arguments")
                }
                let end =
                    token.name == "doc"
                    ? try literalClosing("doc", from: i, open: open)
                    : try closing("endcomment", from: i, nested: "comment", open: open)
                i = end.next
                textStart = i
                trimNext = end.trimRight
            case "#":
                try checkInlineComment(token.range)
            case "liquid":
                try expandLiquid(token.range, open: open, into: &tokens)
            default:
                tokens.append(token)
            }
        }
        emitText(textStart, n, trimLeading: trimNext, trimTrailing: false)
        return tokens
    }

    /// The offset of the first `a b` pair at or after `from`.
    private func find(_ a: UInt8, _ b: UInt8, from: Int) -> Int? {
        var j = from
        while j + 1 < bytes.count {
            if bytes[j] == a && bytes[j + 1] == b { return j }
            j += 1
        }
        return nil
    }

    private func tag(open: Int, content: Range<Int>) -> TemplateToken {
        var j = content.lowerBound
        while j < content.upperBound, Self.isSpace(bytes[j]) { j += 1 }
        let nameStart = j
        if j < content.upperBound, bytes[j] == UInt8(ascii: "#") {
            j += 1
        } else {
            while j < content.upperBound, Self.isNameByte(bytes[j]) { j += 1 }
        }
        let name = String(decoding: bytes[nameStart..<j], as: UTF8.self)
        return TemplateToken(kind: .tag, range: j..<content.upperBound, start: open, name: name, nameOffset: nameStart)
    }

    /// Finds `{% endNAME %}` after a raw or doc block, reading nothing in between as markup (so
    /// `{% raw %} %} {{ {% endraw %}` is fine); a doc block may not hold another doc block.
    private func literalClosing(_ name: String, from: Int, open: Int) throws(SyntaxError)
        -> (start: Int, next: Int, trimLeft: Bool, trimRight: Bool)
    {
        var j = from
        while let at = find(Self.openBrace, Self.percent, from: j) {
            j = at + 2
            let trimLeft = j < bytes.count && bytes[j] == Self.dash
            var k = trimLeft ? j + 1 : j
            while k < bytes.count, Self.isSpace(bytes[k]) { k += 1 }
            let nameStart = k
            while k < bytes.count, Self.isNameByte(bytes[k]) { k += 1 }
            let word = String(decoding: bytes[nameStart..<k], as: UTF8.self)
            if word == name && name == "doc" { throw SyntaxError(at, "a `{% doc %}` cannot contain another") }
            guard word == "end" + name else { continue }
            while k < bytes.count, Self.isSpace(bytes[k]) { k += 1 }
            let trimRight = k < bytes.count && bytes[k] == Self.dash
            if trimRight { k += 1 }
            guard k + 1 < bytes.count, bytes[k] == Self.percent, bytes[k + 1] == Self.closeBrace else { continue }
            return (at, k + 2, trimLeft, trimRight)
        }
        throw SyntaxError(open, "`{% \(name) %}` is not closed: expected `{% end\(name) %}`")
    }

    /// The offset of the first byte in `range` that is not a space, if any.
    private func firstNonSpace(_ range: Range<Int>) -> Int? {
        range.first { !Self.isSpace(bytes[$0]) }
    }

    /// `{% # … %}` may span lines only when every line is a comment of its own (starts with `#`).
    private func checkInlineComment(_ range: Range<Int>) throws(SyntaxError) {
        var j = range.lowerBound
        while let newline = bytes[j..<range.upperBound].firstIndex(of: 10) {
            j = newline + 1
            if let first = firstNonSpace(j..<range.upperBound), bytes[first] != UInt8(ascii: "#"),
                bytes[j..<first].allSatisfy({ $0 != 10 })
            {
                throw SyntaxError(first, "every line of a `{% # … %}` comment must start with `#`")
            }
        }
    }

    /// One tag per non-empty line of a `{% liquid %}` tag's markup, between a `liquid` tag and a
    /// ``liquidEnd`` tag; `comment … endcomment` lines and `# …` lines are dropped, and `liquid` lines
    /// nest.
    private func expandLiquid(_ range: Range<Int>, open: Int, into tokens: inout [TemplateToken]) throws(SyntaxError) {
        tokens.append(TemplateToken(kind: .tag, range: range.upperBound..<range.upperBound, start: open, name: "liquid", nameOffset: open))
        var lines: [Range<Int>] = []
        var j = range.lowerBound
        while j <= range.upperBound {
            let end = bytes[j..<range.upperBound].firstIndex(of: 10) ?? range.upperBound
            lines.append(j..<end)
            j = end + 1
        }
        var commentDepth = 0
        var commentStart = open
        for line in lines {
            guard let first = firstNonSpace(line) else { continue }
            let token = tag(open: first, content: first..<line.upperBound)
            if commentDepth > 0 {
                if token.name == "comment" { commentDepth += 1 }
                if token.name == "endcomment" { commentDepth -= 1 }
                continue
            }
            switch token.name {
            case "#": continue
            case "comment":
                commentDepth = 1
                commentStart = first
            case "liquid": try expandLiquid(token.range, open: first, into: &tokens)
            default: tokens.append(token)
            }
        }
        if commentDepth > 0 {
            throw SyntaxError(commentStart, "`comment` is not closed: expected `endcomment` in the `liquid` tag")
        }
        tokens.append(TemplateToken(kind: .tag, range: range.upperBound..<range.upperBound, start: range.upperBound, name: Self.liquidEnd, nameOffset: range.upperBound))
    }

    /// Finds `{% end %}` for a raw or comment block (counting nested `{% nested %}` blocks).
    private func closing(_ end: String, from: Int, nested: String?, open: Int) throws(SyntaxError)
        -> (start: Int, next: Int, trimLeft: Bool, trimRight: Bool)
    {
        var depth = 0
        var j = from
        while let at = find(Self.openBrace, Self.percent, from: j) {
            guard let close = find(Self.percent, Self.closeBrace, from: at + 2) else { break }
            let trimLeft = bytes[at + 2] == Self.dash
            let contentStart = at + 2 + (trimLeft ? 1 : 0)
            let trimRight = close > contentStart && bytes[close - 1] == Self.dash
            let name = tag(open: at, content: contentStart..<(trimRight ? close - 1 : close)).name
            j = close + 2
            if name == end {
                if depth == 0 { return (at, close + 2, trimLeft, trimRight) }
                depth -= 1
            } else if let nested, name == nested {
                depth += 1
            } else if nested == "comment" && name == "raw" {
                // A raw block inside a comment hides its tags, `{% endcomment %}` included.
                j = try literalClosing("raw", from: j, open: at).next
            }
        }
        let opener = end.dropFirst(3)
        throw SyntaxError(open, "`{% \(opener) %}` is not closed: expected `{% \(end) %}`")
    }
}
