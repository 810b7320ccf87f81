import JourneyCore
import JourneyEvents
import Logging

/// Cluster mode: the owner of a partition applies the records the inputs of every instance published to
/// the partition's subject, in the subject's order, with the code a replay uses (so a new owner replaying
/// them from the last checkpoint gets the same state and touches).
extension PartitionProcessor {
    /// Reads and applies the records after the position read so far; skips the owner's own records (it
    /// applied them as it appended them). Returns how many were applied. Runs on the processor's thread
    /// (posted as a query).
    @discardableResult
    func follow(parser: SegmentEventParser) throws -> Int {
        guard let followed = log as? FollowedLog, failure == nil else { return 0 }
        var applied = 0
        try followed.base.read(after: followed.lastSequence) { sequence, bytes in
            defer { followed.advance(to: sequence) }
            guard !followed.isOwn(sequence), let record = try JournalRecord.decode(bytes) else { return true }
            guard case .events = record else {
                // Another owner's record after this one took over: a stale owner still appending.
                logger.warning("partition \(partition): log record \(sequence) is not an events record: another (stale) owner appended it; it is skipped")
                return true
            }
            try applyLogged(record, at: sequence, parser: parser)
            applied += 1
            return true
        }
        return applied
    }
}
