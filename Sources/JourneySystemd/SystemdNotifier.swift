import CSystemd
import Glibc
import Synchronization

/// Tells systemd what the service is doing, through `sd_notify(3)`: a datagram of `KEY=value` lines to
/// the socket named by `$NOTIFY_SOCKET`. Without that variable (a terminal, a test) every call does
/// nothing and returns false.
///
/// Messages go out from the caller's thread. ``watchdog()`` in particular is meant to be called from the
/// processing loop on every turn: it sends `WATCHDOG=1` at most every half of the interval systemd asked
/// for (`WatchdogSec=`, read once through `sd_watchdog_enabled(3)`), so a loop that stops turning stops
/// the pings and systemd kills the service with `Result=watchdog`.
///
/// - Important: the unit must keep `AF_UNIX` in `RestrictAddressFamilies=`, or every send fails.
public final class SystemdNotifier: Sendable {
    /// Whether `$NOTIFY_SOCKET` was set when the notifier was made.
    public let isEnabled: Bool
    /// The watchdog interval systemd expects pings within, in microseconds; nil when the watchdog is off
    /// (or meant for another process: `$WATCHDOG_PID` is checked).
    public let watchdogInterval: UInt64?
    private let lastPing = Mutex<UInt64?>(nil)

    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` (and leaves them set).
    public convenience init() {
        var interval: UInt64 = 0
        self.init(
            isEnabled: getenv("NOTIFY_SOCKET") != nil,
            watchdogInterval: sd_watchdog_enabled(0, &interval) > 0 && interval > 0 ? interval : nil
        )
    }

    init(isEnabled: Bool, watchdogInterval: UInt64?) {
        self.isEnabled = isEnabled
        self.watchdogInterval = watchdogInterval
    }

    /// Sends `fields` (`KEY=value`, one per line) as one datagram. Returns whether systemd was told.
    @discardableResult
    public func send(_ fields: [String]) -> Bool {
        guard isEnabled else { return false }
        return sd_notify(0, fields.joined(separator: "\n")) > 0
    }

    /// `READY=1`: start-up is complete, or a reload has ended (with its outcome in `STATUS=`).
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send(["READY=1"] + (status.map { ["STATUS=" + Self.singleLine($0)] } ?? []))
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (required by `Type=notify-reload` on systemd 257 and later;
    /// 252 shows `reloading` until the next `READY=1`).
    @discardableResult
    public func reloading(status: String? = nil) -> Bool {
        send(
            ["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"]
                + (status.map { ["STATUS=" + Self.singleLine($0)] } ?? [])
        )
    }

    /// `STOPPING=1`: a graceful shutdown has begun.
    @discardableResult
    public func stopping(status: String? = nil) -> Bool {
        send(["STOPPING=1"] + (status.map { ["STATUS=" + Self.singleLine($0)] } ?? []))
    }

    /// `STATUS=`: one line of live figures for `systemctl status` (line breaks become spaces).
    @discardableResult
    public func status(_ text: String) -> Bool {
        send(["STATUS=" + Self.singleLine(text)])
    }

    /// `EXTEND_TIMEOUT_USEC=`: the current start-up, reload or shutdown needs this much longer, counted
    /// from now. Must arrive before the running timeout expires.
    @discardableResult
    public func extendTimeout(microseconds: UInt64) -> Bool {
        send(["EXTEND_TIMEOUT_USEC=\(microseconds)"])
    }

    /// `WATCHDOG=1`, when half the watchdog interval has passed since the last ping (or on the first
    /// call). Returns whether a ping went out. Call it from the loop whose progress it vouches for.
    @discardableResult
    public func watchdog(now: UInt64 = SystemdNotifier.monotonicMicroseconds()) -> Bool {
        guard isEnabled, watchdogPingIsDue(now: now) else { return false }
        return send(["WATCHDOG=1"])
    }

    /// Whether a ping is due at `now`; claims it (the next is due half an interval later) when it is.
    func watchdogPingIsDue(now: UInt64) -> Bool {
        guard let interval = watchdogInterval else { return false }
        return lastPing.withLock { last in
            if let previous = last, now &- previous < interval / 2 { return false }
            last = now
            return true
        }
    }

    /// CLOCK_MONOTONIC in microseconds, the clock `MONOTONIC_USEC=` and the watchdog use.
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    /// `STATUS=` is a single line of UTF-8 (`sd_notify(3)`).
    static func singleLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
