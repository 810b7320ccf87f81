public import JourneyCore
import PostgresNIO

/// What `journeyd report` reads of the partitions an instance does not own (cluster mode): their figures
/// and unfinished touches as of their last checkpoints. The owned ones are read live from their processors.
extension PostgresCheckpointStore {
    /// Each of `partitions`' figures as of its last checkpoint, and when that checkpoint was taken; a
    /// partition never checkpointed is absent.
    public func checkpointedFigures(of partitions: [Int]) throws(StoreError) -> [Int: (figures: [String: Int64], takenAt: Timestamp)] {
        guard !partitions.isEmpty else { return [:] }
        return try pool.withConnection("read the partitions' figures") { s in
            var result: [Int: (figures: [String: Int64], takenAt: Timestamp)] = [:]
            for row in try s.run("SELECT partition, taken_at FROM checkpoints WHERE partition = ANY(\(partitions)::integer[])") {
                let (partition, takenAt) = try row.decode((Int, Int64).self)
                result[partition] = ([:], Timestamp(milliseconds: takenAt))
            }
            for row in try s.run("SELECT partition, name, value FROM partition_figures WHERE partition = ANY(\(partitions)::integer[])") {
                let (partition, name, value) = try row.decode((Int, String, Int64).self)
                result[partition]?.figures[name] = value
            }
            return result
        }
    }

    /// The touches of `partitions` not final yet (pending, attempting, retry) as of their last checkpoints.
    public func unfinishedOutbox(of partitions: [Int]) throws(StoreError) -> [OutboxEntry] {
        guard !partitions.isEmpty else { return [] }
        let states = DeliveryState.allCases.filter { !$0.isFinal }.map(\.rawValue)
        return try pool.withConnection("read the partitions' unfinished touches") { s in
            try s.run("SELECT entry FROM outbox_entries WHERE partition = ANY(\(partitions)::integer[]) AND state = ANY(\(states)::text[])").map { row in
                try Self.decode(row, "outbox entry") { r throws(BinaryDecodingError) in try OutboxEntry(from: &r) }
            }
        }
    }
}
