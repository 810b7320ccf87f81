/// What an input tells of trouble it works around by itself — the event socket or the HTTP input at its
/// connection limit, a tailed file it cannot read, a spool entry it skips — for the journal (``message``)
/// and the metrics (``change``: an input blocked from the start of a trouble to its end; a skipped entry
/// is noted and blocks nothing).
public struct InputNotice: Sendable, Equatable, CustomStringConvertible {
    public enum Change: Sendable, Equatable {
        /// The input stopped taking producers or reading (until ``ended``).
        case began
        /// It takes producers or reads again.
        case ended
        /// Something was passed over; the input goes on.
        case noted
    }

    public var change: Change
    public var message: String

    public init(_ change: Change, _ message: String) {
        self.change = change
        self.message = message
    }

    public var description: String { message }
}
