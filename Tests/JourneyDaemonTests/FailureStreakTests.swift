import Testing

@testable import JourneyDaemon

struct FailureStreakTests {
    private let second: UInt64 = 1_000_000_000

    /// An outage of a minute and a half, an attempt every half second: the first failure, a reminder
    /// every 30 s with the attempts so far, and the recovery — four records for 180 attempts.
    @Test func aLongOutageIsAFewRecords() {
        var streak = FailureStreak(every: .seconds(30))
        var records: [(at: UInt64, FailureStreak.Record)] = []
        let start: UInt64 = 1_000 * second
        for attempt in 0..<180 {
            let now = start + UInt64(attempt) * second / 2
            if let record = streak.failed(now: now) { records.append((now, record)) }
        }
        #expect(streak.failing)
        if let record = streak.succeeded(now: start + 90 * second) { records.append((start + 90 * second, record)) }
        #expect(records.map(\.1) == [.first, .still(failures: 61, seconds: 30), .still(failures: 121, seconds: 60), .recovered(failures: 180, seconds: 90)])
        #expect(!streak.failing)
    }

    /// Success without a streak says nothing; a new streak after a recovery starts from one again.
    @Test func eachStreakIsToldFromItsStart() {
        var streak = FailureStreak(every: .seconds(30))
        #expect(streak.succeeded(now: 5 * second) == nil)
        #expect(streak.failed(now: 10 * second) == .first)
        #expect(streak.failed(now: 11 * second) == nil)
        #expect(streak.succeeded(now: 12 * second) == .recovered(failures: 2, seconds: 2))
        #expect(streak.failed(now: 100 * second) == .first)
        #expect(streak.failed(now: 131 * second) == .still(failures: 2, seconds: 31))
    }

    /// Attempts side by side: one that began before the streak and succeeds during it ends nothing.
    @Test func anAttemptOlderThanTheStreakDoesNotEndIt() {
        var streak = FailureStreak(every: .seconds(30))
        #expect(streak.failed(now: 10 * second) == .first)
        #expect(streak.succeeded(now: 11 * second, attemptStarted: 9 * second) == nil)
        #expect(streak.failing)
        #expect(streak.succeeded(now: 12 * second, attemptStarted: 11 * second) == .recovered(failures: 1, seconds: 2))
    }
}
