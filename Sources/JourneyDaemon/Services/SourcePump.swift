import Foundation
import JourneyCore
import JourneyEvents
import Logging
import ServiceLifecycle

/// Moves one ``EventSource``'s batches into the processor: parses each line (a rejected line is
/// quarantined with its reason — durably, before its batch is acknowledged), hands the events over, and
/// acknowledges the batch to its source once the intake (the processor; in cluster mode JetStream) says it is durable. Batches are acknowledged
/// in the order they were read; while one waits for its fsync the next is already being applied.
///
/// On graceful shutdown the source stops handing out batches; what it already handed out is still
/// acknowledged (or refused, if the processor cannot store it).
struct SourcePump: Service {
    let source: any EventSource
    /// Where parsed batches go: the partition's processor (embedded) or JetStream (cluster mode).
    let intake: any EventIntake
    let parser: SegmentEventParser
    let quarantine: Quarantine
    let batchSize: Int
    let logger: Logger
    let metrics: DaemonMetrics
    /// The wall clock (what receipt times are).
    let wall: any JourneyClock
    /// Called once a finite source has nothing more (the spool drained under `--until`).
    var drained: @Sendable () -> Void = {}

    private struct Pending: Sendable {
        var batch: SourceBatch
        var outcomes: [LineOutcome]
        var receipt: IntakeReceipt
    }

    func run() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: Pending.self, bufferingPolicy: .bufferingNewest(Int.max))
        // A graceful shutdown stops the source; so does cancelling the group (a source waiting for input
        // does not notice cancellation by itself).
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { continuation.finish() }
                        while let batch = try await source.next(limit: batchSize) {
                            let (intake, outcomes) = try await prepare(batch)
                            let receipt = await self.intake.submit(intake)
                            continuation.yield(Pending(batch: batch, outcomes: outcomes, receipt: receipt))
                        }
                    }
                    group.addTask {
                        for await pending in stream {
                            switch await pending.receipt.value() {
                            case .durable(let refused):
                                var outcomes = pending.outcomes
                                if !refused.isEmpty {
                                    try await keepRefused(refused, of: pending.batch, outcomes: &outcomes)
                                }
                                try await source.acknowledge(pending.batch, outcomes: outcomes)
                            case .refused(let reason): await source.refuse(pending.batch, reason: reason)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            } onCancel: {
                source.stop()
            }
        } onGracefulShutdown: {
            source.stop()
        }
        if source.isFinite { drained() }
    }

    /// Lines the event-time policy refused: quarantined (fsynced) and answered as rejected.
    private func keepRefused(
        _ refused: [(line: Int, path: String, reason: String)], of batch: SourceBatch, outcomes: inout [LineOutcome]
    ) async throws {
        var kept: [(EventRejection, SourceLine)] = []
        for (index, path, reason) in refused {
            let line = batch.lines[index]
            outcomes[index] = .rejected(path: path, reason: reason)
            let rejection = EventRejection(line: line.line, byteOffset: line.byteOffset, path: path, reason: reason, source: batch.origin)
            kept.append((rejection, line))
            metrics.eventsRejected(source: source.name, reason: .timestamp)
            logger.warning(
                "event refused: \(rejection)",
                metadata: [
                    RecordField.kind: "\(RecordKind.eventOutOfBounds.rawValue)", RecordField.source: "\(batch.origin)",
                    RecordField.reason: "\(reason)",
                ])
        }
        let count = kept.count
        intake.countRejected(count)
        try await quarantine.keep(kept, origin: batch.origin)
    }

    /// Parses a batch (lines the source parsed already are taken as they are): the events for the
    /// processor, and one outcome per line for the source. Rejected
    /// lines are written to quarantine (fsynced) here, before the batch can be acknowledged.
    private func prepare(_ batch: SourceBatch) async throws -> (IntakeBatch, [LineOutcome]) {
        let receivedAt = wall.now
        var events: [(event: Event, raw: [UInt8], line: Int)] = []
        events.reserveCapacity(batch.lines.count)
        var outcomes: [LineOutcome] = []
        outcomes.reserveCapacity(batch.lines.count)
        var rejected: [(EventRejection, SourceLine)] = []
        for (index, line) in batch.lines.enumerated() {
            if let event = line.event {
                events.append((event, line.bytes, index))
                outcomes.append(.accepted(messageId: event.messageId))
                continue
            }
            let result: Result<Event, EventRejection> =
                line.oversized
                ? .failure(
                    EventRejection(
                        line: line.line, byteOffset: line.byteOffset, path: "$", reason: "line exceeds \(parser.options.maxEventBytes) bytes",
                        source: batch.origin))
                : line.bytes.withUnsafeBufferPointer { parser.parse($0, lineNumber: line.line, byteOffset: line.byteOffset, source: batch.origin) }
            switch result {
            case .success(let event):
                events.append((event, line.bytes, index))
                outcomes.append(.accepted(messageId: event.messageId))
            case .failure(let rejection):
                outcomes.append(.rejected(path: rejection.path, reason: rejection.reason))
                rejected.append((rejection, line))
            }
        }
        if !rejected.isEmpty {
            for (rejection, _) in rejected {
                metrics.eventsRejected(source: source.name, reason: RejectionCategory(reason: rejection.reason, path: rejection.path))
                logger.warning(
                    "event rejected: \(rejection)",
                    metadata: [
                        RecordField.kind: "\(RecordKind.eventRejected.rawValue)", RecordField.source: "\(rejection.source ?? batch.origin)",
                        RecordField.reason: "\(rejection.reason)",
                    ])
            }
            let count = rejected.count
            intake.countRejected(count)
            let kept = rejected
            try await quarantine.keep(kept, origin: batch.origin)
        }
        return (
            IntakeBatch(
                source: source.name, origin: batch.origin, namespace: batch.namespace, events: events, positions: batch.positions,
                receivedAt: receivedAt),
            outcomes
        )
    }
}
