import JourneyCore
import JourneyRules

/// Segment triggers that time alone can make true (`days_since(last("purchase")) >= 30`, `count(…,
/// within:)`, `hour()`…) are evaluated again by a timer, not by polling: whenever a segment condition is
/// evaluated, the instant it could next change with no event arriving
/// (``JourneyRules/Expression/nextChange(in:)``) gets one timer. At most one is pending per user and
/// journey (``UserState/rechecks``); arming another makes the earlier one stale. The lifecycle stages'
/// conditions (`days_since(last("purchase")) >= 90` for a lapsed stage) are rechecked the same way, under
/// one more key per user.
extension Run {
    /// Arms, keeps or drops the user's recheck of `journey`'s segment condition.
    mutating func recheck(_ journey: Journey, _ condition: Expression, user: inout UserState) {
        let due = withScope(user, journey: journey, withEvent: false) { condition.nextChange(in: $0) }
        arm(recheck: journey.id, at: due, user: &user, why: "segment condition \(condition.source)")
    }

    /// Arms, keeps or drops the user's recheck under `key` (a journey id, or ``stagesKey``): one pending
    /// timer per key, due at `due` when that is in the future.
    mutating func arm(recheck key: String, at due: Timestamp?, user: inout UserState, why: String) {
        let slot = user.rechecks.firstIndex { $0.journey == key }
        guard let due, due > now else {
            if let slot { user.rechecks.remove(at: slot) }  // its timer is stale now
            return
        }
        if let slot, user.rechecks[slot].due == due { return }
        let seq = schedule(due, user: user.id, purpose: .segmentRecheck(key))
        let pending = DateSchedule(journey: key, timer: seq, due: due)
        if let slot { user.rechecks[slot] = pending } else { user.rechecks.append(pending) }
        if trace != nil { note(.recheck, key == Self.stagesKey ? "" : key, "scheduled", "\(why) could change at \(due.iso8601)") }
    }

    /// The recheck key of the lifecycle stages' conditions (journey ids are identifiers, so it is never one).
    static let stagesKey = "(stages)"

    /// Takes the pending recheck `timer` of `journeyID`; false when it is stale.
    mutating func takeRecheck(_ journeyID: String, timer: TimerEntry, user: inout UserState) -> Bool {
        guard let slot = user.rechecks.firstIndex(where: { $0.journey == journeyID && $0.timer == timer.seq }) else { return false }
        user.rechecks.remove(at: slot)
        if trace != nil {
            note(.recheck, journeyID == Self.stagesKey ? "" : journeyID, "due",
                "\(journeyID == Self.stagesKey ? "stage conditions" : "segment condition") evaluated again at \(timer.due.iso8601)")
        }
        return true
    }
}
