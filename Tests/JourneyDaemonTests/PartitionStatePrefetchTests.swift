import JourneyCore
import JourneyRules
import JourneyStore
import Synchronization
import Testing

@testable import JourneyDaemon

/// After a restart (or a takeover) every user of the log's tail is new to memory: a batch asks the
/// checkpoint store for its users at once, not one read per user.
@Suite("A batch's users read from the checkpoint store at once")
struct PartitionStatePrefetchTests {
    /// The memory store, counting how it is asked.
    final class CountingStore: CheckpointStore {
        let inner = MemoryCheckpointStore()
        let reads = Mutex<(single: [String], batches: [[String]])>(([], []))
        func write(_ checkpoint: Checkpoint) throws(StoreError) { try inner.write(checkpoint) }
        func restore(partition: Int) throws(StoreError) -> RestoredPartition { try inner.restore(partition: partition) }
        func user(_ id: String) throws(StoreError) -> UserState? {
            reads.withLock { $0.single.append(id) }
            return try inner.user(id)
        }
        func users(_ ids: [String]) throws(StoreError) -> [String: UserState] {
            reads.withLock { $0.batches.append(ids) }
            return try inner.users(ids)
        }
    }

    static let t0 = Timestamp(milliseconds: 1_736_157_600_000)

    /// A store holding `ada` and `bob` (each with a trait), and the partition state a restart builds on it.
    static func restarted() throws -> (CountingStore, PartitionState) {
        let store = CountingStore()
        var checkpoint = Checkpoint(partition: 0, logSequence: 10, rulesVersion: "r1", timerSeq: 0, takenAt: t0)
        var ada = UserState(id: "ada")
        ada.traits = ["tier": "gold"]
        var bob = UserState(id: "bob")
        bob.traits = ["tier": "silver"]
        checkpoint.users = [ada, bob]
        try store.write(checkpoint)
        let restored = try store.restore(partition: 0)
        #expect(restored.hasUsers)
        let state = PartitionState(
            partition: 0, store: store, restored: restored, settings: Settings(), clock: t0, maxUsersInMemory: 1_000_000)
        return (store, state)
    }

    @Test("one read for the batch; the engine then finds those held and knows the rest are new")
    func oneReadPerBatch() throws {
        let (store, state) = try Self.restarted()
        state.prefetch(users: ["ada", "carol", "bob", "ada", "carol"])
        #expect(store.reads.withLock { $0.batches } == [["ada", "carol", "bob"]], "each id asked once, in one read")
        #expect(state.user("ada")?.traits == ["tier": "gold"])
        #expect(state.user("bob")?.traits == ["tier": "silver"])
        #expect(state.user("carol") == nil, "a user the store does not hold is new")
        state.withUser("carol") { $0.traits = ["tier": "new"] }
        #expect(state.user("carol")?.traits == ["tier": "new"])
        #expect(store.reads.withLock { $0.single }.isEmpty, "no read per user while the batch is applied")

        // Users in memory are not asked again; after the batch a user not asked for is read as before.
        state.endBatch()
        state.prefetch(users: ["ada", "carol"])
        #expect(store.reads.withLock { $0.batches.count } == 1)
        #expect(state.user("dan") == nil)
        #expect(store.reads.withLock { $0.single } == ["dan"])
    }

    @Test("what the store did not hold during one batch is asked again after it")
    func absenceLastsOneBatch() throws {
        let (store, state) = try Self.restarted()
        state.prefetch(users: ["erin"])
        #expect(state.user("erin") == nil)
        #expect(store.reads.withLock { $0.single }.isEmpty)
        state.endBatch()
        #expect(state.user("erin") == nil)
        #expect(store.reads.withLock { $0.single } == ["erin"], "after the batch the store is asked (a checkpoint may have written erin since)")
    }

    @Test("the users of due timers are read at once before they fire")
    func dueTimersUsers() throws {
        let (store, state) = try Self.restarted()
        for (seq, user) in ["ada", "bob", "carol"].enumerated() {
            state.schedule(TimerEntry(due: Self.t0 + .hours(Int64(seq)), seq: UInt64(seq + 1), user: user, purpose: .enrollment(1)))
        }
        state.prefetchUsers(ofTimersDueBy: Self.t0 + .hours(1))
        #expect(store.reads.withLock { $0.batches.map { $0.sorted() } } == [["ada", "bob"]], "the timer due later is not read")
        #expect(state.user("ada")?.traits == ["tier": "gold"] && state.user("bob")?.traits == ["tier": "silver"])
        #expect(store.reads.withLock { $0.single }.isEmpty)
    }

    @Test("a first start asks nothing: the store cannot hold users yet")
    func firstStartAsksNothing() {
        let store = CountingStore()
        let state = PartitionState(
            partition: 0, store: store, restored: RestoredPartition(), settings: Settings(), clock: Self.t0, maxUsersInMemory: 1_000_000)
        state.prefetch(users: ["ada", "bob"])
        #expect(state.user("ada") == nil)
        #expect(store.reads.withLock { ($0.single.count, $0.batches.count) } == (0, 0))
    }
}
