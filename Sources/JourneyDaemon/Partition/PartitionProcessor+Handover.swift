import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import Logging

/// Cluster mode: identity across partitions (docs/CLUSTER.md, "Identity across partitions").
///
/// Events are routed by user id, so an `identify` naming an anonymous id (or an `alias` naming a previous
/// one) may reach the known user's partition while the anonymous id's history and running journeys live
/// in another's. The known user's owner then holds the user — the merging event and every later event of
/// the user wait, in order, in the user's state — and asks the other partition's owner for the id's state
/// with a ``JournalRecord/Handover/request(id:source:explicit:target:partition:)`` published to that
/// partition's subject. That owner, reading the request in its subject's order, hands the state over: the
/// id becomes a pointer to the known user, and its later events are forwarded to the known user's
/// partition. The answer goes to the known user's subject; reading it, the owner puts the state in its
/// store as the engine would have found it with one partition, and applies the held events through the
/// engine — the merge first. So the cart a visitor filled before signing up reminds the buyer only if the
/// purchase, which came after the sign-up, did not end it: the order `journeyd replay` applies them in.
///
/// Everything goes through the subjects and is decided from the records in them, so a new owner's replay
/// decides the same: a request or answer published again is a JetStream duplicate (same message id) or,
/// past the duplicate window, changes nothing (the id already points to the known user; no hold waits for
/// the answer). Each is published synchronously before the next record is applied, so a checkpoint never
/// covers a record whose message is not stored yet; a hold the checkpoint covers is in the user's state.
extension PartitionProcessor {
    /// What to do with one event of a routed batch.
    enum Route {
        case apply
        /// The event's user (`owner`) waits for a hand-over: the event waits too.
        case hold(owner: String)
        /// The event's id was handed over to a user of partition `partition`: the event goes there.
        case forward(partition: Int)
        /// The event merges an id whose state is in another partition: hold its user and ask.
        case ask(owner: String, source: String, explicit: Bool, partition: Int)
    }

    /// Where `id`'s events go — `id` itself, or the user it was merged into, through at most as many hops
    /// as the engine follows — and whether that user waits for a hand-over.
    private func resolve(_ id: String) -> (owner: String, awaitsHandover: Bool) {
        var current = id
        var routing = state.routing(id)
        for _ in 0..<IdentityMerge.maxHops {
            guard let next = routing.mergedInto else { break }
            current = next
            routing = state.routing(next)
        }
        return (current, routing.awaitsHandover)
    }

    func route(_ event: Event, namespace: String, partitionOf: (String) -> Int) -> Route {
        let (owner, held) = resolve(event.userId)
        // Only an id merged into another user is forwarded (never an id this partition merely does not know,
        // which two partitions could otherwise send back and forth).
        if owner != event.userId {
            let p = partitionOf(owner)
            if p != partition { return seen(event, namespace) ? .apply : .forward(partition: p) }
        }
        if held { return .hold(owner: owner) }
        guard let (source, explicit) = IdentityMerge.source(of: event) else { return .apply }
        // Where the state to merge is: `identify` merges the anonymous id's own state (and never one that
        // already belongs to someone: decided here when the id is known here); `alias` merges what the
        // previous id resolves to.
        let (from, fromHeld) = explicit ? resolve(source) : (source, state.routing(source).awaitsHandover)
        if from == owner { return .apply }
        // A user waiting for a hand-over is merged once it has its state: the merging event waits with it.
        if fromHeld { return .hold(owner: from) }
        if state.contains(user: from) { return .apply }
        let p = partitionOf(from)
        if p == partition || seen(event, namespace) { return .apply }
        return .ask(owner: owner, source: from, explicit: explicit, partition: p)
    }

    /// Whether the engine has seen the event already (it drops it as a duplicate): a repeat is neither
    /// forwarded (the other partition has not seen it) nor asked about again.
    private func seen(_ event: Event, _ namespace: String) -> Bool {
        // The time the engine applies it at: the batch's on the wall clock (``applyRouted`` moved the
        // partition's clock to it), its own on the event clock.
        let at = eventClock.map { max($0.now, event.timestamp) } ?? state.clock
        return state.seen(DedupWindow.Key(event.messageId, namespace: namespace), at: at)
    }

