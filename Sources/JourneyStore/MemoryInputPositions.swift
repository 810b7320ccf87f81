public import JourneyCore
import Synchronization

/// Input positions in memory (``InputPositionStore``): for tests of what publishes batches with positions.
/// Passes `InputPositionStoreConformance` like the PostgreSQL store.
public final class MemoryInputPositions: InputPositionStore {
    private let byInstance = Mutex<[String: [String: Int64]]>([:])

    public init() {}

    public func positions(of instance: String) throws(StoreError) -> [String: Int64] {
        byInstance.withLock { $0[instance] ?? [:] }
    }

    public func move(_ changes: [String: Int64?], of instance: String) throws(StoreError) {
        byInstance.withLock { all in
            for (source, position) in changes { all[instance, default: [:]][source] = position }
        }
    }
}
