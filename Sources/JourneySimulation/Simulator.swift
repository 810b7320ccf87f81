public import JourneyCore
public import JourneyEngine
public import JourneyRules

/// The engine on a simulated clock over an in-memory store: what `journeyd test` and `journeyd replay`
/// run. Time is the events' own time; timers fire exactly when due, in order, before any later event.
public struct Simulator {
    public private(set) var engine: Engine
    public private(set) var store: InMemoryStateStore
    /// The simulated clock: the latest instant reached so far. Never goes back.
    public private(set) var clock: Timestamp
    /// Events whose timestamp was before the clock; they are applied at the clock's time.
    public private(set) var outOfOrderEvents = 0
    private var effects: [Effect] = []

    public init(rules: RuleSet, start: Timestamp = .distantPast) {
        self.engine = Engine(rules: rules)
        self.store = InMemoryStateStore(
            dedupWindow: rules.settings.dedupWindow, dedupMaxEntries: rules.settings.dedupMaxEntries)
        self.clock = start
        self.engine.traceLimit = 0
    }

    /// Turns the decision trace on (`limit` records per user, only `user`'s when given) or off (`limit` 0).
    /// Tests and replays run without it unless asked: it is for `replay --explain`.
    public mutating func trace(limit: Int, only user: String? = nil) {
        engine.traceLimit = limit
        engine.traceUser = user
    }

    /// What the simulation knows about `user` (`replay --explain`): no outbox, nothing is sent.
    public func explain(_ user: String) -> Explanation {
        Explanation(user: user, state: store.user(user), outbox: [], traceLimit: engine.traceLimit) { engine.journey(version: $0) }
    }

    /// Applies `event` at its own time (or at the clock, if it arrived out of order), after firing every
    /// timer due by then. Calls `observe` for each effect, in order.
    public mutating func feed(_ event: Event, observe: (Effect) -> Void) {
        if event.timestamp < clock { outOfOrderEvents += 1 }
        advance(to: event.timestamp, observe: observe)
        engine.handle(event, at: clock, store: &store, effects: &effects)
        drain(observe)
    }

    /// Simulated downtime: timers due inside an outage fire late, at its end.
    public var outages: [JourneyTest.Outage] = []

    /// Moves the clock to `t`, firing every timer due by then.
    public mutating func advance(to t: Timestamp, observe: (Effect) -> Void) {
        while let due = store.nextTimerDue, due <= t {
            if let outage = outages.first(where: { due >= $0.from && due < $0.to }) {
                guard outage.to <= t else { break }  // still down at `t`: they fire when it ends
                clock = max(clock, outage.to)
                engine.fireTimers(dueBy: outage.to - TimeSpan(milliseconds: 1), firingAt: outage.to, store: &store, effects: &effects)
            } else {
                clock = max(clock, due)
                engine.fireTimers(dueBy: due, firingAt: nil, store: &store, effects: &effects)
            }
            drain(observe)
        }
        clock = max(clock, t)
    }

    private mutating func drain(_ observe: (Effect) -> Void) {
        for effect in effects { observe(effect) }
        effects.removeAll(keepingCapacity: true)
    }
}
