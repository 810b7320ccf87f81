import JourneyCore

/// The touches of a partition that are still to be delivered, and those changed since the last
/// checkpoint: in memory, with a schedule per channel of when each is due (its due time while pending,
/// its retry time after a failure) — so a channel busy with a batch costs nothing until it is free.
/// Final touches leave memory once the checkpoint that holds them is written — not when it is taken,
/// so `explain` finds a touch sent a moment ago in memory or in the store, never in neither.
///
/// A touch is found by its id once, when it is added or a decision about it comes in; from there on
/// it is its slot: schedules and the changed set work on slot numbers, not on the (heap-allocated,
/// 16-character) ids, which a touch's life through the outbox would otherwise hash a dozen times.
struct Outbox {
    /// The entries, each in a slot of `slab` found through `index`: a touch costs the dictionary a key
    /// and a slot number, not a whole entry, so growing it moves little, and a slot freed by a checkpoint
    /// is reused (the slab stays at the high-water mark of touches held, not of those ever added).
    private var slab: [OutboxEntry?] = []
    private var index: [String: Int] = [:]
    private var free: [Int] = []
    /// Per channel, the slots of its touches by due time. A slot leaves its schedule before it is freed
    /// (a final touch has no due time), so a reused slot never inherits a stale place.
    private var schedules: [String: DueQueue] = [:]
    /// Per slot, whether its touch was created or changed since the last snapshot; `changed` lists those
    /// slots (a slot may be listed twice once freed and reused: `isChanged` decides).
    private var isChanged: [Bool] = []
    private var changed: [Int] = []
    /// Final touches the last snapshot took, with their ids (a forgotten user's slot may be reused
    /// meanwhile): they leave memory once the checkpoint holding them is written.
    private var leaving: [(slot: Int, id: String)] = []

    init() {}

    /// Restores the not-yet-final touches of a checkpoint.
    init(restoring restored: [OutboxEntry]) {
        for entry in restored {
            let slot = store(entry)
            if let due = entry.dueAt { schedules[entry.touch.channel, default: DueQueue()].schedule(slot, at: due) }
        }
    }

    subscript(id: String) -> OutboxEntry? { index[id].flatMap { slab[$0] } }

    /// Every touch held in memory.
    var all: some Sequence<OutboxEntry> { slab.lazy.compactMap { $0 } }

    /// How many touches are held in memory.
    var count: Int { index.count }

    /// Adds a touch the engine produced; false when one with its id is already here (replayed or
    /// produced again: recognized, not created twice).
    @discardableResult
    mutating func add(_ entry: OutboxEntry) -> Bool {
        // One lookup finds the id or claims the next free slot for it.
        let candidate = free.last ?? slab.count
        var isNew = false
        func claim(_ slot: inout Int) {
            if slot < 0 {
                slot = candidate
                isNew = true
            }
        }
        claim(&index[entry.touch.id, default: -1])
        guard isNew else { return false }
        place(entry, in: candidate)
        markChanged(candidate)
        if let due = entry.dueAt { schedules[entry.touch.channel, default: DueQueue()].schedule(candidate, at: due) }
        return true
    }

    /// Records a delivery step; returns the entry as it is now, or nil for a touch whose state is final
    /// (`sent`, `dead_letter`, `in_doubt`; still here or already checkpointed away): a final state is
    /// never left, so a late report — a stale cluster owner's, read back by a later replay — changes
    /// nothing, live or replayed, and a sent touch is never queued again.
    @discardableResult
    mutating func apply(_ update: DeliveryUpdate) -> OutboxEntry? {
        applied(update).map { slab[$0.slot]! }
    }

    /// ``apply(_:)`` for a decision about a touch: the touch's state before and after, and its channel —
    /// without copying the entry out (a decision comes for every touch delivered).
    mutating func record(_ update: DeliveryUpdate) -> (before: DeliveryState, after: DeliveryState, channel: String)? {
        applied(update).map { ($0.before, slab[$0.slot]!.state, slab[$0.slot]!.touch.channel) }
    }

