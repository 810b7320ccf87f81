import JourneyCore
import JourneyRules

/// The decision trace (`journeyd explain`): each decision noted with its reason, only while the run
/// keeps a record — when the trace is off, a note costs one check and builds no text.
extension Run {
    /// Callers check `trace != nil` first, so that no text is built when the trace is off.
    mutating func note(_ kind: Decision.Kind, _ journey: String, step: String = "", _ verdict: String, _ reason: String = "") {
        trace?.decisions.append(Decision(kind, journey: journey, step: step, verdict: verdict, reason: reason))
    }

    /// The values a condition read, as `path = value` pairs: `user.plan = "free", count("purchase", within: 30d) = 0`.
    func inputs(
        of condition: Expression, _ user: UserState, journey: Journey?, enrollment: Enrollment? = nil, withEvent: Bool
    ) -> String {
        withScope(user, journey: journey, enrollment: enrollment, withEvent: withEvent) { scope in
            condition.inputs(in: scope).map { "\($0.text) = \($0.value.jsonText)" }.joined(separator: ", ")
        }
    }

    /// `condition is true: inputs` for the trace.
    func verdict(
        of condition: Expression, _ holds: Bool, _ user: UserState, journey: Journey?, enrollment: Enrollment? = nil,
        withEvent: Bool
    ) -> String {
        let read = inputs(of: condition, user, journey: journey, enrollment: enrollment, withEvent: withEvent)
        return "\(condition.source) is \(holds)" + (read.isEmpty ? "" : ": \(read)")
    }

    /// Notes what an outcome decided (those whose reason is noted where they are decided are left out).
    mutating func note(outcome kind: Outcome.Kind, journey: String, step: String, detail: String) {
        guard trace != nil else { return }
        switch kind {
        case .entered: note(.entry, journey, "entered", detail.isEmpty ? "" : "entry key \(detail)")
        case .reached: note(.step, journey, step: step, "reached")
        case .converted: note(.goal, journey, step: step, "converted", detail.isEmpty ? "" : "variant \(detail)")
        case .exited: note(.exit, journey, step: step, "exited", detail)
        case .updated: note(.step, journey, step: step, "updated traits")
        case .capped, .deferred, .suppressed, .skippedLate, .heldOut, .duplicate, .stageChanged: break
        }
    }

    /// How an input reads in the trace.
    static func describe(_ event: Event) -> String {
        let kind: String
        switch event.kind {
        case .track: kind = "track \"\(event.name)\""
        case .identify: kind = "identify"
        case .page: kind = "page \"\(event.name)\""
        case .screen: kind = "screen \"\(event.name)\""
        case .group: kind = "group"
        case .alias: kind = "alias"
        }
        return "\(kind) (messageId \(event.messageId), timestamp \(event.timestamp.iso8601))"
    }

    static func describe(_ timer: TimerEntry, late: TimeSpan) -> String {
        let what: String
        switch timer.purpose {
        case .enrollment(let seq): what = "enrollment \(timer.user)#\(seq)"
        case .dateTrigger(let journey): what = "date trigger of \(journey)"
        case .segmentRecheck(let key): what = key == Run.stagesKey ? "stage recheck" : "segment recheck of \(key)"
        }
        return "timer \(timer.seq) for \(what), due \(timer.due.iso8601)" + (late > .zero ? ", fired \(late) late" : "")
    }
}
