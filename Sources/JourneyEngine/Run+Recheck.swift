import JourneyCore
import JourneyRules

/// Segment triggers that time alone can make true (`days_since(last("purchase")) >= 30`, `count(…,
/// within:)`, `hour()`…) are evaluated again by a timer, not by polling: whenever a segment condition is
/// evaluated, the instant it could next change with no event arriving
/// (``JourneyRules/Expression/nextChange(in:)``) gets one timer. At most one is pending per user and
/// journey (``UserState/rechecks``); arming another makes the earlier one stale.
extension Run {
    /// Arms, keeps or drops the user's recheck of `journey`'s segment condition.
    mutating func recheck(_ journey: Journey, _ condition: Expression, user: inout UserState) {
        let due = withScope(user, journey: journey, withEvent: false) { condition.nextChange(in: $0) }
        let slot = user.rechecks.firstIndex { $0.journey == journey.id }
        guard let due, due > now else {
            if let slot { user.rechecks.remove(at: slot) }  // its timer is stale now
            return
        }
        if let slot, user.rechecks[slot].due == due { return }
        let seq = schedule(due, user: user.id, purpose: .segmentRecheck(journey.id))
        let pending = DateSchedule(journey: journey.id, timer: seq, due: due)
        if let slot { user.rechecks[slot] = pending } else { user.rechecks.append(pending) }
        if trace != nil { note(.recheck, journey.id, "scheduled", "segment condition \(condition.source) could change at \(due.iso8601)") }
    }

    /// Takes the pending recheck `timer` of `journeyID`; false when it is stale.
    mutating func takeRecheck(_ journeyID: String, timer: TimerEntry, user: inout UserState) -> Bool {
        guard let slot = user.rechecks.firstIndex(where: { $0.journey == journeyID && $0.timer == timer.seq }) else { return false }
        user.rechecks.remove(at: slot)
        if trace != nil { note(.recheck, journeyID, "due", "segment condition evaluated again at \(timer.due.iso8601)") }
        return true
    }
}
