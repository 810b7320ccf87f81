import JourneyCore
/// The header block at the top of a message template file, split from the body.
///
/// Works on UTF-8 bytes so that CRLF files split into lines like LF files (`"\r\n"` is one `Character`).
struct HeaderBlock {
    struct Field {
        var header: MessageHeader
        var value: String
        var line: Int
        var column: Int
    }

    struct Body {
        var text: String
        var line: Int
    }

    private(set) var fields: [Field] = []
    private(set) var body: Body
    private(set) var diagnostics: [TemplateDiagnostic] = []

    init(_ source: TemplateSource) {
        var bytes = Array(source.text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        body = Body(text: String(decoding: bytes, as: UTF8.self), line: 1)
        let known = MessageHeader.allCases.map(\.rawValue)
        let firstEnd = bytes.firstIndex(of: 10) ?? bytes.count
        guard let first = Self.field(bytes[0..<firstEnd]),
            Self.header(named: first.name) != nil || Suggestions.closest(first.name, in: known) != nil
        else {
            // No header block: `Note: …` in a chat message is text, not a header.
            return
        }

        var lineNumber = 1
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 10) ?? bytes.count
            var line = bytes[start..<end]
            start = end + 1
            defer { lineNumber += 1 }
            if line.last == 13 { line = line.dropLast() }
            if line.allSatisfy({ $0 == 32 || $0 == 9 }) {
                body = Body(text: String(decoding: bytes[min(start, bytes.count)...], as: UTF8.self), line: lineNumber + 1)
                return
            }
            guard let field = Self.field(line) else {
                let message =
                    line.first == 32 || line.first == 9
                    ? "a header value cannot continue on the next line"
                    : "expected a header (`Subject: …`) or the blank line that ends the headers"
                error(source.file, lineNumber, 1, message)
                continue
            }
            guard let header = Self.header(named: field.name) else {
                error(
                    source.file, lineNumber, 1,
                    "unknown header \"\(field.name)\" (known: \(known.joined(separator: ", ")))\(Suggestions.didYouMean(field.name, in: known))"
                )
                continue
            }
            if fields.contains(where: { $0.header == header }) {
                error(source.file, lineNumber, 1, "\(header.rawValue) is set twice")
                continue
            }
            // Header names are ASCII, so the value's column is its byte offset in the line, plus one.
            let column = field.valueStart - line.startIndex + 1
            let value = line[field.valueStart...]
            if value.allSatisfy({ $0 == 32 || $0 == 9 }) {
                error(source.file, lineNumber, column, "\(header.rawValue) has no value")
                continue
            }
            fields.append(Field(header: header, value: String(decoding: value, as: UTF8.self), line: lineNumber, column: column))
        }
        // Headers and no body: a subject-only template.
        body = Body(text: "", line: lineNumber)
    }

    private mutating func error(_ file: String, _ line: Int, _ column: Int, _ message: String) {
        diagnostics.append(TemplateDiagnostic(file: file, line: line, column: column, message: message))
    }

    static func header(named name: String) -> MessageHeader? {
        MessageHeader.allCases.first { $0.rawValue.lowercased() == name.lowercased() }
    }

    /// `Name: value` with a name of ASCII letters, digits and `-` starting with a letter; nil otherwise.
    private static func field(_ line: ArraySlice<UInt8>) -> (name: String, valueStart: Int)? {
        func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 97 && (c | 0x20) <= 122 }
        guard let first = line.first, isLetter(first), let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            return nil
        }
        let name = line[..<colon]
        guard name.allSatisfy({ isLetter($0) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }) else { return nil }
        var valueStart = colon + 1
        while valueStart < line.endIndex, line[valueStart] == 32 || line[valueStart] == 9 { valueStart += 1 }
        return (String(decoding: name, as: UTF8.self), valueStart)
    }
}
