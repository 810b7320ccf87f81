import JourneyCore
import JourneyRules

/// Identity merge (docs/IDENTITY.md): an anonymous profile absorbed into the known user, inside the run
/// of the `alias` or `identify` that merges them, before that event itself is applied.
extension Run {
    /// Merges `other` (the profile being absorbed, already replaced by a pointer in the store) into `user`:
    ///
    /// - traits: a trait only one side has is kept; one both have takes the value of the side whose traits
    ///   changed later by event time (``UserState/traitsChangedAt``), the known user on a tie. Consent is
    ///   the union: a channel either side closed stays closed;
    /// - history: counts and sums added, first times the earlier, last times the later, window
    ///   occurrences merged in time order;
    /// - re-entry records: the later entry per journey and key; touches (for caps): both, in time order;
    ///   segment memberships: both;
    /// - running enrollments move to `user` with new enrollment numbers and their timers armed again at the
    ///   same due time. When both run the same journey with the same entry key, the one entered first is
    ///   kept (as re-entry would have refused the later one had the person been known all along; the known
    ///   user's on a tie) and the other ends: `exited`, detail `identity merge: …`.
    mutating func absorb(_ other: UserState, into user: inout UserState) {
        profileMerged = true
        if trace != nil {
            note(.identity, "", "merged", "\(other.id) merged into \(user.id): \(other.enrollments.count) running enrollment(s), "
                + "\(other.history.reduce(0) { $0 + $1.count }) event(s) of history, \(other.traits.members?.count ?? 0) trait(s)")
        }
        mergeTraits(of: other, into: &user)
        for track in other.history { Self.merge(track, into: &user) }
        for entry in other.entries {
            if let i = user.entries.firstIndex(where: { $0.journey == entry.journey && $0.key == entry.key }) {
                user.entries[i].lastEnteredAt = max(user.entries[i].lastEnteredAt, entry.lastEnteredAt)
            } else {
                user.entries.append(entry)
            }
        }
        if !other.touchLog.isEmpty {
            user.touchLog = (user.touchLog + other.touchLog).enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        }
        for segment in other.segments where !user.segments.contains(segment) { user.segments.append(segment) }
        for enrollment in other.enrollments { move(enrollment, from: other, into: &user) }
        user.aliases.append(other.id)
        leaveStage(other)
    }

    private mutating func mergeTraits(of other: UserState, into user: inout UserState) {
        let otherWins = other.traitsChangedAt > user.traitsChangedAt
        let closed = user.unsubscribedChannels
        let otherClosed = other.unsubscribedChannels
        for member in other.traits.members ?? [] where member.key != "unsubscribed" {
            let mine = user.traits[member.key]
            guard mine == nil || (otherWins && mine != member.value) else { continue }
            user.traits.set(member.key, to: member.value)
            changedTraits.append(member.key)
        }
        let union = closed.contains("all") || otherClosed.contains("all") ? ["all"] : closed + otherClosed.filter { !closed.contains($0) }
        if user.setUnsubscribedChannels(union) { changedTraits.append("unsubscribed") }
        user.traitsChangedAt = max(user.traitsChangedAt, other.traitsChangedAt)
    }

    static func merge(_ track: HistoryTrack, into user: inout UserState) {
        guard let i = user.history.firstIndex(where: { $0.event == track.event }) else {
            user.history.append(track)
            return
        }
        var mine = user.history[i]
        mine.count += track.count
        mine.first = min(mine.first, track.first)
        mine.last = max(mine.last, track.last)
        for j in track.sums.indices {
            if j < mine.sums.count { mine.sums[j] += track.sums[j] } else { mine.sums.append(track.sums[j]) }
        }
        if !track.recent.isEmpty {
            mine.recent = (mine.recent + track.recent).enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        }
        user.history[i] = mine
    }

    private mutating func move(_ moving: Enrollment, from other: UserState, into user: inout UserState) {
        var e = moving
        // Watchers (ended, watching their goal window) never conflict: each keeps its own window.
        if e.phase != .watching,
            let i = user.enrollments.firstIndex(where: { $0.journey == e.journey && $0.key == e.key && $0.phase != .watching })
        {
            let kept = user.enrollments[i]
            if kept.enteredAt <= e.enteredAt {
                outcome(.exited, other, e.journey, step: stepName(e),
                    detail: "identity merge: \(user.id)#\(kept.seq) entered first (\(kept.enteredAt.iso8601)) and is kept")
                return
            }
            user.enrollments.remove(at: i)
            outcome(.exited, user, kept.journey, step: stepName(kept),
                detail: "identity merge: \(other.id)#\(e.seq) entered first (\(e.enteredAt.iso8601)) and is kept")
        }
        let from = "\(other.id)#\(e.seq)"
        e.seq = user.nextEnrollmentSeq
        user.nextEnrollmentSeq += 1
        if e.timer != 0 { arm(&e, user: user, at: e.due) }
        if trace != nil {
            note(.identity, e.journey, step: stepName(e), "enrollment moved",
                "\(from) continues as \(user.id)#\(e.seq)" + (e.timer != 0 ? ", timer due \(e.due.iso8601)" : ""))
        }
        user.enrollments.append(e)
    }

    private func stepName(_ e: Enrollment) -> String {
        guard let journey = compiled.versions[e.version] else { return "" }
        return stepID(e, journey)
    }
}
