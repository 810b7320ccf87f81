import JourneyCore
import Testing

@testable import JourneyChannels

@Suite struct RetryScheduleTests {
    let schedule = RetrySchedule(initial: .seconds(10), multiplier: 2, maxDelay: .hours(1), jitter: 0.2, maxAttempts: 10, maxAge: .hours(24))
    let t0 = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    @Test func delaysGrowExponentiallyWithinTheirJitterBandUpToTheCap() {
        for attempt in 1...12 {
            let raw = min(10_000.0 * Double(1 << (attempt - 1)), 3_600_000)
            for id in ["a", "b", "c", "0123456789abcdef"] {
                let ms = Double(schedule.delay(touchID: id, attempt: attempt).milliseconds)
                #expect(ms >= raw * 0.8 - 1 && ms <= raw, "attempt \(attempt) of \(id): \(ms) ms")
            }
        }
    }

    @Test func theSameTouchAndAttemptAlwaysGetTheSameDelay() {
        #expect(schedule.delay(touchID: "t1", attempt: 3) == schedule.delay(touchID: "t1", attempt: 3))
        let spread = Set((0..<50).map { schedule.delay(touchID: "touch-\($0)", attempt: 3) })
        #expect(spread.count > 40, "touches that failed together spread out")
    }

    @Test func retryAfterIsHonouredWhenLonger() {
        let short = schedule.next(touchID: "t", attempt: 1, now: t0, firstAttempt: t0, retryAfter: .seconds(1), reason: "x")
        #expect(short == .retry(at: t0 + schedule.delay(touchID: "t", attempt: 1)))
        let long = schedule.next(touchID: "t", attempt: 1, now: t0, firstAttempt: t0, retryAfter: .minutes(5), reason: "x")
        #expect(long == .retry(at: t0 + .minutes(5)))
    }

    @Test func theLastAttemptGivesUpWithTheReason() {
        let next = schedule.next(touchID: "t", attempt: 10, now: t0, firstAttempt: t0, retryAfter: nil, reason: "HTTP 500 Internal Server Error")
        #expect(next == .giveUp(reason: "gave up after 10 attempts: HTTP 500 Internal Server Error"))
    }

    @Test func anAttemptPastTheMaximumAgeGivesUp() {
        let now = t0 + .hours(23) + .minutes(59) + .seconds(55)
        guard case .giveUp(let reason) = schedule.next(touchID: "t", attempt: 3, now: now, firstAttempt: t0, retryAfter: nil, reason: "timed out") else {
            Issue.record("expected to give up")
            return
        }
        #expect(reason.contains("max age 1d") && reason.hasSuffix(": timed out"))
    }
}
