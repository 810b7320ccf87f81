import JourneyChannels
import JourneyCore
import Logging

/// Where staged touches go once their `attempting` record is durable: the delivery dispatcher.
protocol DeliverySink: Sendable {
    func submit(_ items: [PendingDelivery])
    /// False once the sink drains for shutdown: no new touches are staged for it then (they stay queued
    /// in the outbox for the next start instead of being marked `attempting` and never sent).
    var accepting: Bool { get }
}

extension DeliverySink {
    var accepting: Bool { true }
}

/// The outbox side of a partition: which touches go to their channels when, and what the pipeline's
/// decisions become in the outbox, the log and the journal.
extension PartitionProcessor {
    /// Batches a channel may have with the dispatcher at once: enough to keep a fast channel busy while a
    /// batch's decisions travel back, few enough that per-channel limits act on what is due first.
    static let batchesInFlightPerChannel = 4

    /// The time touches are due by: the wall clock, or on the event clock the time reached.
    var deliveryTime: Timestamp {
        if let finishing { return max(now, finishing.until) }
        return now
    }

    /// Marks due touches `attempting` (a log record) and stages them: they go to the dispatcher once that
    /// record is durable, so a crash leaves them `attempting` in the log — in doubt, resent only where
    /// the provider deduplicates. One batch per channel at a time.
    func stageDeliveries() {
        guard runtime.channels != nil, deliveries.accepting else { return }
        let dueBy = deliveryTime
        var updates: [DeliveryUpdate] = []
        for channel in state.outbox.channels where busyChannels[channel, default: 0] < Self.batchesInFlightPerChannel {
            for id in state.outbox.takeDue(channel: channel, by: dueBy, limit: 512) {
                updates.append(DeliveryUpdate(touchID: id, state: .attempting))
            }
        }
        guard !updates.isEmpty else { return }
        let sequence: UInt64
        do {
            sequence = try log.append { JournalRecord.deliveries(updates).encode(into: &$0) }
        } catch {
            return  // the syncer reports the failure; the daemon stops
        }
        var items: [PendingDelivery] = []
        items.reserveCapacity(updates.count)
        for update in updates {
            guard let entry = state.outbox.apply(update) else { continue }
            inFlight[entry.touch.id] = (entry.touch, MonotonicClock.nanoseconds)
            items.append(pendingDelivery(entry))
        }
        for channel in Set(items.map(\.message.touch.channel)) { busyChannels[channel, default: 0] += 1 }
        staged.append((sequence, items))
    }

    /// The pipeline's view of a queued touch: the rendered message and the user's current traits.
    func pendingDelivery(_ entry: OutboxEntry) -> PendingDelivery {
        let message = entry.message ?? RenderedMessage(text: "")
        let outbound = OutboundMessage(
            touch: entry.touch, traits: state.traits(of: entry.touch.user) ?? .emptyObject, subject: message.subject,
            text: message.text, html: message.html, unsubscribeURL: message.unsubscribeURL, data: message.jsonValue)
        return PendingDelivery(message: outbound, attempts: entry.attempts, firstAttemptAt: entry.firstAttemptAt, expiresAt: entry.expiresAt)
    }

