import JourneyCore
import JourneyEngine
import Logging

extension PartitionProcessor {
    /// Applies delivery updates to the outbox, and what a dead letter says about its recipient
    /// (``RecipientFeedback``) to the user: live, and in the same order when the log is replayed.
    func applyDeliveries(_ updates: [DeliveryUpdate]) {
        for update in updates {
            guard let (before, after, channel) = state.outbox.record(update) else { continue }
            state.report.recordDelivery(channel: channel, from: before, to: after)
            guard update.state == .deadLetter, let reason = update.reason, let feedback = RecipientFeedback(reason: reason),
                let touch = state.outbox[update.touchID]?.touch
            else { continue }
            let changed = state.withUser(touch.user) { user -> Bool in
                switch feedback {
                case .consentRefused:
                    let closed = user.unsubscribedChannels
                    guard !closed.contains(touch.channel), !closed.contains("all") else { return false }
                    return user.setUnsubscribedChannels(closed + [touch.channel])
                case .deviceTokenUnregistered(let trait):
                    return user.traits.remove(trait)
                }
            }
            guard changed, !replaying else { continue }
            logger.notice(
                "touch \(touch.id) through \(touch.channel): \(feedback.reasonPrefix.dropLast(2)), recorded on its user",
                metadata: touchMetadata(touch, kind: .touchDeadLettered, outcome: "dead_letter"))
        }
    }
}
