import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import Logging

/// Applying inputs: event batches and timer ticks, live and when replaying the log. The same code does
/// both, which is what makes a replay rebuild exactly the state (and touches) of the original run.
extension PartitionProcessor {
    /// Appends a batch to the log, then applies it; it is acknowledged once the log is durable past it.
    func apply(_ batch: IntakeBatch, receipt: IntakeReceipt) {
        let appliedAt = now
        // Event times are checked against the batch's receipt, under the rules live now — as a replay of
        // this record will check them again.
        var accepted: [(event: Event, raw: [UInt8])] = []
        accepted.reserveCapacity(batch.events.count)
        var refused: [(line: Int, path: String, reason: String)] = []
        let policy = runtime.rules.settings.daemonSettings.eventTime
        for (event, raw, line) in batch.events {
            // A forgotten user's events are refused before the log: nothing of theirs is written again.
            if !state.tombstones.isEmpty, state.tombstones.contains(Tombstone.hash(event.userId)) {
                counters.forgottenRefused += 1
                continue
            }
            var event = event
            switch policy.apply(to: &event, receivedAt: batch.receivedAt) {
            case .refused(let path, let reason): refused.append((line, path, reason))
            case .clamped(let claimed):
                logger.warning(
                    "event \(event.messageId) of \(batch.origin) claimed \(claimed.iso8601), beyond the bounds of events.future / events.past: clamped to \(event.timestamp.iso8601)",
                    metadata: [RecordField.kind: "\(RecordKind.eventOutOfBounds.rawValue)", RecordField.source: "\(batch.origin)"])
                accepted.append((event, raw))
            case .unchanged, .corrected: accepted.append((event, raw))
            }
        }
        let record = JournalRecord.EventsRecord(
            appliedAt: appliedAt, receivedAt: batch.receivedAt, origin: batch.origin, namespace: batch.namespace,
            lines: accepted.map(\.raw), positions: batch.positions)
        let sequence: UInt64
        do {
            sequence = try log.append { JournalRecord.events(record).encode(into: &$0) }
        } catch {
            receipt.resolve(.refused(error.isDiskFull ? "disk full" : "journeyd cannot store events"))
            return
        }
        currentSource = batch.source
        metrics.eventsReceived(source: batch.source, count: accepted.count)
        applyEvents(accepted.map(\.event), receivedAt: appliedAt, namespace: batch.namespace)
        currentSource = nil
        state.move(batch.positions)
        remember(sequence, receipt, refused: refused)
    }

    /// Applies events at `receivedAt` (the wall clock) or, on the event clock, each at its own time.
    /// Due timers fire before each event, as time reaches them.
    /// `endingBatch` false: the caller ends the store reads' batch (``PartitionState/endBatch()``) itself.
    func applyEvents(_ events: [Event], receivedAt: Timestamp, namespace: String, endingBatch: Bool = true) {
        if eventClock == nil {
            state.clock = max(state.clock, receivedAt)
            fire(dueBy: state.clock)
        }
        if state.mayReadUsers { state.prefetch(users: Self.subjects(of: events)) }
        defer { if endingBatch { state.endBatch() } }
        for event in events {
            let at: Timestamp
            if let eventClock {
                at = eventClock.advance(to: event.timestamp)
                state.clock = at
                fire(dueBy: at)
            } else {
                at = state.clock
            }
            var store = state  // a class: the engine's `inout` store is this same state
            engine.handle(event, at: at, namespace: namespace, store: &store, effects: &effects)
            collectEffects(event: event)
            counters.events += 1
        }
    }

    /// The ids a batch's events name (the user, and the anonymous or previous id a merge reads).
    static func subjects(of events: [Event]) -> [String] {
        var ids: [String] = []
        ids.reserveCapacity(events.count)
        for event in events {
            ids.append(event.userId)
            if let anonymous = event.anonymousId, anonymous != event.userId { ids.append(anonymous) }
            if let previous = event.previousId { ids.append(previous) }
        }
        return ids
    }

    /// Fires the timers due by `at` when there is no event (the wall clock moved on): logged as a tick.
    ///
    /// In cluster mode the tick is only appended here: other instances publish events to the same subject,
    /// and some may sit before the tick, not read yet. The tick is applied when the follower reads it back
    /// (``follow(_:parser:)``), after them — the order a new owner's replay applies them in — and no other
    /// tick is appended until then.
    func fireDueTimers(at: Timestamp) {
        guard let due = state.nextTimerDue, due <= at else { return }
        let followed = log is FollowedLog
        if followed && tickInFlight != nil { return }
        do {
            _ = try log.append { JournalRecord.tick(at: at).encode(into: &$0) }
        } catch {
            return  // the syncer reports the failure
        }
        if followed { tickInFlight = at } else { applyTick(at) }
    }

    /// A tick, live or replayed.
    func applyTick(_ at: Timestamp) {
        if let eventClock {
            state.clock = eventClock.advance(to: at)
        } else {
            state.clock = max(state.clock, at)
        }
        fire(dueBy: state.clock)
        state.endBatch()
    }