    /// Applies a batch's events in cluster mode, each as ``route(_:namespace:partitionOf:)`` says: runs of
    /// events to apply go to the engine together; the others are held, forwarded or asked about in their
    /// place in the order. `lines` are the events' lines as received; `sequence` is the record's position in
    /// the subject (a hand-over request's id names it, so a retry of the event in another record asks anew).
    ///
    /// What this publishes is stored before it returns — forwarded events last, one record per partition —
    /// so no checkpoint covers the record without them.
    func applyRouted(
        _ events: [Event], lines: [[UInt8]], at sequence: UInt64, appliedAt: Timestamp, receivedAt: Timestamp, origin: String,
        namespace: String, partitionOf: (String) -> Int
    ) throws {
        // Held events are applied when their hand-over is answered, at this time or later.
        if eventClock == nil { state.clock = max(state.clock, appliedAt) }
        if state.mayReadUsers { state.prefetch(users: Self.subjects(of: events)) }
        // One batch for the store's reads: what it was asked for and does not hold stays known until the
        // record is applied, however many runs the engine applies it in.
        defer { state.endBatch() }
        var run: [Event] = []
        func flush() {
            guard !run.isEmpty else { return }
            applyEvents(run, receivedAt: appliedAt, namespace: namespace, endingBatch: false)
            run.removeAll(keepingCapacity: true)
        }
        var forwards: [Int: (lines: [[UInt8]], ids: [String])] = [:]
        func publishForwards(to p: Int) throws {
            guard let forward = forwards.removeValue(forKey: p) else { return }
            let record = JournalRecord.EventsRecord(
                appliedAt: appliedAt, receivedAt: receivedAt, origin: origin, namespace: namespace, lines: forward.lines, positions: [:])
            try publish(.events(record), to: p, messageId: "f/" + StableHash.id128([namespace, "\(p)"] + forward.ids))
            if !replaying { counters.forwarded += forward.lines.count }
        }
        for (event, line) in zip(events, lines) {
            func held() -> HeldEvent { HeldEvent(line: line, receivedAt: receivedAt, origin: origin, namespace: namespace) }
            var route = route(event, namespace: namespace, partitionOf: partitionOf)
            if case .ask = route, !run.isEmpty {
                flush()  // the events before it may change what it merges (a merge among them)
                route = self.route(event, namespace: namespace, partitionOf: partitionOf)
            }
            switch route {
            case .apply:
                run.append(event)
            case .hold(let owner):
                state.withUser(owner) { $0.handover?.held.append(held()) }
            case .forward(let p):
                forwards[p, default: ([], [])].lines.append(line)
                forwards[p, default: ([], [])].ids.append(event.messageId)
            case .ask(let owner, let source, let explicit, let p):
                try publishForwards(to: p)  // events forwarded before the merge stay before the request
                let id = StableHash.id128([namespace, event.messageId, source, "\(partition)/\(sequence)"])
                try publish(
                    .handover(.request(id: id, source: source, explicit: explicit, target: owner, partition: partition)), to: p,
                    messageId: "h/q/" + id)
                state.withUser(owner) { $0.handover = PendingHandover(request: id, source: source, held: [held()]) }
                if !replaying {
                    logger.debug(
                        "\(event.kind.rawValue) of \(owner) merges \(source), whose state is in partition \(p): asked for it; the user's events wait",
                        metadata: [RecordField.kind: "handover_asked", RecordField.userID: "\(owner)"])
                }
            }
        }
        flush()
        for p in forwards.keys.sorted() { try publishForwards(to: p) }
    }

    /// Applies a hand-over record read from the partition's subject.
    func applyHandover(_ handover: JournalRecord.Handover, at sequence: UInt64, parser: SegmentEventParser, partitionOf: (String) -> Int) throws {
        switch handover {
        case .request(let id, let source, let explicit, let target, let p):
            try answer(id: id, source: source, explicit: explicit, target: target, to: p, partitionOf: partitionOf)
        case .answer(let id, let target, let outcome):
            try receive(id: id, target: target, outcome, at: sequence, parser: parser, partitionOf: partitionOf)
        case .forget(let user):
            try forgetElsewhere(applyForget(user))
        }
    }

