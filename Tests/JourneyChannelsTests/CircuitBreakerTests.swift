import JourneyCore
import Testing

@testable import JourneyChannels

@Suite struct CircuitBreakerTests {
    let t0 = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    @Test func opensAfterConsecutiveFailuresAndProbesWhenTheIntervalEnds() {
        var breaker = CircuitBreaker(.init(failureThreshold: 3, openFor: .seconds(30), maxOpenFor: .minutes(2)))
        for i in 0..<3 {
            #expect(breaker.admit(at: t0) == .allowed)
            breaker.recordFailure(at: t0 + .seconds(Int64(i)))
        }
        #expect(breaker.state == .open(until: t0 + .seconds(32)))
        #expect(breaker.admit(at: t0 + .seconds(10)) == .held(until: t0 + .seconds(32)))
        #expect(breaker.admit(at: t0 + .seconds(32)) == .probe)
        #expect(breaker.admit(at: t0 + .seconds(32)) == .held(until: t0 + .seconds(33)), "one probe at a time")
        breaker.recordFailure(at: t0 + .seconds(33))
        #expect(breaker.state == .open(until: t0 + .seconds(93)), "a failed probe opens it twice as long")
        #expect(breaker.admit(at: t0 + .seconds(93)) == .probe)
        breaker.recordSuccess()
        #expect(breaker.state == .closed(consecutiveFailures: 0))
        #expect(breaker.currentOpenFor == .seconds(30))
    }

    @Test func aSuccessResetsTheCount() {
        var breaker = CircuitBreaker(.init(failureThreshold: 3))
        breaker.recordFailure(at: t0)
        breaker.recordFailure(at: t0)
        breaker.recordSuccess()
        breaker.recordFailure(at: t0)
        breaker.recordFailure(at: t0)
        #expect(breaker.isClosed)
    }

    @Test func theOpenIntervalIsCapped() {
        var breaker = CircuitBreaker(.init(failureThreshold: 1, openFor: .seconds(30), maxOpenFor: .minutes(1)))
        breaker.recordFailure(at: t0)
        var now = t0
        for _ in 0..<5 {
            guard case .open(let until) = breaker.state else { return }
            now = until
            #expect(breaker.admit(at: now) == .probe)
            breaker.recordFailure(at: now)
        }
        #expect(breaker.state == .open(until: now + .minutes(1)))
    }

    @Test func anAbandonedProbeLetsTheNextOneGo() {
        var breaker = CircuitBreaker(.init(failureThreshold: 1, openFor: .seconds(1)))
        breaker.recordFailure(at: t0)
        #expect(breaker.admit(at: t0 + .seconds(1)) == .probe)
        breaker.recordAbandoned()
        #expect(breaker.admit(at: t0 + .seconds(1)) == .probe)
    }
}
