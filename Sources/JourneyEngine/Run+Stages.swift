import JourneyCore
import JourneyRules

/// Lifecycle stages (journeyd.yaml `stages`): the user's stage is the last one whose condition holds;
/// a change is recorded as an outcome and enters the journeys triggered by it.
extension Run {
    /// The stage `user`'s profile is in now ("" when none holds).
    func currentStage(of user: UserState) -> String {
        for stage in compiled.rules.settings.stages.reversed() {
            guard let condition = stage.condition else { return stage.name }
            if test(condition, user, journey: nil, withEvent: false) { return stage.name }
        }
        return ""
    }

    /// An absorbed profile leaves its stage (to "": it is no longer a user of its own); the user it merged
    /// into gets the stage of the merged profile when the run settles.
    mutating func leaveStage(_ absorbed: UserState) {
        guard !absorbed.stage.isEmpty else { return }
        effects.append(.outcome(Outcome(kind: .stageChanged(from: absorbed.stage), user: absorbed.id, detail: "", at: now)))
    }

    /// Recomputes the stage after a change to the profile; on a transition records it (from, to, now)
    /// and enters the journeys whose `stage` trigger it matches.
    mutating func updateStage(_ user: inout UserState) {
        let stage = currentStage(of: user)
        recheckStages(&user)
        guard stage != user.stage else { return }
        let from = user.stage
        user.stage = stage
        effects.append(.outcome(Outcome(kind: .stageChanged(from: from), user: user.id, detail: stage, at: now)))
        for index in compiled.stageTriggers[stage] ?? [] {
            let journey = compiled.rules.journeys[index]
            guard case .stage(_, let required) = journey.trigger else { continue }
            let matched = required == nil || required == from
            if trace != nil {
                note(.trigger, journey.id, matched ? "matched" : "not matched",
                    "stage became \(stage) from \(from.isEmpty ? "none" : from)" + (required.map { matched ? "" : "; the trigger needs from \($0)" } ?? ""))
            }
            if matched { enter(journey, user: &user, withEvent: false) }
        }
    }

    /// Arms the user's stage recheck at the first instant time alone could change a stage condition (the
    /// earliest ``JourneyRules/Expression/nextChange(in:)`` of them), so a stage such as `lapsed` is
    /// entered on the day it becomes true with no event arriving.
    mutating func recheckStages(_ user: inout UserState) {
        var first: (due: Timestamp, source: String)?
        for stage in compiled.rules.settings.stages {
            guard let condition = stage.condition,
                let due = withScope(user, journey: nil, withEvent: false, { condition.nextChange(in: $0) }), due > now
            else { continue }
            if first == nil || due < first!.due { first = (due, condition.source) }
        }
        arm(recheck: Self.stagesKey, at: first?.due, user: &user, why: "stage condition \(first?.source ?? "")")
    }
}
