import Foundation
import Glibc
import JourneyCore

/// When the event socket takes no more connections for a while, and what it says about it.
///
/// Every connection costs the daemon a file descriptor, and so do its own files (log segments, the
/// database, channel files, the spool directory it reads): producers must not take the last one, or
/// the daemon's next checkpoint fails for want of one. So the source holds at most ``maxClients`` —
/// the open files limit less a reserve for everything else — and past that leaves the listener out of
/// its poll; further producers wait in the listen backlog until one closes. An `accept(2)` that fails
/// anyway (out of descriptors after all) pauses the listener for ``retryAfter``: it stays readable, and
/// polling it again at once would spin a core while serving nobody. The trouble is told once when it
/// starts and once when every waiting connection has been accepted.
struct AcceptGate {
    static let retryAfter: UInt64 = 100_000_000  // ns
    /// Connections held at most.
    let maxClients: Int
    let descriptorLimit: Int
    private var until: UInt64 = 0
    private var since: UInt64?
    private var failures = 0

    /// `descriptorLimit`: this process's open files limit (`RLIMIT_NOFILE`), read when nil.
    init(descriptorLimit: Int? = nil) {
        let limit = descriptorLimit ?? Self.openFilesLimit()
        self.descriptorLimit = limit
        // Half of a small limit, 256 of a large one: the daemon's own files are a few dozen, and its
        // channels' HTTP connection pools can hold as many again.
        maxClients = max(1, limit - min(256, limit / 2))
    }

    static func openFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 1 << 20 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Whether the listener may be polled and accepted from, holding `clients` connections.
    func isOpen(clients: Int) -> Bool { clients < maxClients && MonotonicClock.nanoseconds >= until }

    /// How long the poll may wait: at most `milliseconds`, and no longer than a pause lasts.
    func pollTimeout(_ milliseconds: Int32) -> Int32 {
        let now = MonotonicClock.nanoseconds
        guard now < until else { return milliseconds }
        return min(milliseconds, Int32((until - now) / 1_000_000) + 1)
    }

    /// `clients` connections reached the cap: the message to report if the trouble just began.
    mutating func full(clients: Int) -> String? {
        begin(
            "event socket: \(clients) connections, as many as the open files limit (\(descriptorLimit)) leaves room for beside "
                + "the daemon's own files; more wait in the listen backlog until one closes (raise LimitNOFILE= or `ulimit -n`)")
    }

    /// An `accept` failed with `errno`: pause; the message to report if the trouble just began.
    mutating func failed(errno error: Int32) -> String? {
        until = MonotonicClock.nanoseconds + Self.retryAfter
        failures += 1
        let hint = error == EMFILE ? " (this process may open \(descriptorLimit) files: raise LimitNOFILE= or `ulimit -n`)" : ""
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
