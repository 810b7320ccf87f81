import JourneyCore
import JourneyEvents
import Logging

/// Cluster mode: the owner of a partition applies the records the inputs of every instance published to
/// the partition's subject, in the subject's order, with the code a replay uses (so a new owner replaying
/// them from the last checkpoint gets the same state and touches).
extension PartitionProcessor {
    /// Applies `records` (read from the partition's subject, in order) after the position read so far;
    /// skips those already read and the owner's own (it applied them as it appended them) — except its
    /// ticks and reloads, which it applies here, as read back, so that time and rules move on in the
    /// subject's order (see ``fireDueTimers(at:)``). Returns how many were applied. Runs on the processor's thread (posted as a query).
    @discardableResult
    func follow(_ records: [(sequence: UInt64, payload: [UInt8])], parser: SegmentEventParser) throws -> Int {
        guard let followed = log as? FollowedLog, failure == nil else { return 0 }
        var applied = 0
        for (sequence, payload) in records where sequence > followed.lastSequence {
            // Read up to here only once applied: a record whose application failed (a publish to another
            // partition, say) is never covered by a checkpoint.
            if try follow(sequence, payload, in: followed, parser: parser) { applied += 1 }
            followed.advance(to: sequence, bytes: payload.count)
        }
        return applied
    }

    /// Applies one record read from the subject; returns whether it applied it.
    private func follow(_ sequence: UInt64, _ payload: [UInt8], in followed: FollowedLog, parser: SegmentEventParser) throws -> Bool {
        if followed.isOwn(sequence) {
            guard JournalRecord.isTick(payload) || JournalRecord.isRules(payload) else { return false }
            // A stale owner's own records after the new owner's start are skipped by every replay: this
            // owner does not apply them either (it stops soon; meanwhile it decides what a replay decides).
            if let own = followed.token?.value, own < streamOwner { return false }
            switch try payload.withUnsafeBytes({ try JournalRecord.decode($0) }) {
            case .tick(let at)?:
                applyTick(at)
                tickInFlight = nil
                return true
            case .rules(let version)?:
                // The reload appended first (own records come back in order). The record `goLive(with:)`
                // appends at the start was applied then; it matches no reload in flight.
                guard reloadsInFlight.first?.version == version else { return false }
                goLive(reloaded: reloadsInFlight.removeFirst())
                return true
            default:
                return false
            }
        }
        let (token, decoded) = try payload.withUnsafeBytes { try JournalRecord.decodeStamped($0) }
        guard let record = decoded, !skips(record, stampedWith: token, at: sequence) else { return false }
        switch record {
        case .events, .handover:
            try applyLogged(record, at: sequence, parser: parser)
            return true
        case .forget where token.map { $0 < streamOwner } ?? false:
            // A stale owner's erasure, reported done to the operator: applied (see `skips`).
            try applyLogged(record, at: sequence, parser: parser)
            return true
        case .owner(let token):
            // An owner with a higher token took the partition over: this one is stale (its checkpoints
            // and deliveries are fenced off; its ownership loop lets the partition go). A lower one is a
            // start that lost its lease before appending its record: it changes nothing.
            guard token > streamOwner else { return false }
            logger.warning("partition \(partition): log record \(sequence): the owner holding lease token \(token) took the partition over")
            streamOwner = token
            return false
        default:
            // Another owner's bookkeeping (an unstamped one of a journeyd before stamps, or a newer
            // owner's while this one is stale): this owner keeps its own.
            logger.warning("partition \(partition): log record \(sequence) is not an events record: another owner appended it; it is skipped")
            return false
        }
    }
}
