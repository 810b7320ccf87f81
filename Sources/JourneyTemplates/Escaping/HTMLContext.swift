/// Follows the markup of an HTML part through its literal text, so that each `{{ … }}` is escaped for
/// where it stands: text, a quoted or unquoted attribute value, the start or the rest of a URL attribute.
///
/// It reads the template's text in source order, across tags: an `{% if %}` whose branches leave the
/// markup in different places (one opens an attribute the other does not) is not followed branch by
/// branch. Outputs inside a tag but outside an attribute value, inside `<script>`, and inside event-handler
/// attributes (`onclick="…"`) are refused at compile time: no escaping makes data safe there.
struct HTMLContext {
    enum AttributeKind: Equatable {
        case url, script, other
    }

    enum State: Equatable {
        case data
        case lessThan
        case bang(dashes: Int)
        case tagName
        case inTag
        case attributeName
        case afterAttributeName
        case beforeValue
        case value(quote: UInt8, kind: AttributeKind, atStart: Bool)
        case comment(dashes: Int)
        case declaration
        case rawText
    }

    /// Where an output stands, for ``TemplateCompiler`` to pick an ``Escaper``.
    enum Place: Equatable {
        case text
        case attribute(quoted: Bool)
        case urlStart(quoted: Bool)
        case urlPart(quoted: Bool)
    }

    private(set) var state = State.data
    private var tagName: [UInt8] = []
    private var closingTag = false
    private var attributeName: [UInt8] = []
    private var rawTextEnd: [UInt8] = []
    private var rawMatch = 0

    static let rawTextElements: Set<[UInt8]> = ["script", "style", "textarea", "title", "xmp"].map { Array($0.utf8) }
        .reduce(into: []) { $0.insert($1) }
    static let urlAttributes: Set<[UInt8]> = [
        "href", "src", "action", "formaction", "background", "cite", "poster", "srcset", "xlink:href", "data",
        "codebase", "longdesc", "usemap", "manifest", "icon", "profile", "ping", "lowsrc", "dynsrc",
    ].map { Array($0.utf8) }.reduce(into: []) { $0.insert($1) }

