import JourneyCore
import Testing

@testable import JourneyChannels

@Suite struct RateLimiterTests {
    let t0 = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    @Test func aHardLimitLetsCountThroughThenHoldsUntilTheOldestLeavesTheWindow() {
        var limiter = RateLimiter([RateLimit(count: 20, per: .minutes(1))])
        for i in 0..<20 { #expect(limiter.acquire(at: t0 + .seconds(Int64(i))) == nil) }
        #expect(limiter.acquire(at: t0 + .seconds(30)) == t0 + .minutes(1))
        #expect(limiter.acquire(at: t0 + .minutes(1)) == nil)
        #expect(limiter.acquire(at: t0 + .minutes(1)) == t0 + .minutes(1) + .seconds(1))
    }

    /// DingTalk locks a robot for 10 minutes when it gets more than 20 in a minute: whatever the arrival
    /// pattern, no 60-second window may hold more than 20 sends.
    @Test func aHardLimitNeverAllowsMoreThanCountInAnyWindow() {
        var random = SplitMix(seed: 99)
        var limiter = RateLimiter([RateLimit(count: 20, per: .minutes(1))])
        var sent: [Timestamp] = []
        var now = t0
        for _ in 0..<5000 {
            now = now + .milliseconds(Int64(random.next() % 4000))
            if limiter.acquire(at: now) == nil { sent.append(now) }
        }
        for (i, start) in sent.enumerated() {
            let inWindow = sent[i...].prefix { $0 < start + .minutes(1) }.count
            #expect(inWindow <= 20)
        }
        #expect(sent.count > 1000)
    }

    @Test func aTokenBucketAllowsItsBurstThenTheSteadyRate() {
        var limiter = RateLimiter([RateLimit(count: 1, per: .seconds(1), burst: 3)])
        for _ in 0..<3 { #expect(limiter.acquire(at: t0) == nil) }
        #expect(limiter.acquire(at: t0) == t0 + .seconds(1))
        #expect(limiter.acquire(at: t0 + .milliseconds(500)) == t0 + .seconds(1))
        #expect(limiter.acquire(at: t0 + .seconds(1)) == nil)
        #expect(limiter.acquire(at: t0 + .seconds(10)) == nil)
        #expect(limiter.acquire(at: t0 + .seconds(10)) == nil)
        #expect(limiter.acquire(at: t0 + .seconds(10)) == nil)
        #expect(limiter.acquire(at: t0 + .seconds(10)) == t0 + .seconds(11))
    }

    @Test func severalLimitsAllHaveToAllow() {
        // Feishu: 5 per second and 100 per minute.
        var limiter = RateLimiter([RateLimit(count: 5, per: .seconds(1)), RateLimit(count: 100, per: .minutes(1))])
        var sent = 0
        var now = t0
        while now < t0 + .minutes(1) {
            if limiter.acquire(at: now) == nil { sent += 1 }
            now = now + .milliseconds(50)
        }
        #expect(sent == 100)
        #expect(limiter.nextFree(at: now - .milliseconds(50)) != nil)
    }
}
