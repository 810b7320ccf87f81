public import JourneyCore
import Synchronization

/// A checkpoint store in memory: for tests of what sits on a store, and for one-shot runs that keep
/// nothing. Passes `CheckpointStoreConformance` like every store.
public final class MemoryCheckpointStore: CheckpointStore, JourneyArchive, OutboxReader, Sendable {
    private struct Partition {
        var checkpoint: (sequence: UInt64, rules: String, timerSeq: UInt64, clock: Timestamp)?
        var timers: [UInt64: TimerEntry] = [:]
        var dedup: [DedupWindow.Key: Timestamp] = [:]
        var positions: [String: Int64] = [:]
        var figures: [String: Int64] = [:]
        var channels: [String: [UInt8]] = [:]
        var tombstones: Set<String> = []
        var fence: FencingToken?
    }
    private struct State {
        var partitions: [Int: Partition] = [:]
        var users: [String: UserState] = [:]
        var outbox: [String: OutboxEntry] = [:]
        var outboxPartition: [String: Int] = [:]
        var snapshots: [String: RuleSnapshot] = [:]
        var journeys: [StoredJourney] = []
    }
    private let state = Mutex(State())

    public init() {}

    public func write(_ checkpoint: Checkpoint) throws(StoreError) {
        state.withLock { state in
            var p = state.partitions[checkpoint.partition] ?? Partition()
            for user in checkpoint.users { state.users[user.id] = user }
            for id in checkpoint.removedUsers { state.users[id] = nil }
            for timer in checkpoint.timersArmed { p.timers[timer.seq] = timer }
            for seq in checkpoint.timersDone { p.timers[seq] = nil }
            for entry in checkpoint.dedupAdded { p.dedup[entry.key] = entry.at }
            p.dedup = p.dedup.filter { $0.value >= checkpoint.dedupHorizon }
            let forgotten = Set(checkpoint.forgottenUsers)
            if !forgotten.isEmpty {
                for (id, entry) in state.outbox where forgotten.contains(entry.touch.user) {
                    state.outbox[id] = nil
                    state.outboxPartition[id] = nil
                }
            }
            for entry in checkpoint.outbox {
                state.outbox[entry.touch.id] = entry
                state.outboxPartition[entry.touch.id] = checkpoint.partition
            }
            for id in checkpoint.forgottenUsers { state.users[id] = nil }
            p.tombstones.formUnion(checkpoint.tombstones)
            for (key, value) in checkpoint.positions { p.positions[key] = value }
            if !checkpoint.figures.isEmpty { p.figures = checkpoint.figures }
            if !checkpoint.channels.isEmpty { p.channels = checkpoint.channels }
            p.checkpoint = (checkpoint.logSequence, checkpoint.rulesVersion, checkpoint.timerSeq, checkpoint.clock)
            p.fence = checkpoint.fence
            state.partitions[checkpoint.partition] = p
        }
    }

    public func restore(partition: Int) throws(StoreError) -> RestoredPartition {
        state.withLock { state in
            var restored = RestoredPartition()
            restored.hasUsers = !state.users.isEmpty
            guard let p = state.partitions[partition] else { return restored }
            if let checkpoint = p.checkpoint {
                restored.logSequence = checkpoint.sequence
                restored.rulesVersion = checkpoint.rules
                restored.timerSeq = checkpoint.timerSeq
                restored.clock = checkpoint.clock
                restored.fence = p.fence
            }
            restored.timers = Array(p.timers.values)
            restored.tombstones = p.tombstones
            restored.dedup = p.dedup.map { DedupWindow.Entry(key: $0.key, at: $0.value) }.sorted { $0.at < $1.at }
            restored.outbox = state.outbox.values
                .filter { !$0.state.isFinal && state.outboxPartition[$0.touch.id] == partition }
                .sorted { $0.touch.at < $1.touch.at }
            restored.positions = p.positions
            restored.figures = p.figures
            restored.channels = p.channels
            return restored
        }
    }

    public func user(_ id: String) throws(StoreError) -> UserState? { state.withLock { $0.users[id] } }

    public func users(_ ids: [String]) throws(StoreError) -> [String: UserState] {
        state.withLock { state in
            var found: [String: UserState] = [:]
            for id in ids { if let user = state.users[id] { found[id] = user } }
            return found
        }
    }

    public func outboxCounts() throws(StoreError) -> [DeliveryState: Int] {
        state.withLock { state in
            var counts: [DeliveryState: Int] = [:]
            for entry in state.outbox.values { counts[entry.state, default: 0] += 1 }
            return counts
        }
    }

    public func outbox(of user: String) throws(StoreError) -> [OutboxEntry] {
        state.withLock { $0.outbox.values.filter { $0.touch.user == user }.sorted { ($0.touch.at, $0.touch.id) < ($1.touch.at, $1.touch.id) } }
    }

    public func outbox(in deliveryState: DeliveryState, limit: Int) throws(StoreError) -> [OutboxEntry] {
        state.withLock {
            Array($0.outbox.values.filter { $0.state == deliveryState }.sorted { ($0.touch.at, $0.touch.id) < ($1.touch.at, $1.touch.id) }.prefix(limit))
        }
    }

    public func keep(_ snapshot: RuleSnapshot) throws(StoreError) { state.withLock { $0.snapshots[snapshot.version] = snapshot } }

    public func snapshot(version: String) throws(StoreError) -> RuleSnapshot? { state.withLock { $0.snapshots[version] } }

    public func keep(journeys: [StoredJourney], at: Timestamp) throws(StoreError) {
        state.withLock { state in
            for journey in journeys where !state.journeys.contains(where: { $0.version == journey.version }) { state.journeys.append(journey) }
        }
    }

    public func keptJourneyVersions() throws(StoreError) -> [StoredJourney] { state.withLock { $0.journeys } }
}