    @inline(__always) private static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 12 || c == 13 }
    @inline(__always) private static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
    @inline(__always) private static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 97 && (c | 0x20) <= 122 }

    private var attributeKind: AttributeKind {
        if attributeName.count > 2, attributeName[0] == UInt8(ascii: "o"), attributeName[1] == UInt8(ascii: "n") {
            return .script
        }
        return Self.urlAttributes.contains(attributeName) ? .url : .other
    }

    mutating func advance<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for c in bytes { step(c) }
    }

    private mutating func endOfTag() {
        if !closingTag, Self.rawTextElements.contains(tagName) {
            rawTextEnd = Array("</".utf8) + tagName
            rawMatch = 0
            state = .rawText
        } else {
            state = .data
        }
    }

    private mutating func step(_ c: UInt8) {
        switch state {
        case .data:
            if c == UInt8(ascii: "<") { state = .lessThan }
        case .lessThan:
            if Self.isLetter(c) {
                tagName = [Self.lower(c)]
                closingTag = false
                state = .tagName
            } else if c == UInt8(ascii: "/") {
                tagName = []
                closingTag = true
                state = .tagName
            } else if c == UInt8(ascii: "!") {
                state = .bang(dashes: 0)
            } else if c == UInt8(ascii: "?") {
                state = .declaration
            } else {
                state = c == UInt8(ascii: "<") ? .lessThan : .data
            }
        case .bang(let dashes):
            if c == UInt8(ascii: "-") {
                state = dashes == 1 ? .comment(dashes: 0) : .bang(dashes: 1)
            } else {
                state = c == UInt8(ascii: ">") ? .data : .declaration
            }
        case .tagName:
            if Self.isSpace(c) || c == UInt8(ascii: "/") {
                state = .inTag
            } else if c == UInt8(ascii: ">") {
                endOfTag()
            } else {
                tagName.append(Self.lower(c))
            }
        case .inTag:
            if c == UInt8(ascii: ">") {
                endOfTag()
            } else if !Self.isSpace(c) && c != UInt8(ascii: "/") {
                attributeName = [Self.lower(c)]
                state = .attributeName
            }
        case .attributeName:
            if Self.isSpace(c) {
                state = .afterAttributeName
            } else if c == UInt8(ascii: "=") {
                state = .beforeValue
            } else if c == UInt8(ascii: ">") {
                endOfTag()
            } else if c == UInt8(ascii: "/") {
                state = .inTag
            } else {
                attributeName.append(Self.lower(c))
            }
        case .afterAttributeName:
            if c == UInt8(ascii: "=") {
                state = .beforeValue
            } else if c == UInt8(ascii: ">") {
                endOfTag()
            } else if c == UInt8(ascii: "/") {
                state = .inTag
            } else if !Self.isSpace(c) {
                attributeName = [Self.lower(c)]
                state = .attributeName
            }
        case .beforeValue:
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                state = .value(quote: c, kind: attributeKind, atStart: true)
            } else if c == UInt8(ascii: ">") {
                endOfTag()
            } else if !Self.isSpace(c) {
                state = .value(quote: 0, kind: attributeKind, atStart: false)
            }
        case .value(let quote, let kind, _):
            if quote != 0 {
                state = c == quote ? .inTag : .value(quote: quote, kind: kind, atStart: false)
            } else if Self.isSpace(c) {
                state = .inTag
            } else if c == UInt8(ascii: ">") {
                endOfTag()
            } else {
                state = .value(quote: 0, kind: kind, atStart: false)
            }
        case .comment(let dashes):
            if c == UInt8(ascii: ">") && dashes >= 2 {
                state = .data
            } else {
                state = .comment(dashes: c == UInt8(ascii: "-") ? dashes + 1 : 0)
            }
        case .declaration:
            if c == UInt8(ascii: ">") { state = .data }
        case .rawText:
            if Self.lower(c) == rawTextEnd[rawMatch] {
                rawMatch += 1
                if rawMatch == rawTextEnd.count {
                    tagName = Array(rawTextEnd.dropFirst(2))
                    closingTag = true
                    state = .tagName
                }
            } else {
                rawMatch = c == UInt8(ascii: "<") ? 1 : 0
            }
        }
    }

    /// Where an output at the current position stands, or why none may stand there. Moves past it.
    mutating func placeOutput() -> Result<Place, SyntaxError> {
        func refuse(_ message: String) -> Result<Place, SyntaxError> { .failure(SyntaxError(0, message)) }
        switch state {
        case .data, .comment, .declaration:
            return .success(.text)
        case .rawText:
            guard rawTextEnd != Array("</script".utf8) else {
                return refuse("a value cannot be output inside <script>: no escaping makes data safe there")
            }
            return .success(.text)
        case .beforeValue, .value:
            let quote: UInt8
            let kind: AttributeKind
            let atStart: Bool
            if case .value(let q, let k, let s) = state {
                (quote, kind, atStart) = (q, k, s)
            } else {
                (quote, kind, atStart) = (0, attributeKind, true)
            }
            if kind == .script {
                let name = String(decoding: attributeName, as: UTF8.self)
                return refuse("a value cannot be output inside the event-handler attribute \(name)=\"…\": no escaping makes data safe there")
            }
            state = .value(quote: quote, kind: kind, atStart: false)
            switch kind {
            case .url: return .success(atStart ? .urlStart(quoted: quote != 0) : .urlPart(quoted: quote != 0))
            default: return .success(.attribute(quoted: quote != 0))
            }
        case .lessThan, .bang, .tagName, .inTag, .attributeName, .afterAttributeName:
            return refuse("a value cannot be output inside an HTML tag, only in text or in an attribute value (`title=\"{{ … }}\"`)")
        }
    }
}