    /// Asks the partitions of the ids `erasure` names (``Erasure/elsewhere``) to erase them. Forgetting is
    /// idempotent, so the messages are never deduplicated: a replay asks again, and an erasure that found
    /// nothing more asks no further.
    func forgetElsewhere(_ erasure: Erasure) throws {
        guard let partitionOf else { return }
        for id in erasure.elsewhere {
            try publish(.handover(.forget(user: id)), to: partitionOf(id), messageId: "")
        }
    }

    /// The largest user state handed over to another partition. The answer is one JetStream message and a
    /// server takes at most `max_payload` (1 MiB unless configured otherwise): a larger answer would fail
    /// its publish, stop the partition, and stop every next owner replaying the request the same way. A
    /// larger state stays where it is (not joined, and the answer says why). A fixed bound, not the
    /// server's setting, so that every owner replaying the request decides the same.
    static let largestStateHandedOver = 512 * 1024

    /// The anonymous side: hands `source`'s state over to `target` of partition `p`, unless there is
    /// nothing to join.
    private func answer(id: String, source: String, explicit: Bool, target: String, to p: Int, partitionOf: (String) -> Int) throws {
        let outcome: JournalRecord.HandoverOutcome
        var handed: UserState?
        let root = resolve(source).owner
        if root == target {
            // Answered before: a duplicate request (a replaying owner's). Said anyway — no hold waits for it
            // (answers are matched to holds), unless one somehow does, which this releases.
            outcome = .notJoined(reason: "\(source) is already merged into \(target)")
        } else if root != source && !explicit {
            outcome = .notJoined(reason: "\(source) already belongs to \(root): an identify does not merge two known users (alias does)")
        } else if root != source && !state.contains(user: root) {
            outcome = .notJoined(reason: "\(source) belongs to \(root), whose state is in partition \(partitionOf(root)) (a chain of hand-overs is not followed)")
        } else if state.routing(root).awaitsHandover {
            outcome = .notJoined(reason: "\(root) waits for a hand-over of its own")
        } else {
            let user = state.user(root) ?? UserState(id: root)
            let encoded = user.encoded()
            if encoded.count > Self.largestStateHandedOver {
                outcome = .notJoined(
                    reason: "\(root)'s state is \(encoded.count) bytes, more than a hand-over carries (\(Self.largestStateHandedOver)): it stays in partition \(partition)")
            } else {
                handed = user
                outcome = .joined(user: root, state: encoded, aliases: Identity.merged(into: root, in: state))
            }
        }
        // Stored before the state leaves: a failed publish leaves it here, and the request is read again.
        try publish(.handover(.answer(id: id, target: target, outcome)), to: p, messageId: "h/a/" + id)
        if let handed { handOver(handed, to: target) }
    }

    /// `handed`'s id becomes a pointer to `target` (its later events are forwarded).
    private func handOver(_ handed: UserState, to target: String) {
        let id = handed.id
        state.withUser(id) { user in
            let aliases = user.aliases
            user = UserState(id: id)
            user.mergedInto = target
            user.aliases = aliases
        }
        // Its running enrollments go on in the target's partition (its timers here fire on no enrollment).
        countRunning(handed, -1)
        if !replaying {
            counters.handedOver += 1
            logger.debug(
                "\(id) handed over to \(target): \(handed.enrollments.count) running enrollment(s) go with it",
                metadata: [RecordField.kind: "handover_answered", RecordField.userID: "\(id)"])
        }
    }

