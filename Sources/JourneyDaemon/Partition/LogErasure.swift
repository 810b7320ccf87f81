import JourneyCore
import JourneyEvents

/// Erasing forgotten users from the event log (`journeyd forget`) by rewriting it, once a checkpoint
/// covers their `forget` records: their events leave the `events` records that carried them (the other
/// users' events stay, with every sequence number), and the `forget` records, which name them, are emptied.
///
/// Until then the log keeps both, so a restart replays the events and then the erasure: the user comes
/// back for the time of the replay only. Later events for a forgotten user are refused before the log.
enum LogErasure {
    /// Rewrites the records through `sequence`; returns how many event lines were erased.
    @discardableResult
    static func erase(_ users: Set<String>, through sequence: UInt64, in log: any EventLog) throws -> Int {
        guard !users.isEmpty else { return 0 }
        let parser = SegmentEventParser()
        var erased = 0
        try log.rewrite { at, payload in
            guard at <= sequence, let record = try JournalRecord.decode(payload) else { return nil }
            switch record {
            case .forget(let user): return users.contains(user) ? [] : nil
            case .events(var batch):
                let kept = batch.lines.filter { line in
                    let parsed = line.withUnsafeBufferPointer { parser.parse($0, lineNumber: 1, byteOffset: 0, source: batch.origin) }
                    guard case .success(let event) = parsed else { return true }
                    return !users.contains(event.userId) && !(event.anonymousId.map(users.contains) ?? false)
                }
                guard kept.count < batch.lines.count else { return nil }
                erased += batch.lines.count - kept.count
                batch.lines = kept
                var w = ByteWriter(capacity: 256)
                JournalRecord.events(batch).encode(into: &w)
                return w.bytes
            default: return nil
            }
        }
        return erased
    }
}
