/// How a value is written where it appears in the output; chosen at compile time from the template's
/// ``TemplateMode`` and, in HTML, from where the `{{ … }}` stands in the markup.
enum Escaper: Sendable, Equatable {
    /// Plain text (a text body or a header before it is made one line): only NUL is removed.
    case text
    /// HTML text or a quoted attribute value: `& < > " '` become entities.
    case html
    /// An unquoted attribute value: also whitespace, `=` and `` ` ``, so the value cannot end the attribute.
    case unquotedAttribute
    /// The start of a URL attribute (`href="{{ url }}"`): the scheme must be http, https, mailto, tel or
    /// sms (or none: a relative URL), characters a URL cannot hold are percent-encoded, then HTML-escaped.
    case urlStart(quoted: Bool)
    /// Later in a URL attribute (`href="…?email={{ user.email }}"`): percent-encoded, all but unreserved.
    case urlPart(quoted: Bool)

    /// Appends `value`'s text, escaped.
    @inline(__always)
    func write(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { write($0, into: &out) }
    }

    func write(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        switch self {
        case .text: Escaping.appendText(bytes, into: &out)
        case .html: Escaping.appendHTML(bytes, into: &out, unquoted: false)
        case .unquotedAttribute: Escaping.appendHTML(bytes, into: &out, unquoted: true)
        case .urlStart(let quoted):
            var url: [UInt8] = []
            Escaping.appendSafeURL(bytes, into: &url)
            url.withUnsafeBufferPointer { Escaping.appendHTML($0, into: &out, unquoted: !quoted) }
        case .urlPart:
            Escaping.appendPercentEncoded(bytes, into: &out, spaceAsPlus: false)
        }
    }
}

/// The escaping functions, on UTF-8 bytes.
enum Escaping {
    static func appendText(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        guard let first = bytes.firstIndex(of: 0) else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<first]))
        for byte in bytes[first...] where byte != 0 { out.append(byte) }
    }

    /// HTML-escapes `& < > " '`; with `unquoted`, also whitespace, `=` and `` ` ``. NUL is dropped.
    static func appendHTML(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], unquoted: Bool) {
        if unquoted {
            appendUnquotedAttribute(bytes, into: &out)
            return
        }
        var runStart = 0
        for i in 0..<bytes.count {
            let byte = bytes[i]
            // Most bytes need nothing: letters, digits, most punctuation and every byte of a multi-byte
            // character (all ≥ 0x80).
            guard byte < 0x3F else { continue }
            let replacement: StaticString
            switch byte {
            case UInt8(ascii: "&"): replacement = "&amp;"
            case UInt8(ascii: "<"): replacement = "&lt;"
            case UInt8(ascii: ">"): replacement = "&gt;"
            case UInt8(ascii: "\""): replacement = "&quot;"
            case UInt8(ascii: "'"): replacement = "&#39;"
            case 0: replacement = ""
            default: continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
            replacement.withUTF8Buffer { out.append(contentsOf: $0) }
            runStart = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
    }

    private static func appendUnquotedAttribute(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case 0: continue
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            case UInt8(ascii: "="), UInt8(ascii: "`"), 9, 10, 12, 13, 32:
                out.append(contentsOf: "&#\(byte);".utf8)
            default: out.append(byte)
            }
        }
    }

    /// `escape_once`: like HTML escaping, but `&` that already starts an entity (`&amp;`, `&#39;`, `&#x27;`)
    /// is kept.
    static func escapeOnce(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "&"), let end = entityEnd(bytes, from: i) {
                out.append(contentsOf: bytes[i...end])
                i = end + 1
                continue
            }
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            default: out.append(byte)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The offset of the `;` ending an entity that starts at `start` (`&name;`, `&#123;`, `&#x1F;`).
    static func entityEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var i = start + 1
        guard i < bytes.count else { return nil }
        func isAlnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        if bytes[i] == UInt8(ascii: "#") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "x") || bytes[i] == UInt8(ascii: "X") { i += 1 }
        }
        let first = i
        while i < bytes.count, i - first < 32, isAlnum(bytes[i]) { i += 1 }
        return i > first && i < bytes.count && bytes[i] == UInt8(ascii: ";") ? i : nil
    }

    static func escapeHTML(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        Escaper.html.write(text, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == UInt8(ascii: "-")
            || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "~")
    }

    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Percent-encodes every byte but the unreserved ones (RFC 3986); `url_encode` writes space as `+`.
    static func appendPercentEncoded(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], spaceAsPlus: Bool) {
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else if byte == 32 && spaceAsPlus {
                out.append(UInt8(ascii: "+"))
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 15)])
            }
        }
    }

    static let safeSchemes: Set<String> = ["http", "https", "mailto", "tel", "sms"]

    /// A whole URL from data: `about:invalid` unless its scheme is safe (or it has none), else the URL
    /// with what cannot stand in one percent-encoded (controls, spaces, quotes, `<>`, non-ASCII…).
    static func appendSafeURL(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // Browsers drop leading/trailing controls and spaces, and tabs and newlines anywhere, before they
        // read the scheme (`java\nscript:`): do the same before judging it.
        var kept: [UInt8] = []
        kept.reserveCapacity(bytes.count)
        for byte in bytes where byte != 9 && byte != 10 && byte != 13 { kept.append(byte) }
        let first = kept.firstIndex { $0 > 32 } ?? kept.endIndex
        let last = kept.lastIndex { $0 > 32 } ?? first
        let url = first < kept.endIndex ? kept[first...last] : []
        var schemeEnd: Int?
        for i in url.indices {
            let byte = url[i]
            if byte == UInt8(ascii: ":") {
                schemeEnd = i
                break
            }
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { break }
        }
        if let schemeEnd {
            let scheme = String(decoding: url[url.startIndex..<schemeEnd], as: UTF8.self).lowercased()
            guard safeSchemes.contains(scheme) else {
                out.append(contentsOf: "about:invalid".utf8)
                return
            }
        }
        for byte in url {
            switch byte {
            case 0...32, 127...255, UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "<"), UInt8(ascii: ">"),
                UInt8(ascii: "\\"), UInt8(ascii: "^"), UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"),
                UInt8(ascii: "}"):
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 15)])
            default:
                out.append(byte)
            }
        }
    }

    /// `url_decode`: `+` is a space, `%XX` a byte; malformed escapes stay as written.
    static func percentDecode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "+") {
                out.append(32)
            } else if byte == UInt8(ascii: "%"), i + 2 < bytes.count, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(byte)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Upper bound of a header value, in bytes: RFC 5322's line limit. Folding and RFC 2047 encoding are
    /// the email adapter's job (folding must happen between encoded words, after encoding).
    static let maxHeaderBytes = 998

    /// One line fit for a mail header: every control character (CR, LF, NUL, tab, …), DEL and the Unicode
    /// line and paragraph separators become a space, runs of spaces one space, and the ends are trimmed;
    /// at most ``maxHeaderBytes`` bytes, cut at a character boundary.
    static func headerLine(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(text.utf8.count, maxHeaderBytes))
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x7F || v == 0x85 || v == 0x2028 || v == 0x2029 || (v >= 0x80 && v < 0xA0) || v == 0x20 {
                pendingSpace = !out.isEmpty
                continue
            }
            let width = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4
            if out.count + (pendingSpace ? 1 : 0) + width > maxHeaderBytes { break }
            if pendingSpace {
                out.append(32)
                pendingSpace = false
            }
            out.append(contentsOf: String(scalar).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
