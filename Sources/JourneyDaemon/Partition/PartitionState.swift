import JourneyCore
import JourneyEngine
import JourneyRules

/// A partition's hot state in memory — users, timers, deduplication ids, the outbox, input positions —
/// and what changed since the last checkpoint. The engine reads and changes it through ``StateStore``.
///
/// Users not in memory are read from the checkpoint store on first use; once a checkpoint holds a user's
/// last change, the user may leave memory again when more than ``maxUsersInMemory`` are held (the
/// bound on RAM for more users than fit: docs/ARCHITECTURE.md, "Memory").
final class PartitionState: StateStore {
    let partition: Int
    /// Cluster mode: the partition of a user id (the stream's); nil with one partition.
    var partitionOf: (@Sendable (String) -> Int)?
    let store: any CheckpointStore
    var maxUsersInMemory: Int

    /// A user in memory, and whether it changed since the last snapshot (a flag, not a set: marking a
    /// user dirty on every event must cost no hashing). A class, so reaching a user's flag or state
    /// through the dictionary never copies the state.
    private final class Slot {
        var state: UserState
        var dirty: Bool
        init(state: UserState, dirty: Bool) {
            self.state = state
            self.dirty = dirty
        }
    }
    /// Users decoded (in use since the last checkpoint, or not yet compacted).
    private var users: [String: Slot] = [:]
    /// Users in memory in their checkpoint encoding.
    private var cold = ColdUsers()
    private var compactedThisRound = 0
    /// Whether the checkpoint store can hold users not in memory (false on a first start until a user
    /// leaves memory): saves a store read for every new user.
    private var storeMayHoldUsers: Bool
    private(set) var timers: TimerQueue
    private(set) var dedup: DedupWindow
    var outbox: Outbox
    private(set) var positions: [String: Int64]
    /// The processing clock's high-water mark (event time under `--clock event`, the wall clock's
    /// latest reading otherwise): never goes back, also across a restart.
    var clock: Timestamp
    /// Running enrollments per journey (entered minus exited), kept across restarts for the metrics.
    var activeEnrollments: [String: Int] = [:]
    /// `journeyd report`'s figures, fed by the engine's effects; checkpointed whole with the figures.
    var report = ReportFigures()
    /// The delivery pipeline's state per channel (encoded ``ChannelState``), as last logged.
    private(set) var channelStates: [String: [UInt8]] = [:]
    private var channelStatesChanged = false

    // Changed since the last snapshot.
    private var dirtyCount = 0
    private var removedUsers: Set<String> = []
    /// Users forgotten since the last snapshot: the store erases their outbox rows too.
    private var forgottenUsers: Set<String> = []
    /// Every forgotten user's ``Tombstone`` (events for them are refused), and those new since the last snapshot.
    private(set) var tombstones: Set<String>
    private var newTombstones: [String] = []
    private var armed: [TimerEntry] = []
    private var done: [UInt64] = []
    private var dedupAdded: [DedupWindow.Entry] = []
    private var positionChanges: [String: Int64?] = [:]

    /// Ids the checkpoint store was asked for with the batch being applied and does not hold.
    private var absentFromStore: Set<String> = []

    /// A read of the checkpoint store failed: the daemon must stop (crash-only), and says why.
    private(set) var failure: StoreError?

    init(partition: Int, store: any CheckpointStore, restored: RestoredPartition, settings: Settings, clock: Timestamp, maxUsersInMemory: Int) {
        self.partition = partition
        self.store = store
        self.maxUsersInMemory = maxUsersInMemory
        timers = TimerQueue(restored.timers, lastSeq: restored.timerSeq)
        dedup = DedupWindow(window: settings.dedupWindow, maxEntries: settings.dedupMaxEntries)
        dedup.restore(restored.dedup)
        outbox = Outbox(restoring: restored.outbox)
        positions = restored.positions
        self.clock = clock
        storeMayHoldUsers = restored.hasUsers
        channelStates = restored.channels
        tombstones = restored.tombstones
        for (name, value) in restored.figures where name.hasPrefix("active:") { activeEnrollments[String(name.dropFirst(7))] = Int(value) }
        report = ReportFigures(figures: restored.figures)
    }