    /// The known side: the answer to the request `target` waits for (any other is a duplicate).
    private func receive(
        id: String, target: String, _ outcome: JournalRecord.HandoverOutcome, at sequence: UInt64, parser: SegmentEventParser,
        partitionOf: (String) -> Int
    ) throws {
        guard let pending = state.user(target)?.handover, pending.request == id else {
            // A duplicate — or the answer for a person forgotten while waiting for it, with the state of
            // an id merged into them: dropped, and erased from the subject by the next checkpoint, as the
            // person's own records were.
            if !state.tombstones.isEmpty, state.tombstones.contains(Tombstone.hash(target)) { state.eraseAgain(target) }
            return
        }
        state.withUser(target) { $0.handover = nil }
        var joined = false
        switch outcome {
        case .joined(let user, let bytes, let aliases):
            do {
                let handed = try UserState(id: user, encoded: bytes)
                // The state as one partition would hold it: the user, and its ids pointing to it.
                state.withUser(user) { $0 = handed }
                for alias in aliases where alias != user && alias != target {
                    state.withUser(alias) { pointer in
                        let aliases = pointer.aliases
                        pointer = UserState(id: alias)
                        pointer.mergedInto = user
                        pointer.aliases = aliases
                    }
                }
                countRunning(handed, 1)
                joined = true
                if !replaying { counters.handovers += 1 }
            } catch {
                logger.error(
                    "the state of \(user) handed over for \(target) does not decode (\(error)): \(target) goes on without it",
                    metadata: [RecordField.kind: "handover_refused", RecordField.userID: "\(target)"])
            }
        case .notJoined(let reason):
            if !replaying {
                logger.info(
                    "\(pending.source) is not merged into \(target): \(reason)",
                    metadata: [RecordField.kind: "handover_not_joined", RecordField.userID: "\(target)"])
            }
        }
        if !joined && !replaying {
            counters.mergesNotJoined += 1
            metrics.mergeNotJoined()
        }
        if joined && !replaying { metrics.handover() }
        // The held events, in order, as if they arrived now: the merging one first (without its merge
        // when there is nothing to join). Each timer that came due meanwhile fires before the first held
        // event that came after its due time (on the event clock: whose own time is after it).
        var timers = pending.timers[...]
        for (index, held) in pending.held.enumerated() {
            let parsed = held.line.withUnsafeBufferPointer { parser.parse($0, source: held.origin) }
            guard case .success(var event) = parsed else { continue }  // it parsed when it was received
            if case .refused = runtime.rules.settings.daemonSettings.eventTime.apply(to: &event, receivedAt: held.receivedAt) { continue }
            if index == 0 && !joined {
                if event.kind == .identify { event.anonymousId = nil } else { event.previousId = nil }
            }
            release(&timers, of: target, dueBy: eventClock == nil ? held.receivedAt : event.timestamp)
            try applyRouted(
                [event], lines: [held.line], at: sequence, appliedAt: state.clock, receivedAt: held.receivedAt, origin: held.origin,
                namespace: held.namespace, partitionOf: partitionOf)
        }
        release(&timers, of: target, dueBy: nil)
    }

    /// Fires the timers a held user's hand-over kept, earliest first, up to those due by `t` (all when
    /// nil): on the wall clock now, late; on the event clock each at its own time. When a held event made
    /// the user wait for another hand-over, the timers wait again, with the events held behind it.
    private func release(_ timers: inout ArraySlice<TimerEntry>, of user: String, dueBy t: Timestamp?) {
        guard !timers.isEmpty else { return }
        if state.routing(user).awaitsHandover {
            // Before any the new hold kept itself: those came due later.
            state.withUser(user) { $0.handover?.timers.insert(contentsOf: timers, at: 0) }
            timers = []
            return
        }
        while let timer = timers.first, t.map({ timer.due <= $0 }) ?? true {
            timers.removeFirst()
            var store = state  // a class: the engine's `inout` store is this same state
            engine.fire(timer, at: eventClock == nil ? state.clock : timer.due, store: &store, effects: &effects)
            collectEffects(event: nil)
        }
    }

    /// Running enrollments leaving (`sign` -1) or joining (+1) the partition's figures.
    private func countRunning(_ user: UserState, _ sign: Int) {
        for e in user.enrollments where e.phase != .watching {
            state.activeEnrollments[e.journey, default: 0] += sign
            if state.activeEnrollments[e.journey] == 0 { state.activeEnrollments[e.journey] = nil }
        }
    }

    /// Publishes `record` to partition `p`'s subject and waits for JetStream to store it.
    private func publish(_ record: JournalRecord, to p: Int, messageId: String) throws {
        guard let publishTo else { throw DaemonError("partition \(partition): no publisher for records to other partitions") }
        // A stale owner (paused past its lease) may have applied records the new owner skips: it sends
        // nothing another partition would act on. (Before it reads the new owner's start, it has applied
        // what the new owner replays, and sends what the new owner sends.)
        if let own = (log as? FollowedLog)?.token?.value, own < streamOwner {
            throw DaemonError("partition \(partition): the owner holding lease token \(streamOwner) took the partition over; this stale owner (token \(own)) sends nothing to other partitions")
        }
        var w = ByteWriter(capacity: 256)
        record.encode(into: &w)
        try publishTo(p, messageId, w.bytes)
    }
}
