import JourneyCore
import JourneyEngine

/// `journeyd explain USER` against the running daemon: answered on the processor's thread from the live
/// state (the user read back from the checkpoint store when not in memory), the in-memory outbox and the
/// touches the store still keeps.
extension PartitionProcessor {
    func explain(_ user: String) -> Explanation {
        var outbox = state.outbox.entries(of: user)
        let inMemory = Set(outbox.map(\.touch.id))
        if let reader = state.store as? any OutboxReader, let stored = try? reader.outbox(of: user) {
            outbox += stored.filter { !inMemory.contains($0.touch.id) }
        }
        return Explanation(user: user, state: state.user(user), outbox: outbox, traceLimit: engine.traceLimit) { engine.journey(version: $0) }
    }
}
