import Foundation
import Synchronization

/// The one notion of "now" that the daemon, the delivery pipeline and the tests share.
///
/// The engine itself never reads a clock: it is handed `now` (DESIGN §5). Whoever drives it reads one of
/// these: ``WallClock`` in a running daemon, an ``EventClock`` when time is the events' own time
/// (`journeyd run --clock event`, back-fills), a ``ManualClock`` in tests that move time by hand.
public protocol JourneyClock: Sendable {
    var now: Timestamp { get }
    /// How due timers fire on this clock: at their own due time when time is simulated (every timer
    /// fires exactly when due, in order, as in `replay`), at `now` on the wall clock (possibly late,
    /// where the journey's `late` policy applies).
    var timerMode: TimerMode { get }
}

/// How a clock fires due timers (see ``JourneyClock/timerMode``).
public enum TimerMode: Sendable {
    /// Each timer fires at its own due time: the clock moves through simulated time.
    case simulated
    /// Timers fire at the current time, possibly late (after downtime, a busy loop, a clock jump).
    case wallClock
}

/// The system's real-time clock, to the millisecond.
public struct WallClock: JourneyClock {
    public init() {}
    public var now: Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
    public var timerMode: TimerMode { .wallClock }
}

/// A clock that moves only when told to — forward only. Tests move it by hand; the event clock moves it
/// to each event's time.
public final class ManualClock: JourneyClock {
    private let time: Mutex<Timestamp>
    public let timerMode: TimerMode

    public init(_ start: Timestamp, timerMode: TimerMode = .simulated) {
        time = Mutex(start)
        self.timerMode = timerMode
    }

    public var now: Timestamp { time.withLock { $0 } }

    /// Sets the time (tests may move it anywhere).
    public func set(_ t: Timestamp) { time.withLock { $0 = t } }

    /// Moves the time forward to `t`; an earlier `t` leaves it where it is. Returns the time after.
    @discardableResult
    public func advance(to t: Timestamp) -> Timestamp {
        time.withLock { now in
            if t > now { now = t }
            return now
        }
    }

    public func advance(by span: TimeSpan) { time.withLock { $0 = $0 + span } }
}

/// Event time: `journeyd run --clock event` and back-fills. Now is the latest event time seen; timers
/// fire as event time passes them, each at its own due time — exactly as in `replay`.
public typealias EventClock = ManualClock

/// The monotonic clock, for timeouts and intervals: unaffected when the wall clock is stepped (NTP, a VM
/// resume). Due times are wall-clock instants; how long to wait is measured here.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary start (boot).
    public static var nanoseconds: UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
