/// A request on the daemon's control socket: one line of text, answered with one line of JSON.
///
/// `reload`, `status`, `report`, `explain USER`, `forget USER`, and with `JOURNEYD_FAULT_INJECTION=1` the test hooks `stall SECONDS` and
/// `clock ±SPAN`. Parsing is strict and total: any bytes give a request or a reason, never a trap
/// (the control protocol's fuzz target checks that).
public enum ControlRequest: Sendable, Hashable {
    case reload
    case status
    /// The report's figures and page (`journeyd report`).
    case report
    /// What journeyd knows and decided about a user (the rest of the line is the user id).
    case explain(user: String)
    /// Erase everything kept about a user (the rest of the line is the user id).
    case forget(user: String)
    /// Fault injection: block the processing loop this long.
    case stall(seconds: Int)
    /// Fault injection: step the wall clock.
    case clock(step: TimeSpan)

    /// The longest request line read.
    public static let maxLineBytes = 4096

    /// `explain USER` and `forget USER` (nil: another request). The user id is the rest of the line, blanks
    /// inside it kept. Split on Unicode scalars, not characters: a blank followed by a combining mark is one
    /// character, and the user id must come back the same from its canonical form `VERB USER`.
    static func userRequest(_ text: String) -> Result<ControlRequest, ControlRequestError>? {
        let isBlank: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        let line = text.unicodeScalars.drop(while: isBlank)
        let verbEnd = line.firstIndex(where: isBlank) ?? line.endIndex
        let verb = String(Substring(line[..<verbEnd]))
        guard verb == "explain" || verb == "forget" else { return nil }
        var user = line[verbEnd...].drop(while: isBlank)
        while let last = user.last, isBlank(last) { user = user.dropLast() }
        guard !user.isEmpty else { return .failure(.init("\(verb) needs a user id: \(verb) USER")) }
        return .success(verb == "explain" ? .explain(user: String(Substring(user))) : .forget(user: String(Substring(user))))
    }

    /// Parses one request line (without its newline; surrounding blanks ignored).
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlRequestError> {
        guard line.count <= maxLineBytes else { return .failure(.init("request longer than \(maxLineBytes) bytes")) }
        guard let text = String(validating: line, as: UTF8.self) else { return .failure(.init("request is not UTF-8 text")) }
        if let request = userRequest(text) { return request }
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        let words = text.split(whereSeparator: isBlank).map(String.init)
        switch words.first {
        case "reload" where words.count == 1: return .success(.reload)
        case "status" where words.count == 1: return .success(.status)
        case "report" where words.count == 1: return .success(.report)
        case "stall" where words.count == 2:
            guard let seconds = Int(words[1]), (0...3600).contains(seconds) else {
                return .failure(.init("stall needs a number of seconds from 0 to 3600"))
            }
            return .success(.stall(seconds: seconds))
        case "clock" where words.count == 2:
            let text = words[1]
            guard let sign = text.first, sign == "+" || sign == "-", let span = TimeSpan(parsing: String(text.dropFirst())) else {
                return .failure(.init("clock needs +SPAN or -SPAN, like +1d or -1h"))
            }
            return .success(.clock(step: sign == "-" ? TimeSpan(milliseconds: -span.milliseconds) : span))
        case nil: return .failure(.init("empty request; use reload, status, report, explain USER or forget USER"))
        default: return .failure(.init("unknown request; use reload, status, report, explain USER or forget USER"))
        }
    }
}

/// Why a control request was not understood.
public struct ControlRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
