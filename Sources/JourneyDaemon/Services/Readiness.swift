import Synchronization

/// Opens once a listener that binds inside its service (the HTTP input, the admin listener) is
/// listening — or has failed to. `READY=1` waits for every gate, so READY means the inputs listen.
final class ListenerGate: Sendable {
    private let state = Mutex<(outcome: Bool?, waiters: [CheckedContinuation<Bool, Never>])>((nil, []))

    init() {}

    /// Records whether the listener is bound, and wakes whoever waits (the first call counts).
    func open(bound: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard state.outcome == nil else { return [] }
            state.outcome = bound
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: bound) }
    }

    /// Waits until the listener is bound (true) or failed (false).
    func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let outcome = state.withLock { state -> Bool? in
                if state.outcome == nil { state.waiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }
}

/// Whether the daemon is ready (`/readyz`): set once READY is sent, cleared when it stops.
final class Readiness: Sendable {
    private let state = Mutex("starting")

    init() {}

    func set(_ detail: String) { state.withLock { $0 = detail } }

    /// True when ready, with a word on the state: `ready`, `starting`, `stopping`.
    var current: (ready: Bool, detail: String) {
        let detail = state.withLock { $0 }
        return (detail == "ready", detail)
    }
}
