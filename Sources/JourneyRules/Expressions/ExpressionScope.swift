public import JourneyCore

/// The roots a path in an expression can start from.
public enum PathRoot: String, Sendable, Hashable, CaseIterable {
    /// The event being evaluated (`event.name`, `event.type`, `event.timestamp`, `event.properties.price`,
    /// `event.traits.tier`, `event.context.…`).
    case event
    /// The user's profile: merged traits (`user.tier`) plus `user.id`.
    case user
    /// The enrollment being run: `enrollment.key`, `enrollment.entered_at`, `enrollment.trigger.properties.…`
    /// (the event that started it), `enrollment.variant` (the split arm taken, if any).
    case enrollment
    /// The journey: `journey.id`, `journey.version`.
    case journey
}

/// What an expression can see while it is evaluated. The engine implements it over a user's state;
/// tests implement it over plain values.
///
/// - Important: Implementations must be pure with respect to the scope: the same scope answers the same
///   question the same way. Expressions never change state.
public protocol ExpressionScope {
    /// The value at `path` under `root`; `.null` when anything on the way is missing.
    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value
    /// How many `event` track events the user did in `(now - within, now]`, or ever when `within` is nil.
    func count(event: String, within: TimeSpan?) -> Int
    /// The sum of numeric `property` over those events (non-numbers count as 0).
    func sum(event: String, property: String, within: TimeSpan?) -> Double
    /// When the user last / first did `event`, or nil if never.
    func lastTime(event: String) -> Timestamp?
    func firstTime(event: String) -> Timestamp?
    /// The earliest instant after now at which an occurrence of `event` counted in `(now - within, now]`
    /// leaves that window, or nil when none is counted (for ``Expression/nextChange(in:)``).
    func nextExpiry(event: String, within: TimeSpan) -> Timestamp?
    /// The evaluation instant (the event's time, or the timer's).
    var now: Timestamp { get }
    /// The user's time zone (their `timezone` trait, else the configured default).
    var zone: Zone { get }
    /// The local date and time at `now` in `zone`, for `hour()`, `weekday()`, `local_time()`… Defaults to
    /// `zone.local(now)`; an expression that reads the clock more than once asks for it only once.
    var localNow: LocalDateTime { get }
}

extension ExpressionScope {
    public var localNow: LocalDateTime { zone.local(now) }
    /// Scopes without a history of occurrences say none leaves a window.
    public func nextExpiry(event: String, within: TimeSpan) -> Timestamp? { nil }
}

/// A scope that answers `localNow` from a value computed once (see ``Expression/evaluate(in:)``).
///
/// It refers to the base scope by pointer, so wrapping costs no reference counting; it lives only inside
/// ``withLocalTimeCached(_:_:)``.
@usableFromInline
struct LocalTimeCachingScope<Base: ExpressionScope>: ExpressionScope {
    @usableFromInline let base: UnsafePointer<Base>
    @usableFromInline let localNow: LocalDateTime

    @inlinable
    init(_ base: UnsafePointer<Base>) {
        self.base = base
        self.localNow = base.pointee.localNow
    }

    @inlinable func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value {
        base.pointee.lookup(root, path)
    }
    @inlinable func count(event: String, within: TimeSpan?) -> Int {
        base.pointee.count(event: event, within: within)
    }
    @inlinable func sum(event: String, property: String, within: TimeSpan?) -> Double {
        base.pointee.sum(event: event, property: property, within: within)
    }
    @inlinable func lastTime(event: String) -> Timestamp? { base.pointee.lastTime(event: event) }
    @inlinable func firstTime(event: String) -> Timestamp? { base.pointee.firstTime(event: event) }
    @inlinable var now: Timestamp { base.pointee.now }
    @inlinable var zone: Zone { base.pointee.zone }
}

/// Runs `body` with `scope` wrapped so that its local time is computed once.
@inlinable
func withLocalTimeCached<S: ExpressionScope, R>(_ scope: S, _ body: (LocalTimeCachingScope<S>) -> R) -> R {
    withUnsafePointer(to: scope) { body(LocalTimeCachingScope($0)) }
}

/// History an expression reads, collected at compile time so the engine keeps exactly what rules need
/// (per event name: the longest window, and which properties are summed) and nothing more.
public struct HistoryNeed: Sendable, Hashable {
    public var event: String
    /// The property summed, or nil for counts and first/last times.
    public var property: String?
    /// The window, or nil for "ever".
    public var within: TimeSpan?

    public init(event: String, property: String? = nil, within: TimeSpan? = nil) {
        self.event = event
        self.property = property
        self.within = within
    }
}