    // MARK: - StateStore

    func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        let slot: Slot
        if let existing = users[id] {
            slot = existing
        } else {
            slot = Slot(state: warm(id) ?? load(id) ?? UserState(id: id), dirty: false)
            users[id] = slot
        }
        if !slot.dirty {
            slot.dirty = true
            dirtyCount += 1
        }
        if !removedUsers.isEmpty { removedUsers.remove(id) }
        return try body(&slot.state)
    }

    func user(_ id: String) -> UserState? {
        if let slot = users[id] { return slot.state }
        if cold.contains(id) { return decoded(id) { () throws(BinaryDecodingError) in try cold.user(id) } }
        if removedUsers.contains(id) { return nil }
        guard let loaded = load(id) else { return nil }
        users[id] = Slot(state: loaded, dirty: false)
        return loaded
    }

    /// A user's traits, without copying the rest of the user (what delivery needs of a user in memory) —
    /// nor decoding it when it is kept encoded (most users, by the time their touches are delivered).
    func traits(of id: String) -> Value? {
        if let slot = users[id] { return slot.state.traits }
        if cold.contains(id) { return decoded(id) { () throws(BinaryDecodingError) in try cold.traits(id) } }
        return user(id)?.traits
    }

    /// Cluster mode's routing of an event for `id` (``PartitionProcessor/route(_:namespace:partitionOf:)``):
    /// where `id`'s events go when it was merged into another user (``UserState/mergedInto``), and whether
    /// it waits for another partition's hand-over (``UserState/handover``). A compacted user is decoded once
    /// and kept decoded (clean: its last change is in the store) for the engine that applies the event next.
    func routing(_ id: String) -> (mergedInto: String?, awaitsHandover: Bool) {
        if let slot = users[id] { return (slot.state.mergedInto, slot.state.handover != nil) }
        if cold.contains(id), let state = warm(id) {
            users[id] = Slot(state: state, dirty: false)
            return (state.mergedInto, state.handover != nil)
        }
        guard let user = user(id) else { return (nil, false) }
        return (user.mergedInto, user.handover != nil)
    }

    /// Whether the engine, applying an event with `key` at `at`, would drop it as a duplicate: the window
    /// is expired up to `at` first, as the engine's own check does.
    func seen(_ key: DedupWindow.Key, at: Timestamp) -> Bool {
        dedup.expire(before: at - dedup.window)
        return dedup.contains(key)
    }

    func contains(user id: String) -> Bool {
        if users.index(forKey: id) != nil || cold.contains(id) { return true }
        return user(id) != nil
    }

    func removeUser(_ id: String) {
        if users.removeValue(forKey: id)?.dirty == true { dirtyCount -= 1 }
        cold.remove(id)
        removedUsers.insert(id)
    }

    /// `forget`: the user, their timers and their touches still to deliver leave memory; the next
    /// checkpoint deletes them from the store. Returns the timers and touches removed.
    func forget(_ id: String) -> (timers: [TimerEntry], touches: [OutboxEntry]) {
        let timers = self.timers.removeAll(of: id)
        done += timers.map(\.seq)
        let touches = outbox.remove(user: id)
        removeUser(id)
        forgottenUsers.insert(id)
        let tombstone = Tombstone.hash(id)
        if tombstones.insert(tombstone).inserted { newTombstones.append(tombstone) }
        return (timers, touches)
    }

    /// A record naming `id`, a user forgotten already, was applied (cluster mode: a hand-over's answer
    /// that came after the erasure, carrying the state of an id merged into the person): the next
    /// checkpoint erases the log through it, as it does after a `forget`.
    func eraseAgain(_ id: String) {
        forgottenUsers.insert(id)
    }

    var lastTimerSeq: UInt64 { timers.lastSeq }

    func schedule(_ timer: TimerEntry) {
        timers.schedule(timer)
        armed.append(timer)
    }

    /// The next timer due by `now`. In cluster mode a timer of a user who waits for a hand-over does not
    /// fire: it waits in the hand-over with the user's held events (``PendingHandover/timers``), which
    /// the answer releases in the order of their times — so a reminder due while the purchase before it
    /// is held does not go out first.
    func popTimer(dueBy now: Timestamp) -> TimerEntry? {
        while let timer = timers.popDue(by: now) {
            done.append(timer.seq)
            if partitionOf != nil, routing(timer.user).awaitsHandover {
                withUser(timer.user) { $0.handover?.timers.append(timer) }
                continue
            }
            return timer
        }
        return nil
    }

    var nextTimerDue: Timestamp? { timers.nextDue }

    func markSeen(_ key: DedupWindow.Key, at: Timestamp) -> Bool {
        guard dedup.insert(key, at: at) else { return false }
        dedupAdded.append(.init(key: key, at: at))
        return true
    }

    /// A compacted user, decoded and taken out of the cold set (it becomes hot again).
    private func warm(_ id: String) -> UserState? {
        decoded(id) { () throws(BinaryDecodingError) in try cold.take(user: id) }
    }

    private func decoded<T>(_ id: String, _ decode: () throws(BinaryDecodingError) -> T?) -> T? {
        do { return try decode() } catch {
            failure = .corrupt("user \(id) kept in memory does not decode: \(error)")
            return nil
        }
    }

    /// Whether clean users wait to be compacted (the processor then keeps turning).
    var compactionPending: Bool { cold.hasWork }

    /// Compacts up to `limit` users a written checkpoint made clean (and that stayed clean since) into
    /// their encoding.
    /// When a round compacted many users, the memory their decoded states held goes back to the system.
    func compact(_ limit: Int) {
        for id in cold.next(limit) {
            guard let slot = users[id], !slot.dirty else { continue }
            cold.store(id, user: slot.state)
            users[id] = nil
            compactedThisRound += 1
        }
        cold.reclaim()
        if !cold.hasWork {
            if compactedThisRound >= CAllocator.worthwhileTrim {
                // A dictionary keeps its capacity when emptied: the burst's table goes too.
                if users.capacity > 4 * max(users.count, 1024) { users = Dictionary(minimumCapacity: users.count).merging(users) { a, _ in a } }
                CAllocator.releaseFreePages()
            }
            compactedThisRound = 0
        }
    }

    /// Whether a user not in memory may be in the checkpoint store (false on a first start until a user
    /// leaves memory, and after a failed read): what a batch's prefetch asks before listing its ids.
    var mayReadUsers: Bool { failure == nil && storeMayHoldUsers }

    /// Reads the users of a batch that are not in memory from the checkpoint store at once, so that the
    /// engine finds them without a store read each (after a restart or a takeover every user of the log's
    /// tail is one); those the store does not hold are remembered as absent until ``endBatch()``.
    func prefetch(users ids: [String]) {
        guard mayReadUsers else { return }
        var missing: [String] = []
        var asked = Set<String>()
        for id in ids where users.index(forKey: id) == nil && !cold.contains(id) && !removedUsers.contains(id) && asked.insert(id).inserted {
            missing.append(id)
        }
        guard !missing.isEmpty else { return }
        do {
            let found = try store.users(missing, partition: partition)
            for id in missing {
                if let user = found[id] { users[id] = Slot(state: user, dirty: false) } else { absentFromStore.insert(id) }
            }
        } catch {
            failure = error
        }
    }

    /// Reads the users of the timers due by `t` (up to 4,096 of them) at once, as ``prefetch(users:)``
    /// does for a batch's events: after downtime, a restart fires many timers of users not in memory.
    func prefetchUsers(ofTimersDueBy t: Timestamp) {
        guard mayReadUsers else { return }
        prefetch(users: timers.dueUsers(by: t, limit: 4_096))
    }

    /// The batch is applied: what the store held may change with the next checkpoint.
    func endBatch() {
        if !absentFromStore.isEmpty { absentFromStore.removeAll(keepingCapacity: true) }
    }

    private func load(_ id: String) -> UserState? {
        guard failure == nil, storeMayHoldUsers, !absentFromStore.contains(id) else { return nil }
        do { return try store.user(id, partition: partition) } catch {
            failure = error
            return nil
        }
    }

    /// Records a channel's delivery state; false when it is what was recorded last.
    @discardableResult
    func record(channel: String, state: [UInt8]) -> Bool {
        guard channelStates[channel] != state else { return false }
        channelStates[channel] = state
        channelStatesChanged = true
        return true
    }

    // MARK: - Positions

    func move(_ changes: [String: Int64?]) {
        for (key, value) in changes {
            positions[key] = value
            positionChanges[key] = .some(value)
        }
    }

    // MARK: - Checkpoints

    var usersInMemory: Int { users.count + cold.count }
    var timerCount: Int { timers.count }

    /// Everything changed since the previous snapshot, as a checkpoint at `logSequence`; the state then
    /// counts changes from here.
    func snapshot(logSequence: UInt64, rulesVersion: String, takenAt: Timestamp) -> Checkpoint {
        var checkpoint = Checkpoint(
            partition: partition, logSequence: logSequence, rulesVersion: rulesVersion, timerSeq: timers.lastSeq, takenAt: takenAt)
        checkpoint.clock = clock
        var changed: [UserState] = []
        changed.reserveCapacity(dirtyCount)
        if dirtyCount > 0 {
            for slot in users.values where slot.dirty {
                slot.dirty = false
                changed.append(slot.state)
            }
        }
        checkpoint.users = changed
        checkpoint.removedUsers = Array(removedUsers)
        checkpoint.forgottenUsers = Array(forgottenUsers)
        checkpoint.tombstones = newTombstones
        let fired = Set(done)
        let armedSeqs = Set(armed.map(\.seq))
        checkpoint.timersArmed = armed.filter { !fired.contains($0.seq) }
        checkpoint.timersDone = done.filter { !armedSeqs.contains($0) }
        checkpoint.dedupAdded = dedupAdded.filter { dedup.contains($0.key) }
        checkpoint.dedupHorizon = dedup.oldest?.at ?? clock
        checkpoint.outbox = outbox.takeChanges()
        checkpoint.positions = positionChanges
        checkpoint.figures = Dictionary(uniqueKeysWithValues: activeEnrollments.map { ("active:" + $0.key, Int64($0.value)) })
            .merging(report.figures) { first, _ in first }
        if channelStatesChanged {
            checkpoint.channels = channelStates
            channelStatesChanged = false
        }
        dirtyCount = 0
        removedUsers.removeAll()
        forgottenUsers.removeAll()
        newTombstones.removeAll()
        // Not keeping capacity: a burst (a million timers armed between two checkpoints) must not hold
        // its high-water mark of memory for good.
        armed.removeAll()
        done.removeAll()
        dedupAdded.removeAll()
        positionChanges.removeAll()
        return checkpoint
    }

    /// The checkpoint taken last is durable: the final touches it holds leave memory, and its users (no
    /// longer dirty) may leave memory when too many are held. Only one checkpoint is written at a time, so
    /// every clean user is in the store. The clean users left decoded are queued for compaction.
    func checkpointWritten() {
        outbox.checkpointWritten()
        endBatch()  // users may leave memory now: what the store did not hold before, it may hold
        defer { cold.enqueue(users.compactMap { $0.value.dirty ? nil : $0.key }) }
        guard usersInMemory > maxUsersInMemory else { return }
        var excess = usersInMemory - maxUsersInMemory * 3 / 4
        for id in cold.evictable(excess) { cold.remove(id) }
        excess = usersInMemory - maxUsersInMemory * 3 / 4
        var leaving: [String] = []
        for (id, slot) in users where excess > 0 && !slot.dirty {
            leaving.append(id)
            excess -= 1
        }
        for id in leaving { users[id] = nil }
        storeMayHoldUsers = true
    }
}