    /// Turns the pipeline's decisions into outbox states (one log record), journal records and counts.
    func record(_ reports: [DeliveryReport]) {
        var updates: [DeliveryUpdate] = []
        var disabled: [String: String] = [:]
        // The dispatcher reports each channel batch as one piece: that batch of the channel is done.
        for channel in Set(reports.compactMap { inFlight[$0.touchID]?.touch.channel }) {
            busyChannels[channel, default: 1] -= 1
            if busyChannels[channel] == 0 { busyChannels[channel] = nil }
        }
        let now = MonotonicClock.nanoseconds
        for report in reports {
            guard let (touch, staged) = inFlight.removeValue(forKey: report.touchID) else { continue }
            metrics.delivery(channel: touch.channel, outcome: report.decision.metricOutcome, seconds: Double(now - staged) / 1e9)
            var update: DeliveryUpdate
            switch report.decision {
            case .sent(let providerID):
                counters.delivered += 1
                update = DeliveryUpdate(touchID: touch.id, state: .sent, reason: providerID.map { "provider id \($0)" })
                // Debug: at full speed a record per touch is more than a journal takes (journald rate-limits);
                // failures stay loud, and `journeyd explain` shows any user's touches.
                logger.debug(
                    "touch \(touch.id) sent through \(touch.channel): \(touch.journey)/\(touch.step), template \(touch.template)",
                    metadata: touchMetadata(touch, kind: .touchSent, outcome: "sent"))
            case .retry(let at, let reason):
                update = DeliveryUpdate(touchID: touch.id, state: .retry, reason: reason, nextAttempt: at)
                logger.warning(
                    "touch \(touch.id) through \(touch.channel) failed (attempt \(report.attempts)): \(reason); next attempt at \(at.iso8601)",
                    metadata: touchMetadata(touch, kind: .touchRetry, outcome: "retry"))
            case .held(let until, let reason):
                update = DeliveryUpdate(touchID: touch.id, state: .retry, reason: reason, nextAttempt: until)
                logger.debug("touch \(touch.id) held until \(until.iso8601): \(reason)", metadata: touchMetadata(touch, kind: .touchDeferred, outcome: "held"))
            case .deadLetter(let reason):
                counters.deadLettered += 1
                update = DeliveryUpdate(touchID: touch.id, state: .deadLetter, reason: reason)
                logger.error(
                    "touch \(touch.id) through \(touch.channel) dead-lettered: \(reason)",
                    metadata: touchMetadata(touch, kind: .touchDeadLettered, outcome: "dead_letter"))
            case .channelDisabled(let reason):
                // Kept queued: an operator fixes the endpoint and reloads; checked again each minute (in
                // the pipeline's time: under --clock event, the time being delivered for).
                update = DeliveryUpdate(touchID: touch.id, state: .retry, reason: "channel disabled: \(reason)", nextAttempt: deliveryTime + .minutes(1))
                disabled[touch.channel] = reason
            case .interrupted where resendableChannels.contains(touch.channel):
                // Left `attempting`: the next start of the partition (a restart, or another instance's
                // takeover) applies the restart rule to it — resent under the same key.
                logger.notice(
                    "touch \(touch.id) was being delivered through \(touch.channel) at shutdown: left attempting, resent under its key by the next start",
                    metadata: touchMetadata(touch, kind: .touchInDoubt, outcome: "attempting"))
                continue
            case .interrupted:
                counters.inDoubt += 1
                update = DeliveryUpdate(touchID: touch.id, state: .inDoubt, reason: "interrupted by shutdown during delivery")
                logger.warning(
                    "touch \(touch.id) was being delivered through \(touch.channel) at shutdown: in doubt",
                    metadata: touchMetadata(touch, kind: .touchInDoubt, outcome: "in_doubt"))
            }
            update.attempts = report.attempts
            update.firstAttemptAt = report.firstAttemptAt
            updates.append(update)
        }
        for (channel, reason) in disabled.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "channel \(channel) is disabled: \(reason); its touches stay queued until it is fixed and the rules reloaded",
                metadata: [RecordField.kind: "\(RecordKind.channelDisabled.rawValue)", RecordField.channel: "\(channel)", RecordField.reason: "\(reason)"])
        }
        guard !updates.isEmpty else { return }
        do {
            _ = try log.append { JournalRecord.deliveries(updates).encode(into: &$0) }
        } catch {
            return  // the syncer reports the failure
        }
        applyDeliveries(updates)
    }

    /// After a restart: touches the log leaves `attempting` may or may not have reached their provider.
    /// On channels that deduplicate by touch id they are queued again; elsewhere they become `in_doubt`
    /// — held and counted, never sent twice. Logged like any decision.
    func resolveInterruptedDeliveries() {
        let resendable = resendableChannels
        var updates: [DeliveryUpdate] = []
        for entry in state.outbox.all where entry.state == .attempting {
            if resendable.contains(entry.touch.channel) {
                updates.append(DeliveryUpdate(touchID: entry.touch.id, state: .pending, reason: "resent after a restart (the provider deduplicates)"))
            } else {
                updates.append(DeliveryUpdate(touchID: entry.touch.id, state: .inDoubt, reason: "interrupted by a restart"))
            }
        }
        guard !updates.isEmpty else { return }
        updates.sort { $0.touchID < $1.touchID }
        _ = try? log.append { JournalRecord.deliveries(updates).encode(into: &$0) }
        for update in updates { state.outbox.apply(update) }
        let doubtful = updates.filter { $0.state == .inDoubt }.count
        counters.inDoubt += doubtful
        if doubtful > 0 {
            logger.warning(
                "\(doubtful) touches were being delivered when the daemon stopped: held as in_doubt, not resent",
                metadata: [RecordField.kind: "\(RecordKind.touchInDoubt.rawValue)", RecordField.outcome: "in_doubt"])
        }
    }

    /// Event clock: runs the clock to `until` (a tick) and keeps delivering until nothing is due by then.
    func finish(until: Timestamp, reply: @escaping @Sendable () -> Void) {
        if eventClock != nil, until > state.clock {
            do {
                _ = try log.append { JournalRecord.tick(at: until).encode(into: &$0) }
                applyTick(until)
            } catch {}
        }
        finishing = (until, reply)
    }

    /// Whether a `--until` run is done: nothing due by then waits, nothing is staged or in flight.
    func finished(_ until: Timestamp) -> Bool {
        guard staged.isEmpty, inFlight.isEmpty, log.durableSequence >= log.lastSequence else { return false }
        if runtime.channels == nil { return true }
        guard let due = state.outbox.nextDue() else { return true }
        return due > max(until, now)
    }
}

extension DeliveryDecision {
    /// The decision as a bounded label.
    var metricOutcome: String {
        switch self {
        case .sent: "sent"
        case .retry: "retry"
        case .held: "held"
        case .deadLetter: "dead_letter"
        case .channelDisabled: "channel_disabled"
        case .interrupted: "in_doubt"
        }
    }
}
