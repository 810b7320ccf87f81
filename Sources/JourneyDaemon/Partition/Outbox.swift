import JourneyCore

/// The touches of a partition that are still to be delivered, and those changed since the last
/// checkpoint: in memory, with a schedule per channel of when each is due (its due time while pending,
/// its retry time after a failure) — so a channel busy with a batch costs nothing until it is free.
/// Final touches leave memory once a checkpoint holds them.
struct Outbox {
    /// The entries, each in a slot of `slab` found through `index`: a touch costs the dictionary a key
    /// and a slot number, not a whole entry, so growing it moves little, and a slot freed by a checkpoint
    /// is reused (the slab stays at the high-water mark of touches held, not of those ever added).
    private var slab: [OutboxEntry?] = []
    private var index: [String: Int] = [:]
    private var free: [Int] = []
    private var schedules: [String: DueQueue] = [:]
    /// Touches created or changed since the last snapshot.
    private var dirty: Set<String> = []

    init() {}

    /// Restores the not-yet-final touches of a checkpoint.
    init(restoring restored: [OutboxEntry]) {
        for entry in restored {
            store(entry)
            if let due = entry.dueAt { schedules[entry.touch.channel, default: DueQueue()].schedule(entry.touch.id, at: due) }
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
        guard index[entry.touch.id] == nil else { return false }
        store(entry)
        dirty.insert(entry.touch.id)
        if let due = entry.dueAt { schedules[entry.touch.channel, default: DueQueue()].schedule(entry.touch.id, at: due) }
        return true
    }

    /// Records a delivery step; returns the entry as it is now, or nil for a touch whose state is final
    /// (`sent`, `dead_letter`, `in_doubt`; still here or already checkpointed away): a final state is
    /// never left, so a late report — a stale cluster owner's, read back by a later replay — changes
    /// nothing, live or replayed, and a sent touch is never queued again.
    @discardableResult
    mutating func apply(_ update: DeliveryUpdate) -> OutboxEntry? {
        guard let slot = index[update.touchID], !slab[slot]!.state.isFinal else { return nil }
        update.apply(to: &slab[slot]!)
        dirty.insert(update.touchID)
        let entry = slab[slot]!
        if let due = entry.dueAt {
            schedules[entry.touch.channel, default: DueQueue()].schedule(update.touchID, at: due)
        } else {
            schedules[entry.touch.channel]?.remove(update.touchID)
        }
        return entry
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
        while taken.count < limit, let id = schedules[channel]?.popDue(by: now) {
            if index[id] != nil { taken.append(id) }
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

    /// The touches changed since the last snapshot, and forgets which; final ones leave memory (the
    /// checkpoint being written holds them).
    mutating func takeChanges() -> [OutboxEntry] {
        var changed: [OutboxEntry] = []
        changed.reserveCapacity(dirty.count)
        for id in dirty {
            guard let slot = index[id], let entry = slab[slot] else { continue }
            changed.append(entry)
            if entry.state.isFinal { release(id) }
        }
        dirty.removeAll(keepingCapacity: true)
        return changed
    }

    /// Removes a forgotten user's touches (those not final will not be sent); returns those not final.
    mutating func remove(user: String) -> [OutboxEntry] {
        let all = entries(of: user)
        for entry in all {
            release(entry.touch.id)
            dirty.remove(entry.touch.id)
            schedules[entry.touch.channel]?.remove(entry.touch.id)
        }
        return all.filter { !$0.state.isFinal }
    }

    /// A user's touches held in memory.
    func entries(of user: String) -> [OutboxEntry] { all.filter { $0.touch.user == user } }

    /// Puts `entry` in a free slot (or a new one) and indexes it.
    private mutating func store(_ entry: OutboxEntry) {
        if let slot = free.popLast() {
            slab[slot] = entry
            index[entry.touch.id] = slot
        } else {
            slab.append(entry)
            index[entry.touch.id] = slab.count - 1
        }
    }

    /// Takes the touch `id` out of memory; its slot is free for the next one.
    private mutating func release(_ id: String) {
        guard let slot = index.removeValue(forKey: id) else { return }
        slab[slot] = nil
        free.append(slot)
    }
}
