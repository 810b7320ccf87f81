public import JourneyCore
public import JourneyRules

/// The deterministic journey engine.
///
/// Evaluation is a function of (rules, state, input, now) that returns effects: the engine changes the
/// state it is given (through ``StateStore``) and appends ``Effect``s; it reads no clock, no file and no
/// randomness of its own. The same engine serves `run`, `test`, `replay` and `explain`; only the clock
/// differs (the wall clock in `run`, event time in `test` and `replay`).
///
/// An event costs the journeys it can trigger (an index by event name, trait and date trait), plus the
/// user's own running enrollments — never all journeys.
public struct Engine: Sendable {
    /// The rules in force, indexed, plus every journey version loaded in this engine's life (by content
    /// hash), so that users pinned to an older version keep running it (`on_change: pin`) and followers
    /// can be mapped by step id.
    var compiled: CompiledRules
    /// Decision records kept per user (`explain.trace` in journeyd.yaml); 0 turns the trace off.
    public var traceLimit: Int
    /// When set, only this user's decisions are traced (`replay --explain USER`).
    public var traceUser: String?

    public init(rules: RuleSet) {
        var versions: [String: Journey] = [:]
        for journey in rules.journeys { versions[journey.version] = journey }
        self.compiled = CompiledRules(rules, versions: versions)
        self.traceLimit = rules.settings.decisionTrace
    }

    /// Whether `user`'s decisions are traced.
    func traces(_ user: String) -> Bool { traceLimit > 0 && (traceUser == nil || traceUser == user) }

    public var rules: RuleSet { compiled.rules }

    /// Replaces the rule set. Unchanged journeys (same content hash) keep their enrollments untouched;
    /// enrollments of changed or removed journeys keep running their version (`pin`) or move to the same
    /// step id of the new version when they next wake (`follow`).
    public mutating func load(_ rules: RuleSet) -> ReloadSummary {
        var summary = ReloadSummary()
        let old = compiled.rules.journeys
        var versions = compiled.versions
        for journey in rules.journeys {
            if let previous = old.first(where: { $0.id == journey.id }) {
                if previous.version == journey.version { summary.unchanged.append(journey.id) } else { summary.changed.append(journey.id) }
            } else {
                summary.added.append(journey.id)
            }
            versions[journey.version] = journey
        }
        summary.removed = old.map(\.id).filter { id in !rules.journeys.contains { $0.id == id } }
        compiled = CompiledRules(rules, versions: versions)
        traceLimit = rules.settings.decisionTrace
        return summary
    }

    /// Keeps older versions of journeys loaded (by content hash) for enrollments pinned to them — after a
    /// restart, the durable store hands back the versions it kept.
    public mutating func retain(_ journeys: [Journey]) {
        var versions = compiled.versions
        for journey in journeys where versions[journey.version] == nil { versions[journey.version] = journey }
        compiled = CompiledRules(compiled.rules, versions: versions)
    }

    /// Which clock fires timers.
    public enum TimerClock: Sendable {
        /// Simulated time (`test`, `replay`): each timer fires exactly at its due time.
        case simulated
        /// Real time (`run`): timers fire at `now`, possibly late; the journey's `late` policy applies.
        case wallClock
    }

    // MARK: - Inputs

    /// Applies one event at `now`: deduplication (by `messageId` within `namespace`: each source names
    /// its own), profile update, running enrollments, triggers.
    public func handle<S: StateStore>(
        _ event: Event, at now: Timestamp, namespace: String = "", store: inout S, effects: inout [Effect]
    ) {
        guard store.markSeen(DedupWindow.Key(event.messageId, namespace: namespace), at: now) else {
            effects.append(.outcome(Outcome(kind: .duplicate, user: event.userId, detail: event.messageId, at: now)))
            if traces(event.userId), store.contains(user: event.userId) {
                let record = DecisionRecord(
                    at: now, input: Run.describe(event),
                    decisions: [Decision(.duplicate, verdict: "ignored", reason: "messageId \(event.messageId) already seen")])
                store.withUser(event.userId) { $0.remember(record, limit: traceLimit) }
            }
            return
        }
        var run = Run(compiled: compiled, now: now, event: event, timerSeq: store.lastTimerSeq)
        if traces(event.userId) || (traceUser != nil && traces(IdentityMerge.resolve(event.userId, in: store))) {
            run.trace = DecisionRecord(at: now, input: Run.describe(event))  // `--explain USER` follows USER's merged ids
        }
        swap(&run.effects, &effects)
        applyResolved(event, run: &run, store: &store)  // Engine+Identity: merged ids apply to their owner
        swap(&run.effects, &effects)
        for timer in run.timers { store.schedule(timer) }
    }

    /// Fires every timer due at or before `now`, earliest first.
    public func fireDueTimers<S: StateStore>(
        until now: Timestamp,
        clock: TimerClock,
        store: inout S,
        effects: inout [Effect]
    ) {
        fireTimers(dueBy: now, firingAt: clock == .simulated ? nil : now, store: &store, effects: &effects)
    }

    /// Fires every timer due at or before `limit`, earliest first, each at its own due time when
    /// `firingAt` is nil, else all at `firingAt` (late, as after downtime).
    public func fireTimers<S: StateStore>(
        dueBy limit: Timestamp,
        firingAt: Timestamp?,
        store: inout S,
        effects: inout [Effect]
    ) {
        while let timer = store.popTimer(dueBy: limit) {
            fire(timer, at: firingAt ?? timer.due, store: &store, effects: &effects)
        }
    }

    /// Fires one timer taken from the store's queue at `now` (its due time, or later when it fires late).
    /// A timer of a user the store no longer holds (forgotten) does nothing.
    public func fire<S: StateStore>(_ timer: TimerEntry, at now: Timestamp, store: inout S, effects: inout [Effect]) {
        guard store.contains(user: timer.user) else { return }  // forgotten user: stale timer
        var run = Run(compiled: compiled, now: now, event: nil, timerSeq: store.lastTimerSeq)
        if traces(timer.user) { run.trace = DecisionRecord(at: now, input: "") }  // described only if it decides something
        swap(&run.effects, &effects)
        let limit = traceLimit
        store.withUser(timer.user) { user in
            run.fire(timer, user: &user)
            // A stale timer decides nothing: not worth a record.
            if var record = run.trace, !record.decisions.isEmpty {
                record.input = Run.describe(timer, late: now - timer.due)
                user.remember(record, limit: limit)
            }
        }
        swap(&run.effects, &effects)
        for timer in run.timers { store.schedule(timer) }
    }

}

/// What a reload changed, by journey id.
public struct ReloadSummary: Sendable, Equatable {
    public var added: [String] = []
    public var changed: [String] = []
    public var removed: [String] = []
    public var unchanged: [String] = []
    public init() {}
}
