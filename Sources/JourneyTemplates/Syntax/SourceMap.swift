/// Where a template's text sits in its file, to turn byte offsets into `line:column`.
///
/// A template is often a part of a file (the body after a header block, or one header's value), so the
/// map knows the line and column of its first byte. Columns count Unicode scalars.
struct SourceMap: Sendable {
    let bytes: [UInt8]
    let file: String
    let line: Int
    let column: Int

    func location(of offset: Int) -> (line: Int, column: Int) {
        let end = min(max(offset, 0), bytes.count)
        var line = self.line
        var lineStart = 0
        for i in 0..<end where bytes[i] == 10 {
            line += 1
            lineStart = i + 1
        }
        // Count scalars: every byte that does not continue a UTF-8 sequence starts one.
        var scalars = 0
        for i in lineStart..<end where bytes[i] & 0xC0 != 0x80 { scalars += 1 }
        return (line, (lineStart == 0 ? column : 1) + scalars)
    }

    func point(_ offset: Int) -> SourcePoint {
        let (line, column) = location(of: offset)
        return SourcePoint(file: file, line: line, column: column)
    }

    func diagnostic(at offset: Int, _ message: String, _ severity: TemplateDiagnostic.Severity = .error)
        -> TemplateDiagnostic
    {
        let (line, column) = location(of: offset)
        return TemplateDiagnostic(file: file, line: line, column: column, message: message, severity: severity)
    }
}

/// A compile error at a byte offset; turned into a ``TemplateDiagnostic`` by the compiler.
struct SyntaxError: Error {
    var offset: Int
    var message: String
    init(_ offset: Int, _ message: String) {
        self.offset = offset
        self.message = message
    }
}
