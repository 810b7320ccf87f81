import Foundation
import HummingbirdCore
public import JourneyCore
import NIOCore
import Synchronization

/// Keeps an HTTP listener within the daemon's file descriptors, and says so when it cannot accept.
///
/// - **A cap.** The listener accepts only while its ``ConnectionBudget`` (the ingest listener shares the
///   daemon's with the event socket) has room: Hummingbird's connection delegate stops reading from the
///   listening socket past it, and clients wait in the listen backlog. When room is made by another
///   listener's connection closing, the guard asks the listening channel to read again.
/// - **A pause after a failed accept** (``AcceptPause``). An `accept(2)` that fails with EMFILE/ENFILE
///   leaves the listener readable, and NIO 2.101's server channel then keeps its read pending and polls it
///   again at once: measured, one core at 100 % and the listener serving nobody (`prlimit --nofile=96`,
///   150 idle clients). The guard takes the listener out of the poll for ``retryAfter`` instead.
///
/// Trouble is told once when it begins and once when it ends: when a connection is accepted with the
/// budget at three quarters or less (so a listener hovering at its cap is not told of at every close).
final class ConnectionGuard: Sendable {
    static let retryAfter = TimeAmount.milliseconds(100)
    /// The listener's name in what is reported (`http`, `admin`).
    let what: String
    let budget: ConnectionBudget
    let report: @Sendable (InputNotice) -> Void

    private struct State {
        var since: UInt64?
        var failures = 0
        /// The listening channel, once it listens; `waiting`: it stopped reading for want of room.
        var server: (any Channel)?
        var waiting = false
    }
    private let state = Mutex(State())

    init(what: String, budget: ConnectionBudget, report: @escaping @Sendable (InputNotice) -> Void) {
        self.what = what
        self.budget = budget
        self.report = report
    }

    /// Hummingbird's connection delegate over this guard.
    var delegate: Delegate { Delegate(connections: self) }

    struct Delegate: AvailableConnectionsDelegate {
        let connections: ConnectionGuard
        mutating func connectionOpened() { connections.opened() }
        mutating func connectionClosed() { connections.budget.closed() }
        func isAcceptingNewConnections() -> Bool { connections.mayAccept() }
    }

    /// The channel listens: room made anywhere in the budget makes it read again.
    func watch(_ server: any Channel) {
        state.withLock { $0.server = server }
        budget.whenRoom { [weak self] in self?.resume() }
    }

    /// A listening channel Hummingbird bound: watched, and ``AcceptPause`` put first in its pipeline.
    func guarding(_ server: any Channel) async {
        watch(server)
        try? await server.pipeline.addHandler(AcceptPause(self), position: .first)
    }

    private func resume() {
        let server = state.withLock { state -> (any Channel)? in
            guard state.waiting else { return nil }
            state.waiting = false
            return state.server
        }
        // Later, on the channel's loop, never inside the call that closed a connection: that may be
        // Hummingbird's connection handler itself, in the middle of telling its delegate (an exclusive
        // access the read would overlap).
        guard let server else { return }
        server.eventLoop.execute { server.read() }
    }

    func opened() {
        budget.opened()
        let now = MonotonicClock.nanoseconds
        let ended = state.withLock { state -> (seconds: Double, failures: Int)? in
            guard let since = state.since, budget.count <= budget.capacity * 3 / 4 else { return nil }
            defer {
                state.since = nil
                state.failures = 0
            }
            return (Double(now - since) / 1e9, state.failures)
        }
        guard let ended else { return }
        let failed = ended.failures > 0 ? ", \(ended.failures) accept(s) failing meanwhile" : ""
        report(.init(.ended, "\(what): accepting connections again, after " + String(format: "%.1f", ended.seconds) + " s at the limit\(failed)"))
    }

    func mayAccept() -> Bool {
        guard !budget.hasRoom else { return true }
        if begin(waiting: true) {
            report(.init(.began,
                budget.isFromDescriptorLimit
                    ? "\(what): \(budget.count) connections, as many as the open files limit (\(budget.descriptorLimit)) leaves room for "
                        + "beside the daemon's own files; more wait in the listen backlog until one closes (raise LimitNOFILE= or `ulimit -n`)"
                    : "\(what): \(budget.count) connections, as many as it holds; more wait in the listen backlog until one closes"))
        }
        return false
    }

    /// An accept failed with `error` (out of descriptors): the listener rests ``retryAfter``.
    func acceptFailed(_ error: IOError) {
        state.withLock { $0.failures += 1 }
        guard begin(waiting: false) else { return }
        let hint =
            error.errnoCode == EMFILE ? " (this process may open \(budget.descriptorLimit) files: raise LimitNOFILE= or `ulimit -n`)" : ""
        report(.init(.began,
            "\(what): cannot accept connections: \(String(cString: strerror(error.errnoCode)))\(hint); they wait in the listen backlog, "
                + "tried again every \(Self.retryAfter.nanoseconds / 1_000_000) ms"))
    }

    /// Marks trouble begun; whether it just began (and is to be told).
    private func begin(waiting: Bool) -> Bool {
        state.withLock { state in
            if waiting { state.waiting = true }
            guard state.since == nil else { return false }
            state.since = MonotonicClock.nanoseconds
            return true
        }
    }
}
