/// Where an instance's file inputs resume, in cluster mode: the committed positions of its spool and
/// tail (``SourceBatch/positions``: byte offsets, line numbers, inodes), kept per instance name.
///
/// In the embedded mode positions travel with the events in the log and its checkpoints, since one
/// process owns both. In cluster mode the events go to a partitioned stream and the state to partitions
/// that any instance may own, while a spool directory or a tailed file belongs to the instance that reads
/// it: its positions are the instance's, not a partition's. An instance moves them once every event of a
/// batch is in the stream (after the publish acknowledgements) and before the batch counts as durable, so
/// a restart reads on after the last durable batch instead of from the start of the file — which would
/// publish every earlier event again, for deduplication to catch only within its window.
///
/// Implementations: `PostgresCheckpointStore` (the cluster's state database), `MemoryInputPositions`.
public protocol InputPositionStore: AnyObject, Sendable {
    /// The positions `instance` committed last; empty for an instance that never committed any.
    func positions(of instance: String) throws(StoreError) -> [String: Int64]
    /// Sets each position of `changes` for `instance` (nil removes one: a spool file archived), all or none.
    func move(_ changes: [String: Int64?], of instance: String) throws(StoreError)
}
