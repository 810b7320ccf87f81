import JourneyChannels
import JourneyCore
import JourneyEngine

/// `journeyd forget USER` (an erasure request): the profile, history, enrollments, timers, decision
/// records and the touches not yet delivered of one user leave the partition. Logged before it is applied,
/// so replaying the log after a restart erases again whatever the earlier records rebuild; the next
/// checkpoint deletes the user's rows (state and outbox) from the store.
extension PartitionProcessor {
    /// Logs and applies the erasure; returns what was erased and the record's sequence number (the answer
    /// waits until it is durable).
    func forget(_ user: String) throws -> (erasure: Erasure, sequence: UInt64) {
        let sequence = try log.append { JournalRecord.forget(user: user).encode(into: &$0) }
        let erasure = applyForget(user)
        do {
            try forgetElsewhere(erasure)
        } catch {
            // Logged and applied here, so a retry would find nothing more to tell: the partition stops, and its
            // next owner, replaying the record, tells the other partitions.
            fail("partition \(partition): telling other partitions to forget failed: \(error)", diskFull: false)
            throw error
        }
        return (erasure, sequence)
    }

    /// The erasure itself: also what replaying a `forget` record does. The person is erased: the id's
    /// owner and every id merged into it (`alias`, `identify` with an `anonymousId`), each tombstoned.
    ///
    /// Cluster mode: ids handed over from another partition (docs/CLUSTER.md, "Identity across
    /// partitions") are named in ``Erasure/elsewhere`` for their partitions to erase what they keep (a
    /// pointer row, the id's events and touches); an id that was handed over from here to a user of
    /// another partition is erased here, with the ids merged into it here, and that user's partition is
    /// asked to erase the person.
    func applyForget(_ user: String) -> Erasure {
        var person = Identity.person(user, in: state)
        var elsewhere: [String] = []
        if let partitionOf, person.owner != user, partitionOf(person.owner) != partition, !state.contains(user: person.owner) {
            elsewhere.append(person.owner)
            person = (user, Identity.merged(into: user, in: state))
        }
        if let partitionOf {
            elsewhere += person.merged.filter { partitionOf($0) != partition }
            // Forgotten while waiting for a hand-over: the id asked for points to this person there now.
            if let source = state.user(person.owner)?.handover?.source, partitionOf(source) != partition { elsewhere.append(source) }
        }
        var erasure = forgetOne(person.owner)
        erasure.elsewhere = elsewhere
        for id in person.merged {
            let more = forgetOne(id)
            erasure.traits += more.traits
            erasure.historyEvents += more.historyEvents
            erasure.enrollments += more.enrollments
            erasure.timers += more.timers
            erasure.decisionRecords += more.decisionRecords
            erasure.queuedTouches += more.queuedTouches
        }
        erasure.user = user
        erasure.known = erasure.known || person.owner != user
        erasure.ids = [person.owner] + person.merged
        return erasure
    }

    private func forgetOne(_ user: String) -> Erasure {
        let kept = state.user(user)
        let (timers, touches) = state.forget(user)
        // Touches marked attempting whose record is not durable yet have not reached the dispatcher: they never will.
        var unstaged = 0
        for i in staged.indices {
            let before = staged[i].items
            staged[i].items.removeAll { $0.message.touch.user == user }
            guard staged[i].items.count < before.count else { continue }
            unstaged += before.count - staged[i].items.count
            for item in before where item.message.touch.user == user { inFlight[item.message.touch.id] = nil }
            let remaining = Set(staged[i].items.map(\.message.touch.channel))
            for channel in Set(before.map(\.message.touch.channel)) where !remaining.contains(channel) {
                busyChannels[channel, default: 1] -= 1
                if busyChannels[channel] == 0 { busyChannels[channel] = nil }
            }
        }
        for e in kept?.enrollments ?? [] where e.phase != .watching {
            state.activeEnrollments[e.journey, default: 1] -= 1
            if state.activeEnrollments[e.journey] == 0 { state.activeEnrollments[e.journey] = nil }
        }
        return Erasure(
            user: user, known: kept != nil, traits: kept?.traits.members?.count ?? 0,
            historyEvents: kept?.history.reduce(0) { $0 + $1.count } ?? 0, enrollments: kept?.enrollments.count { $0.phase != .watching } ?? 0,
            timers: timers.count, decisionRecords: kept?.trace.count ?? 0, queuedTouches: touches.count + unstaged)
    }
}

/// What `forget` erased, for the answer.
struct Erasure: Sendable {
    var user: String
    var known: Bool
    var traits: Int
    var historyEvents: Int
    var enrollments: Int
    var timers: Int
    var decisionRecords: Int
    var queuedTouches: Int
    /// Every id erased: the owner and the ids merged into it.
    var ids: [String] = []
    /// Cluster mode: ids whose partitions must erase them too (``PartitionProcessor/forgetElsewhere(_:)``).
    var elsewhere: [String] = []

    var jsonValue: Value {
        .object([
            .init("user", .string(user)), .init("known", .bool(known)),
            .init(
                "erased",
                .object([
                    .init("profile_traits", .number(Double(traits))), .init("history_events", .number(Double(historyEvents))),
                    .init("enrollments", .number(Double(enrollments))), .init("timers", .number(Double(timers))),
                    .init("decision_records", .number(Double(decisionRecords))),
                    .init("queued_touches", .number(Double(queuedTouches))),
                    .init("merged_ids", .number(Double(max(ids.count - 1, 0)))),
                    .init("ids_in_other_partitions", .number(Double(elsewhere.count))),
                ])),
        ])
    }
}
