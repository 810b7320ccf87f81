import JourneyCore
import JourneyEngine

/// `journeyd report` against the running daemon: answered on the processor's thread from the live
/// ``ReportFigures`` (checkpointed with the partition, so they survive restarts) and the outbox.
extension PartitionProcessor {
    /// Touches not final yet per channel and state: all of them are in memory (the final ones are counted
    /// in the report's figures as they become final).
    func waitingDeliveries() -> [String: [DeliveryState: Int]] {
        var counts: [String: [DeliveryState: Int]] = [:]
        for entry in state.outbox.all where !entry.state.isFinal { counts[entry.touch.channel, default: [:]][entry.state, default: 0] += 1 }
        return counts
    }

    /// The report's figures and its page, as the control answer: `{"report": {…}, "html": "…"}`.
    func report(generatedAt: Timestamp) -> Value {
        let summary = ReportSummary(figures: state.report, rules: engine.rules, outbox: waitingDeliveries(), source: "the running daemon")
        return .object([
            Value.Member("report", summary.jsonValue), Value.Member("html", .string(ReportPage.html(summary, generatedAt: generatedAt))),
        ])
    }
}
