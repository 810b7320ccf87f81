import Synchronization

/// Partitions being started in the background (restore, consumer, replay), so the ownership loop goes on
/// turning — claiming what a later turn finds orphaned, renewing its pulse — while a batch of starts,
/// slow under load, runs. The loop takes the finished ones each pass.
final class PartitionStarts: Sendable {
    private let state = Mutex<(pending: Set<Int>, done: [(Int, OwnedPartition?)])>(([], []))

    func begin(_ partition: Int) { state.withLock { _ = $0.pending.insert(partition) } }

    /// `started` nil: the partition could not be started (its lease was released).
    func finish(_ partition: Int, _ started: OwnedPartition?) {
        state.withLock {
            $0.pending.remove(partition)
            $0.done.append((partition, started))
        }
    }

    /// The partitions still starting.
    var pending: Set<Int> { state.withLock { $0.pending } }

    /// Whether no start is running and none finished since the last ``take()``.
    var idle: Bool { state.withLock { $0.pending.isEmpty && $0.done.isEmpty } }

    /// The starts that finished since the last call.
    func take() -> [(Int, OwnedPartition?)] {
        state.withLock { state in
            defer { state.done.removeAll() }
            return state.done
        }
    }
}
