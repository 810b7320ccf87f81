public import JourneyCore
public import JourneyEngine
public import JourneyRules

/// The engine, an in-memory store and a manual clock, for tests that never sleep.
///
/// ```swift
/// var h = EngineHarness(rules: rules, now: "2025-01-06T10:00:00Z")
/// h.track("cart_add", user: "u1", ["price": 80])
/// h.advance(by: .hours(1))
/// #expect(h.touches.map(\.step) == ["remind"])
/// ```
public struct EngineHarness {
    public var engine: Engine
    public var store: InMemoryStateStore
    /// The manual clock.
    public private(set) var now: Timestamp
    public private(set) var effects: [Effect] = []
    private var counter = 0

    public init(rules: RuleSet, now: Timestamp) {
        self.engine = Engine(rules: rules)
        self.store = InMemoryStateStore()
        self.now = now
    }

    public init(rules: RuleSet, now iso8601: String) {
        self.init(rules: rules, now: Timestamp(iso8601: iso8601)!)
    }

    public var touches: [Touch] {
        effects.compactMap { if case .touch(let t) = $0 { return t } else { return nil } }
    }

    public var outcomes: [Outcome] {
        effects.compactMap { if case .outcome(let o) = $0 { return o } else { return nil } }
    }

    /// Outcomes of one kind, e.g. `outcomes(.converted)`.
    public func outcomes(_ kind: Outcome.Kind) -> [Outcome] { outcomes.filter { $0.kind == kind } }

    /// Moves the clock forward, firing due timers each at its due time.
    public mutating func advance(by span: TimeSpan) { advance(to: now + span) }

    public mutating func advance(to t: Timestamp) {
        precondition(t >= now, "the manual clock only moves forward")
        while let due = store.nextTimerDue, due <= t {
            now = Swift.max(now, due)
            engine.fireTimers(dueBy: due, firingAt: nil, store: &store, effects: &effects)
        }
        now = t
    }

    /// Moves the clock to `t` as after downtime: every timer due by then fires late, at `t`.
    public mutating func resumeAfterDowntime(at t: Timestamp) {
        now = t
        engine.fireDueTimers(until: t, clock: .wallClock, store: &store, effects: &effects)
    }

    public mutating func send(_ event: Event) {
        engine.handle(event, at: now, store: &store, effects: &effects)
    }

    public mutating func track(_ name: String, user: String, _ properties: Value = .emptyObject) {
        counter += 1
        send(.track(name, user: user, at: now, properties: properties, messageId: "h\(counter)"))
    }

    public mutating func identify(user: String, _ traits: Value) {
        counter += 1
        send(.identify(user: user, at: now, traits: traits, messageId: "h\(counter)"))
    }

    /// Replaces the rules, as a reload would.
    @discardableResult
    public mutating func reload(_ rules: RuleSet) -> ReloadSummary { engine.load(rules) }

    public mutating func clearEffects() { effects.removeAll() }
}
