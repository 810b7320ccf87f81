import JourneyCore

/// The touches of a partition that are still to be delivered, and those changed since the last
/// checkpoint: in memory, with the schedule of when each is due (its due time while pending, its retry
/// time after a failure). Final touches leave memory once a checkpoint holds them.
struct Outbox {
    private(set) var entries: [String: OutboxEntry] = [:]
    private var schedule = DueQueue()
    /// Touches created or changed since the last snapshot.
    private var dirty: Set<String> = []

    init() {}

    /// Restores the not-yet-final touches of a checkpoint.
    init(restoring restored: [OutboxEntry]) {
        for entry in restored {
            entries[entry.touch.id] = entry
            if let due = entry.dueAt { schedule.schedule(entry.touch.id, at: due) }
        }
    }

    subscript(id: String) -> OutboxEntry? { entries[id] }

    /// Adds a touch the engine produced; false when one with its id is already here (replayed or
    /// produced again: recognized, not created twice).
    @discardableResult
    mutating func add(_ entry: OutboxEntry) -> Bool {
        guard entries[entry.touch.id] == nil else { return false }
        entries[entry.touch.id] = entry
        dirty.insert(entry.touch.id)
        if let due = entry.dueAt { schedule.schedule(entry.touch.id, at: due) }
        return true
    }

    /// Records a delivery step; returns the entry as it is now (nil for a touch not held here: one
    /// already final and checkpointed, whose late report changes nothing).
    @discardableResult
    mutating func apply(_ update: DeliveryUpdate) -> OutboxEntry? {
        guard var entry = entries[update.touchID] else { return nil }
        update.apply(to: &entry)
        entries[update.touchID] = entry
        dirty.insert(update.touchID)
        if let due = entry.dueAt { schedule.schedule(update.touchID, at: due) } else { schedule.remove(update.touchID) }
        return entry
    }

    /// When the earliest pending or retrying touch is due.
    mutating func nextDue() -> Timestamp? { schedule.nextDue() }

    /// Removes from the schedule and returns the earliest touch due at or before `now`.
    mutating func popDue(by now: Timestamp) -> OutboxEntry? {
        while let id = schedule.popDue(by: now) {
            if let entry = entries[id] { return entry }
        }
        return nil
    }

    /// Puts back a touch taken with ``popDue(by:)`` and not handed over (its channel was busy).
    mutating func reschedule(_ entry: OutboxEntry) {
        if let due = entry.dueAt { schedule.schedule(entry.touch.id, at: due) }
    }

    /// Touches waiting (pending or retrying) and being attempted.
    var waiting: Int { schedule.count }
    var attempting: Int { entries.values.count { $0.state == .attempting } }

    /// The touches changed since the last snapshot, and forgets which; final ones leave memory (the
    /// checkpoint being written holds them).
    mutating func takeChanges() -> [OutboxEntry] {
        let changed = dirty.compactMap { entries[$0] }
        dirty.removeAll(keepingCapacity: true)
        for entry in changed where entry.state.isFinal { entries[entry.touch.id] = nil }
        return changed
    }

    /// A user's touches held in memory.
    func entries(of user: String) -> [OutboxEntry] { entries.values.filter { $0.touch.user == user } }
}
