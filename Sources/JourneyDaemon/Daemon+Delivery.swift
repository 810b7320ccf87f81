import Foundation
import JourneyChannels
import JourneyCore
import JourneyEvents
import JourneyStore
import Logging

/// The outbox side of the daemon: which touches go to the delivery pipeline when, and what the
/// pipeline's decisions become in the outbox and the log.
extension Daemon {
    /// The outbox dispatcher's turn: records the decisions that came back, and stages due touches as
    /// `attempting`. Staged touches go to the delivery pipeline right after the next commit — the one
    /// of the input batch in hand, or the loop's own at the end of its turn — so a touch is durably
    /// `attempting` before its delivery starts (a crash then leaves it `in_doubt`, resent only where the
    /// provider deduplicates), without a commit of its own. Returns whether anything was done.
    func stageDeliveries() throws -> Bool {
        let dueBy = settings.clock == .event ? max(clockNow, settings.exitWhenIdle ?? clockNow) : now
        deliveryClock?.set(dueBy)
        let reports = dispatcher.takeCompleted()
        record(reports)
        guard staged.isEmpty else { return !reports.isEmpty }
        let due = try store.dueTouches(at: dueBy, limit: 512).filter {
            !dispatcher.isInFlight($0.touch.id) && !dispatcher.isBusy($0.touch.channel)
        }
        for queued in due {
            pendingOutcomes.append(.init(touchID: queued.touch.id, state: .attempting))
            staged.append(pendingDelivery(queued))
        }
        return !reports.isEmpty || !due.isEmpty
    }

    /// The pipeline's view of a queued touch: the rendered message and the user's current traits.
    func pendingDelivery(_ queued: SQLiteStateStore.QueuedTouch) -> PendingDelivery {
        let content = queued.content.flatMap { try? JSONParser().parse($0) } ?? .emptyObject
        let message = OutboundMessage(
            touch: queued.touch, traits: store.user(queued.touch.user)?.traits ?? .emptyObject,
            subject: content["subject"]?.stringValue, text: content["text"]?.stringValue ?? "", html: content["html"]?.stringValue,
            unsubscribeURL: content["unsubscribe_url"]?.stringValue, data: content)
        return PendingDelivery(message: message, attempts: queued.attempts, firstAttemptAt: queued.firstAttemptAt, expiresAt: queued.expiresAt)
    }

    /// Delivers until nothing is due and nothing is in flight (the end of a `--until` run).
    func deliverEverythingDue() throws {
        while true {
            let worked = try stageDeliveries()
            try commit()
            if !dispatcher.idle {
                record(dispatcher.waitForAll())
                continue
            }
            if !worked { return }
        }
    }

    /// Turns the pipeline's decisions into outbox states (committed with the next commit) and log records.
    func record(_ reports: [DeliveryReport]) {
        var disabled: [String: String] = [:]
        for report in reports {
            guard let touch = dispatcher.touch(report.touchID) else { continue }
            defer { dispatcher.settle(report.touchID) }
            let outcome: SQLiteStateStore.DeliveryOutcome
            switch report.decision {
            case .sent(let providerID):
                counters.delivered += 1
                outcome = .init(touchID: touch.id, state: .sent, reason: providerID.map { "provider id \($0)" })
                logger.info(
                    "touch \(touch.id) sent through \(touch.channel): \(touch.journey)/\(touch.step), template \(touch.template)",
                    metadata: touchMetadata(touch, kind: .touchSent, outcome: "sent"))
            case .retry(let at, let reason):
                outcome = .init(touchID: touch.id, state: .retry, reason: reason, nextAttempt: at)
                logger.warning(
                    "touch \(touch.id) through \(touch.channel) failed (attempt \(report.attempts)): \(reason); next attempt at \(at.iso8601)",
                    metadata: touchMetadata(touch, kind: .touchRetry, outcome: "retry"))
            case .held(let until, let reason):
                outcome = .init(touchID: touch.id, state: .retry, reason: reason, nextAttempt: until)
                logger.debug("touch \(touch.id) held until \(until.iso8601): \(reason)", metadata: touchMetadata(touch, kind: .touchDeferred, outcome: "held"))
            case .deadLetter(let reason):
                counters.deadLettered += 1
                outcome = .init(touchID: touch.id, state: .deadLetter, reason: reason)
                logger.error(
                    "touch \(touch.id) through \(touch.channel) dead-lettered: \(reason)",
                    metadata: touchMetadata(touch, kind: .touchDeadLettered, outcome: "dead_letter"))
            case .channelDisabled(let reason):
                // Kept queued: an operator fixes the endpoint and reloads; checked again each minute.
                // (In the pipeline's time: under --clock event that is the time being delivered for.)
                outcome = .init(
                    touchID: touch.id, state: .retry, reason: "channel disabled: \(reason)",
                    nextAttempt: (deliveryClock?.now ?? now) + .minutes(1))
                disabled[touch.channel] = reason
            case .interrupted:
                counters.inDoubt += 1
                outcome = .init(touchID: touch.id, state: .inDoubt, reason: "interrupted by shutdown during delivery")
                logger.warning(
                    "touch \(touch.id) was being delivered through \(touch.channel) at shutdown: in doubt",
                    metadata: touchMetadata(touch, kind: .touchInDoubt, outcome: "in_doubt"))
            }
            var withAttempts = outcome
            withAttempts.attempts = report.attempts
            withAttempts.firstAttemptAt = report.firstAttemptAt
            pendingOutcomes.append(withAttempts)
        }
        for (channel, reason) in disabled.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "channel \(channel) is disabled: \(reason); its touches stay queued until it is fixed and the rules reloaded",
                metadata: [RecordField.kind: "\(RecordKind.channelDisabled.rawValue)", RecordField.channel: "\(channel)", RecordField.reason: "\(reason)"])
        }
    }
}
