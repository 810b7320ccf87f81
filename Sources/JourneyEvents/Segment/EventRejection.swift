/// Why one input line (or request body) was not accepted as an event, precisely enough to find and fix it.
///
/// Its ``description`` is one line:
/// `events.jsonl:12: byte 3456: $.timestamp: not an RFC 3339 date-time ("yesterday")`.
public struct EventRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1-based line number in the input; 0 when the event was not read from lines.
    public var line: Int
    /// Offset in the whole input of the byte where the problem is (the line's start for problems with
    /// the line as a whole, such as a missing member).
    public var byteOffset: Int
    /// JSON path of the offending value, `$` for the event itself.
    public var path: String
    /// What is wrong, for people.
    public var reason: String
    /// Where the input came from (a file name, `http`, a socket peer), if known.
    public var source: String?

    public init(line: Int, byteOffset: Int, path: String, reason: String, source: String? = nil) {
        self.line = line
        self.byteOffset = byteOffset
        self.path = path
        self.reason = reason
        self.source = source
    }

    /// `events.jsonl:12: byte 3456: $.timestamp: not an RFC 3339 date-time ("yesterday")`; without a
    /// source `line 12: byte 3456: …`; never more than one line.
    public var description: String {
        var out = ""
        if let source {
            out = Diagnostics.oneLine(source) + (line > 0 ? ":\(line): " : ": ")
        } else if line > 0 {
            out = "line \(line): "
        }
        out += "byte \(byteOffset): \(Diagnostics.oneLine(path)): \(Diagnostics.oneLine(reason))"
        return out
    }
}
