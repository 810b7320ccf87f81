/// A request on the daemon's control socket: one line of text, answered with one line of JSON.
///
/// `reload`, `status`, and with `JOURNEYD_FAULT_INJECTION=1` the test hooks `stall SECONDS` and
/// `clock ±SPAN`. Parsing is strict and total: any bytes give a request or a reason, never a trap
/// (the control protocol's fuzz target checks that).
public enum ControlRequest: Sendable, Hashable {
    case reload
    case status
    /// Fault injection: block the processing loop this long.
    case stall(seconds: Int)
    /// Fault injection: step the wall clock.
    case clock(step: TimeSpan)

    /// The longest request line read.
    public static let maxLineBytes = 4096

    /// Parses one request line (without its newline; surrounding blanks ignored).
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlRequestError> {
        guard line.count <= maxLineBytes else { return .failure(.init("request longer than \(maxLineBytes) bytes")) }
        guard let text = String(validating: line, as: UTF8.self) else { return .failure(.init("request is not UTF-8 text")) }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        switch words.first {
        case "reload" where words.count == 1: return .success(.reload)
        case "status" where words.count == 1: return .success(.status)
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
        case nil: return .failure(.init("empty request; use reload or status"))
        default: return .failure(.init("unknown request; use reload or status"))
        }
    }
}

/// Why a control request was not understood.
public struct ControlRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
