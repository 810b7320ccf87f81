import JourneyCore
import JourneyEngine

/// `journeyd report` against the running daemon: answered on the processor's thread from the live
/// ``ReportFigures`` (checkpointed with the partition, so they survive restarts) and the outbox.
extension PartitionProcessor {
    /// Outbox entries per delivery state: the final ones the store holds, plus every entry in memory
    /// (those still to deliver, and those that became final since the last checkpoint — a final entry
    /// leaves memory only once a checkpoint holds it, and never changes again).
    func deliveryCounts() -> [DeliveryState: Int] {
        var counts: [DeliveryState: Int] = [:]
        if let reader = state.store as? any OutboxReader, let stored = try? reader.outboxCounts() {
            for (delivery, n) in stored where delivery.isFinal { counts[delivery, default: 0] += n }
        }
        for entry in state.outbox.entries.values { counts[entry.state, default: 0] += 1 }
        return counts
    }

    /// The report's figures and its page, as the control answer: `{"report": {…}, "html": "…"}`.
    func report(generatedAt: Timestamp) -> Value {
        let summary = ReportSummary(figures: state.report, rules: engine.rules, deliveries: deliveryCounts(), source: "the running daemon")
        return .object([
            Value.Member("report", summary.jsonValue), Value.Member("html", .string(ReportPage.html(summary, generatedAt: generatedAt))),
        ])
    }
}
