import JourneyCore
import JourneyEngine

/// `journeyd report` in cluster mode, answered by any instance: a journey's funnel spans every partition
/// (users are spread over them by hash), so the report merges every partition's figures — the ones this
/// instance owns live from their processors, the others as of their last checkpoints in PostgreSQL
/// (taken every `state.checkpoint.every` and every 256 KiB applied). The page's source line says which
/// and how old, so an operator knows what they read.
struct ClusterReport {
    /// Partitions' figures and unfinished touches as of their last checkpoints (PostgreSQL; blocks).
    typealias Checkpointed = @Sendable ([Int]) throws -> (
        figures: [Int: (figures: [String: Int64], takenAt: Timestamp)], unfinished: [OutboxEntry]
    )

    let instance: String
    let partitionCount: Int
    let partitions: InstancePartitions
    let checkpointed: Checkpointed

    /// The control answer: `{"ok": true, "report": {…}, "html": "…"}`, or a refusal saying what could not be read.
    func answer(generatedAt: Timestamp) -> String {
        var figures = ReportFigures()
        var waiting: [String: [DeliveryState: Int]] = [:]
        var live: [Int] = []
        for (p, partition) in partitions.owned.sorted(by: { $0.key < $1.key }) {
            // A partition that does not answer (stopping, stalled) is read from its checkpoint instead.
            guard let (owned, unfinished) = ControlService.query(partition.processor, { ($0.state.report, $0.waitingDeliveries()) }) else { continue }
            figures.merge(owned)
            for (channel, states) in unfinished { waiting[channel, default: [:]].merge(states, uniquingKeysWith: +) }
            live.append(p)
        }
        let others = (0..<partitionCount).filter { !live.contains($0) }
        let stored: (figures: [Int: (figures: [String: Int64], takenAt: Timestamp)], unfinished: [OutboxEntry])
        do {
            stored = try checkpointed(others)
        } catch {
            return ControlService.refusal("report: the figures of partitions \(Self.ranges(others)) could not be read from PostgreSQL: \(error)")
        }
        for (_, partition) in stored.figures { figures.merge(ReportFigures(figures: partition.figures)) }
        for entry in stored.unfinished { waiting[entry.touch.channel, default: [:]][entry.state, default: 0] += 1 }

        var source = "cluster instance \(instance): \(live.count) of \(partitionCount) partitions live"
        if !stored.figures.isEmpty {
            let oldest = stored.figures.values.map(\.takenAt).min()!
            source += ", \(stored.figures.count) as of their last checkpoints (the oldest taken at \(oldest.iso8601))"
        }
        let never = others.filter { stored.figures[$0] == nil }
        if !never.isEmpty { source += ", \(never.count) not checkpointed yet (\(Self.ranges(never)): not counted)" }
        let summary = ReportSummary(figures: figures, rules: partitions.live.rules, outbox: waiting, source: source)
        return Value.object([
            .init("ok", true), .init("report", summary.jsonValue), .init("html", .string(ReportPage.html(summary, generatedAt: generatedAt))),
        ]).jsonText
    }

    /// `0-3 7 9-10`: partition numbers as ranges.
    static func ranges(_ numbers: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = numbers.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: " ")
    }
}
