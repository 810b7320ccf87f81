import JourneyCore
import JourneyRules

/// A conversion is the goal event within the goal window from entry, however the enrollment ended.
///
/// An enrollment that ends other than by its goal (its steps completed, `exit_when`, a late exit) while its
/// goal window is still open stays in the user's list as a *watcher* (`Enrollment.Phase.watching`): it
/// receives nothing, refuses no re-entry and counts for no metric of running enrollments, but a goal event
/// before the window closes still converts it. Holdout enrollments are watched for the whole window too, so
/// treatment and holdout conversions are measured over the same window and the report's uplift compares
/// like with like. A timer at the end of the window removes the watcher.
extension Run {
    /// Ends an enrollment other than by its goal: the `exited` outcome, then a watcher while the goal
    /// window is open. Returns false (the enrollment no longer runs); the caller keeps a watcher.
    mutating func end(_ e: inout Enrollment, journey: Journey, user: UserState, step: String, detail: String) -> Bool {
        outcome(.exited, user, journey.id, step: step, detail: detail)
        guard let goal = journey.goal, let within = goal.within, now < e.enteredAt + within else { return false }
        e.phase = .watching
        arm(&e, user: user, at: e.enteredAt + within)
        if trace != nil {
            note(.goal, journey.id, step: step, "watching", "for \(goal.match.event) until \(e.due.iso8601), the end of the goal window")
        }
        return false
    }

    /// Whether an enrollment that `runSteps`, `reactOne` or `resume` reported as ended stays as a watcher.
    static func keeps(_ e: Enrollment, alive: Bool) -> Bool { alive || e.phase == .watching }

    /// A watcher sees a track event: the goal within the window converts it and it is removed. Returns
    /// whether it stays.
    mutating func watch(_ e: Enrollment, sees event: Event, user: UserState) -> Bool {
        guard let journey = compiled.versions[e.version], let goal = journey.goal else { return false }
        guard matches(goal.match, event, user, e, journey), goal.within.map({ now <= e.enteredAt + $0 }) ?? true else {
            return true
        }
        outcome(.converted, user, journey.id, detail: e.variant ?? "")
        return false
    }

    /// A watcher's timer: the goal window closed without the goal.
    mutating func closeWindow(of e: Enrollment, user: UserState) {
        if trace != nil {
            let goal = compiled.versions[e.version]?.goal?.match.event ?? "the goal"
            note(.goal, e.journey, "not converted", "no \(goal) within the goal window of \(user.id)#\(e.seq) (entered \(e.enteredAt.iso8601))")
        }
    }
}
