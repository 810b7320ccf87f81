/// How the daemon tells its supervisor what it is doing — systemd's notify protocol when run as a
/// `Type=notify` service, nothing when run from a terminal. The daemon calls these from its processing
/// loop, so a supervisor that watches ``alive()`` sees the loop itself make progress.
public protocol ServiceManager: AnyObject, Sendable {
    /// Rules are loaded, the store is open and the inputs are bound: the daemon serves (`READY=1`).
    func ready(status: String)
    /// A reload begins (`RELOADING=1` with `MONOTONIC_USEC`).
    func reloading()
    /// A reload ended, live or refused; the daemon serves again (`READY=1`).
    func reloaded(status: String)
    /// Live figures for `systemctl status` (`STATUS=`).
    func status(_ text: String)
    /// Called by the processing loop on every turn; an implementation forwards it at most at half the
    /// watchdog interval (`WATCHDOG=1`). A stuck loop stops calling it, and the supervisor kills it.
    func alive()
    /// Start-up or shutdown work will take longer than the supervisor's timeout (`EXTEND_TIMEOUT_USEC`).
    func extendTimeout(microseconds: UInt64)
    /// The daemon is shutting down (`STOPPING=1`).
    func stopping()
    /// The watchdog interval the supervisor expects pings within (microseconds), nil when it has none:
    /// the processing loop turns at least four times per interval, idle or not.
    var watchdogInterval: UInt64? { get }
    /// Listening sockets handed over by the supervisor (socket activation), by name; each descriptor is
    /// taken at most once. Nil when the supervisor passed none under that name.
    func takeListeningSocket(named name: String) -> Int32?
}

/// No supervisor: a daemon started from a terminal or a test.
public final class NoServiceManager: ServiceManager, @unchecked Sendable {
    public init() {}
    public func ready(status: String) {}
    public func reloading() {}
    public func reloaded(status: String) {}
    public func status(_ text: String) {}
    public func alive() {}
    public func extendTimeout(microseconds: UInt64) {}
    public func stopping() {}
    public var watchdogInterval: UInt64? { nil }
    public func takeListeningSocket(named name: String) -> Int32? { nil }
}
