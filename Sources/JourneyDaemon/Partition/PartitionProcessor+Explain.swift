import JourneyCore
import JourneyEngine

/// `journeyd explain USER` against the running daemon: answered on the processor's thread from the live
/// state (the user read back from the checkpoint store when not in memory), the in-memory outbox and the
/// touches the store still keeps.
extension PartitionProcessor {
    func explain(_ user: String) -> Explanation {
        var outbox = state.outbox.entries(of: user)
        let inMemory = Set(outbox.map(\.touch.id))
        // A forgotten user's rows stay in the store until the next checkpoint erases them (also after a
        // restart that replayed the `forget`): they are no longer the user's story.
        let forgotten = !state.tombstones.isEmpty && state.tombstones.contains(Tombstone.hash(user))
        if !forgotten, let reader = state.store as? any OutboxReader, let stored = try? reader.outbox(of: user) {
            outbox += stored.filter { !inMemory.contains($0.touch.id) }
        }
        return Explanation(user: user, state: state.user(user), outbox: outbox, traceLimit: engine.traceLimit) {
            engine.journey(version: $0)
        }
    }
}
