import JourneyCore
import Synchronization

/// The wall clock with an offset a test can step (`JOURNEYD_FAULT_INJECTION=1`, control request
/// `clock +1d` / `clock -1h`): how the clock-jump tests make NTP step the clock under the real binary
/// without changing the machine's time. Otherwise exactly ``WallClock``.
final class SteppableClock: JourneyClock {
    private let offset = Atomic<Int64>(0)
    private let wall = WallClock()

    var now: Timestamp { wall.now + TimeSpan(milliseconds: offset.load(ordering: .relaxed)) }
    var timerMode: TimerMode { .wallClock }

    /// Steps the clock by `span` (negative: back).
    func step(by span: TimeSpan) { offset.add(span.milliseconds, ordering: .relaxed) }
}