    /// Fires every timer due by `t`: on the event clock each at its own due time (as `replay` does), on
    /// the wall clock all at `t` (late, where the journey's `late` policy applies).
    private func fire(dueBy t: Timestamp) {
        guard let due = state.nextTimerDue, due <= t else { return }
        state.prefetchUsers(ofTimersDueBy: t)  // what the store does not hold is known until the batch or tick ends
        var store = state
        engine.fireTimers(dueBy: t, firingAt: eventClock == nil ? t : nil, store: &store, effects: &effects)
        collectEffects(event: nil)
    }

    /// Moves the engine's touches to the outbox, rendered now — while the user's traits and the event are
    /// at hand — so the outbox holds exactly what will be sent; counts and logs its policy outcomes.
    func collectEffects(event: Event?) {
        for effect in effects {
            state.report.record(effect)
            switch effect {
            case .touch(let touch):
                var entry: OutboxEntry
                switch runtime.renderer.render(touch, user: state.user(touch.user), event: event) {
                case .success(let message):
                    entry = OutboxEntry(touch: touch, message: message, expiresAt: runtime.renderer.expiry(of: touch))
                case .failure(let failure):
                    // Queued and dead-lettered at once: visible, counted, never sent half-made.
                    entry = OutboxEntry(touch: touch, message: nil, state: .deadLetter, reason: failure.reason)
                    if !replaying {
                        counters.deadLettered += 1
                        logger.error(
                            "touch \(touch.id) cannot be rendered: \(failure.reason)",
                            metadata: touchMetadata(touch, kind: .touchDeadLettered, outcome: "dead_letter"))
                    }
                }
                if state.outbox.add(entry) {
                    state.report.recordDelivery(channel: touch.channel, from: nil, to: entry.state)
                    counters.touches += 1
                    if !replaying { metrics.touchProduced(journey: touch.journey, step: touch.step, channel: touch.channel) }
                }
            case .outcome(let outcome):
                count(outcome)
            }
        }
        effects.removeAll(keepingCapacity: true)
    }

    /// Counts and logs what the policies decided about a touch (DESIGN §5: each outcome recorded,
    /// logged and counted); duplicates are counted.
    private func count(_ outcome: Outcome) {
        let kind: RecordKind
        let label: String
        switch outcome.kind {
        case .duplicate:
            counters.duplicates += 1
            if !replaying, let source = currentSource { metrics.eventsDuplicate(source: source, count: 1) }
            return
        case .entered:
            state.activeEnrollments[outcome.journey, default: 0] += 1
            if !replaying { metrics.enrollment(journey: outcome.journey, event: "entered") }
            return
        case .exited:
            state.activeEnrollments[outcome.journey, default: 1] -= 1
            if state.activeEnrollments[outcome.journey] == 0 { state.activeEnrollments[outcome.journey] = nil }
            if !replaying { metrics.enrollment(journey: outcome.journey, event: "exited:" + Self.exitCategory(outcome.detail)) }
            return
        case .converted:
            if !replaying { metrics.enrollment(journey: outcome.journey, event: "converted") }
            return
        case .heldOut:
            if !replaying { metrics.enrollment(journey: outcome.journey, event: "held_out") }
            return
        case .capped:
            counters.capped += 1
            (kind, label) = (.touchCapped, "capped")
        case .deferred(let until):
            counters.deferred += 1
            (kind, label) = (.touchDeferred, "deferred until \(until.iso8601)")
        case .suppressed:
            counters.suppressed += 1
            (kind, label) = (.touchSuppressed, "suppressed")
        case .skippedLate:
            counters.skippedLate += 1
            (kind, label) = (.touchSuppressed, "skipped (late)")
        default:
            return
        }
        guard !replaying else { return }
        metrics.policyOutcome(journey: outcome.journey, outcome: kind == .touchCapped ? "capped" : label.hasPrefix("deferred") ? "deferred" : label.hasPrefix("skipped") ? "skipped_late" : "suppressed")
        logger.debug(
            "touch of \(outcome.journey)/\(outcome.step) for \(outcome.user) \(label): \(outcome.detail)",
            metadata: [
                RecordField.kind: "\(kind.rawValue)", RecordField.journey: "\(outcome.journey)", RecordField.step: "\(outcome.step)",
                RecordField.userID: "\(outcome.user)", RecordField.outcome: "\(label)", RecordField.reason: "\(outcome.detail)",
            ])
    }

    /// Why an enrollment ended, as a bounded label (the detail texts carry durations and step names).
    static func exitCategory(_ detail: String) -> String {
        for (prefix, category) in [
            ("completed", "completed"), ("goal", "goal"), ("exit_when", "exit_when"), ("holdout", "holdout"), ("late", "late"),
            ("journey removed", "removed"), ("step limit", "step_limit"), ("step ", "step_gone"),
        ] where detail.hasPrefix(prefix) {
            return category
        }
        return "other"
    }

    func touchMetadata(_ touch: Touch, kind: RecordKind, outcome: String) -> Logger.Metadata {
        [
            RecordField.kind: "\(kind.rawValue)", RecordField.journey: "\(touch.journey)",
            RecordField.journeyVersion: "\(touch.version)", RecordField.step: "\(touch.step)",
            RecordField.userID: "\(touch.user)", RecordField.touchID: "\(touch.id)",
            RecordField.channel: "\(touch.channel)", RecordField.outcome: "\(outcome)",
        ]
    }
}
