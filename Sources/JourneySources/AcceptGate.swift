import Foundation
import Glibc
import JourneyCore

/// When the event socket takes no more connections for a while, and what it says about it.
///
/// The source holds connections only while the daemon's ``ConnectionBudget`` (shared with the HTTP
/// input) has room; past that it leaves the listener out of its poll, and further producers wait in the
/// listen backlog until a connection closes. An `accept(2)` that fails anyway (out of descriptors after
/// all) pauses the listener for ``retryAfter``: it stays readable, and polling it again at once would
/// spin a core while serving nobody. The trouble is told once when it starts and once when every
/// waiting connection has been accepted.
struct AcceptGate {
    static let retryAfter: UInt64 = 100_000_000  // ns
    let budget: ConnectionBudget
    private var until: UInt64 = 0
    private var since: UInt64?
    private var failures = 0

    init(budget: ConnectionBudget) {
        self.budget = budget
    }

    /// Whether the listener may be polled and accepted from.
    var isOpen: Bool { budget.hasRoom && MonotonicClock.nanoseconds >= until }

    /// How long the poll may wait: at most `milliseconds`, and no longer than a pause lasts.
    func pollTimeout(_ milliseconds: Int32) -> Int32 {
        let now = MonotonicClock.nanoseconds
        guard now < until else { return milliseconds }
        return min(milliseconds, Int32((until - now) / 1_000_000) + 1)
    }

    /// The budget is spent, `clients` of its connections this source's: the message to report if the
    /// trouble just began.
    mutating func full(clients: Int) -> String? {
        let held = budget.count
        return begin(
            "event socket: \(held) connections\(held == clients ? "" : " (\(clients) of them here, the rest HTTP's)"), as many as the open files limit "
                + "(\(budget.descriptorLimit)) leaves room for beside the daemon's own files; more wait in the listen backlog "
                + "until one closes (raise LimitNOFILE= or `ulimit -n`)")
    }

    /// An `accept` failed with `errno`: pause; the message to report if the trouble just began.
    mutating func failed(errno error: Int32) -> String? {
        until = MonotonicClock.nanoseconds + Self.retryAfter
        failures += 1
        let hint = error == EMFILE ? " (this process may open \(budget.descriptorLimit) files: raise LimitNOFILE= or `ulimit -n`)" : ""
        return begin(
            "event socket: cannot accept connections: \(String(cString: strerror(error)))\(hint); they wait in the listen backlog, "
                + "tried again every \(Self.retryAfter / 1_000_000) ms")
    }

    private mutating func begin(_ message: String) -> String? {
        guard since == nil else { return nil }
        since = MonotonicClock.nanoseconds
        return message
    }

    /// Nothing is waiting to be accepted: the message to report if that ends a time of trouble.
    mutating func drained() -> String? {
        guard let started = since else { return nil }
        defer {
            since = nil
            failures = 0
        }
        let seconds = Double(MonotonicClock.nanoseconds - started) / 1e9
        let failed = failures > 0 ? ", \(failures) attempt(s) failing meanwhile" : ""
        return "event socket: every waiting connection accepted, after " + String(format: "%.1f", seconds) + " s at the limit\(failed)"
    }
}