    /// Applies `update` in place; the touch's slot and its state before, or nil when that was final.
    private mutating func applied(_ update: DeliveryUpdate) -> (slot: Int, before: DeliveryState)? {
        guard let slot = index[update.touchID], let before = slab[slot]?.state, !before.isFinal else { return nil }
        update.apply(to: &slab[slot]!)
        markChanged(slot)
        let channel = slab[slot]!.touch.channel
        if let due = slab[slot]!.dueAt {
            schedules[channel, default: DueQueue()].schedule(slot, at: due)
        } else {
            schedules[channel]?.remove(slot)
        }
        return (slot, before)
    }

    /// When the earliest pending or retrying touch is due.
    mutating func nextDue() -> Timestamp? {
        var earliest: Timestamp?
        for channel in Array(schedules.keys) {
            if let due = schedules[channel]!.nextDue() { earliest = min(earliest ?? due, due) }
        }
        return earliest
    }

    /// The channels with touches scheduled.
    var channels: [String] { schedules.keys.sorted() }

    /// Removes from `channel`'s schedule and returns the ids of up to `limit` touches due at or before `now`.
    mutating func takeDue(channel: String, by now: Timestamp, limit: Int) -> [String] {
        var taken: [String] = []
        while taken.count < limit, let slot = schedules[channel]?.popDue(by: now) {
            if let entry = slab[slot] { taken.append(entry.touch.id) }
        }
        return taken
    }

    /// How many touches held are pending and how many retrying (reading each entry's state in place:
    /// neither copying entries nor hashing states).
    func waitingByState() -> (pending: Int, retry: Int) {
        var (pending, retry) = (0, 0)
        for slot in slab.indices {
            switch slab[slot]?.state {
            case .pending?: pending += 1
            case .retry?: retry += 1
            default: break
            }
        }
        return (pending, retry)
    }

    /// Touches waiting (pending or retrying).
    var waiting: Int { schedules.values.reduce(0) { $0 + $1.count } }
    var attempting: Int { all.count { $0.state == .attempting } }

    /// The touches changed since the last snapshot, and forgets which; final ones leave memory once the
    /// checkpoint being written holds them (``checkpointWritten()``).
    mutating func takeChanges() -> [OutboxEntry] {
        var entries: [OutboxEntry] = []
        entries.reserveCapacity(changed.count)
        for slot in changed where isChanged[slot] {
            isChanged[slot] = false
            guard let entry = slab[slot] else { continue }
            entries.append(entry)
            if entry.state.isFinal { leaving.append((slot, entry.touch.id)) }
        }
        changed.removeAll(keepingCapacity: true)
        return entries
    }

    /// The checkpoint of the last snapshot is written: the final touches it took leave memory (a final
    /// touch never changes again, so the stored copy is the one in memory).
    mutating func checkpointWritten() {
        for (slot, id) in leaving where slab[slot]?.touch.id == id { release(slot) }
        leaving.removeAll(keepingCapacity: true)
    }

    /// Removes a forgotten user's touches (those not final will not be sent); returns those not final.
    mutating func remove(user: String) -> [OutboxEntry] {
        var removed: [OutboxEntry] = []
        for slot in slab.indices {
            guard let entry = slab[slot], entry.touch.user == user else { continue }
            removed.append(entry)
            schedules[entry.touch.channel]?.remove(slot)
            isChanged[slot] = false
            release(slot)
        }
        return removed.filter { !$0.state.isFinal }
    }

    /// A user's touches held in memory.
    func entries(of user: String) -> [OutboxEntry] { all.filter { $0.touch.user == user } }

    /// Puts `entry` in a free slot (or a new one) and indexes it; returns the slot.
    private mutating func store(_ entry: OutboxEntry) -> Int {
        let slot = free.last ?? slab.count
        index[entry.touch.id] = slot
        place(entry, in: slot)
        return slot
    }

    /// Puts `entry` in `slot`: the last free one, or the next new one.
    private mutating func place(_ entry: OutboxEntry, in slot: Int) {
        if slot == slab.count {
            slab.append(entry)
            isChanged.append(false)
        } else {
            free.removeLast()
            slab[slot] = entry
        }
    }

    private mutating func markChanged(_ slot: Int) {
        guard !isChanged[slot] else { return }
        isChanged[slot] = true
        changed.append(slot)
    }

    /// Takes the touch in `slot` out of memory; the slot is free for the next one.
    private mutating func release(_ slot: Int) {
        guard let entry = slab[slot] else { return }
        index.removeValue(forKey: entry.touch.id)
        slab[slot] = nil
        free.append(slot)
    }
}
