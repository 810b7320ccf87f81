import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import Logging

/// Starting a partition: replaying the log after the last checkpoint through the same engine, under the
/// rule sets the log names, then switching to the rules on disk.
extension PartitionProcessor {
    /// Replays the records after `checkpoint` (the sequence the last checkpoint covers). Returns how many.
    @discardableResult
    func replay(after checkpoint: UInt64, parser: SegmentEventParser) throws -> Int {
        replaying = true
        defer { replaying = false }
        var records = 0
        try log.read(after: checkpoint) { sequence, bytes in
            let (token, record) = try JournalRecord.decodeStamped(bytes)
            guard let record else { return true }  // erased by forget
            if skips(record, stampedWith: token, at: sequence) { return true }
            records += 1
            try applyLogged(record, at: sequence, parser: parser)
            return true
        }
        counters.replayed = records
        return records
    }

    /// Whether a record stamped with `token` was appended by a stale owner: one whose lease an owner with a
    /// higher token (``streamOwner``, announced by its ``JournalRecord/owner(token:)`` earlier in the log)
    /// had taken over. Such a record is skipped wherever it is read, so a replay decides what the owner did.
    func isStale(_ token: Int64?, at sequence: UInt64) -> Bool {
        guard let token, token < streamOwner else { return false }
        metrics.staleRecordSkipped()
        logger.warning(
            "partition \(partition): log record \(sequence) was appended under lease token \(token) after the owner holding token \(streamOwner) took over: a stale owner's, skipped",
            metadata: [RecordField.kind: "stale_record_skipped"])
        return true
    }

    /// Whether a record stamped with `token` is skipped: a stale owner's (``isStale(_:at:)``) — except its
    /// `forget`. A paused owner asked to forget a user before it read the takeover logs the erasure and tells
    /// the operator it is done; erasing is right whoever logged it, so the record is applied live and on
    /// every replay, and an erasure reported done is never dropped.
    func skips(_ record: JournalRecord, stampedWith token: Int64?, at sequence: UInt64) -> Bool {
        guard case .forget = record else { return isStale(token, at: sequence) }
        if let token, token < streamOwner {
            logger.notice(
                "partition \(partition): log record \(sequence) is a forget logged under lease token \(token) after the owner holding token \(streamOwner) took over: applied (the stale owner reported it done)",
                metadata: [RecordField.kind: "stale_forget_applied"])
        }
        return false
    }

    /// Applies one log record as a replay does (the same code whether recovering or, in cluster mode,
    /// following records the inputs of any instance published).
    func applyLogged(_ record: JournalRecord, at sequence: UInt64, parser: SegmentEventParser) throws {
        switch record {
        case .events(let batch):
            var events: [Event] = []
            events.reserveCapacity(batch.lines.count)
            var lines: [[UInt8]] = []  // cluster mode: each event's line, to hold or forward it
            for (index, line) in batch.lines.enumerated() {
                let parsed = line.withUnsafeBufferPointer {
                    parser.parse($0, lineNumber: index + 1, byteOffset: 0, source: batch.origin)
                }
                switch parsed {
                case .success(var event):
                    // A forgotten user's events: refused before the log in embedded mode, so only cluster mode
                    // meets them here (other instances publish without knowing the partition's tombstones) —
                    // dropped, live and on every replay alike, from the `forget` record on.
                    if !state.tombstones.isEmpty, state.tombstones.contains(Tombstone.hash(event.userId)) {
                        if !replaying { counters.forgottenRefused += 1 }
                        continue
                    }
                    // The same policy, the same receipt time: the same outcome as when it arrived.
                    if case .refused = runtime.rules.settings.daemonSettings.eventTime.apply(to: &event, receivedAt: batch.receivedAt) {
                        continue
                    }
                    events.append(event)
                    if partitionOf != nil { lines.append(line) }
                case .failure(let rejection):
                    // It parsed when it was received; a parser that changed since must not lose it silently.
                    logger.error(
                        "log record \(sequence): an event accepted before no longer parses (\(rejection)); it is skipped",
                        metadata: [RecordField.kind: "\(RecordKind.eventRejected.rawValue)"])
                }
            }
            if let partitionOf {
                try applyRouted(
                    events, lines: lines, at: sequence, appliedAt: batch.appliedAt, receivedAt: batch.receivedAt, origin: batch.origin,
                    namespace: batch.namespace, partitionOf: partitionOf)
            } else {
                applyEvents(events, receivedAt: batch.appliedAt, namespace: batch.namespace)
            }
            state.move(batch.positions)
        case .tick(let at):
            applyTick(at)
        case .rules(let version):
            if version != runtime.version { try switchRules(to: version) }
        case .deliveries(let updates):
            applyDeliveries(updates)
        case .positions(let positions):
            state.move(positions)
        case .forget(let user):
            try forgetElsewhere(applyForget(user))
        case .channels(let channels):
            for (name, bytes) in channels { state.record(channel: name, state: bytes) }
        case .owner(let token):
            streamOwner = max(streamOwner, token)
        case .handover(let handover):
            // Only cluster mode publishes them; a log without a partition map has none to act on.
            guard let partitionOf else { return }
            try applyHandover(handover, at: sequence, parser: parser, partitionOf: partitionOf)
        }
    }

    /// Replay reached a reload: the rules live from there on, from the archive.
    private func switchRules(to version: String) throws {
        guard let snapshot = try archive.snapshot(version: version) else {
            throw DaemonError("the log names rule set \(version), which the archive does not hold: the log cannot be replayed as it was written")
        }
        let older = try RuntimeBuilder.build(snapshot: snapshot)
        _ = engineLoad(older)
    }

    /// Goes live on `live` (the rules on disk, channels open): a reload when replay ended under other
    /// rules; either way the log says which rules apply from here.
    func goLive(with live: Runtime) throws {
        if live.version != runtime.version {
            let summary = engineLoad(live)
            if summary.changed.count + summary.added.count + summary.removed.count > 0 {
                logger.notice(
                    "rules changed while journeyd was stopped: added \(summary.added.count), changed \(summary.changed.count), removed \(summary.removed.count)",
                    metadata: [RecordField.kind: "\(RecordKind.rulesReloaded.rawValue)", RecordField.outcome: "live"])
            }
        } else {
            setRuntime(live)
        }
        _ = try log.append { JournalRecord.rules(version: live.version).encode(into: &$0) }
        resolveInterruptedDeliveries()
    }
}
