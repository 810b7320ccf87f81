import JourneyCore
import Testing

@testable import JourneyChannels

/// The pipeline's own decisions, with a scripted adapter and a manual clock: no sleeps.
@Suite struct DeliveryPipelineTests {
    let t0 = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    func pipeline(_ adapter: ScriptedAdapter, policy: ChannelPolicy = ChannelPolicy(), clock: ManualClock, maxConcurrency: Int = 64) -> DeliveryPipeline {
        DeliveryPipeline(
            channels: ChannelSet([ConfiguredChannel(name: "test", type: "scripted", adapter: adapter, policy: policy)]), clock: clock,
            maxConcurrency: maxConcurrency)
    }

    func batch(_ count: Int, attempts: Int = 0, first: Timestamp? = nil, expires: Timestamp? = nil) -> [PendingDelivery] {
        (0..<count).map { PendingDelivery(message: sampleMessage("t\($0)"), attempts: attempts, firstAttemptAt: first, expiresAt: expires) }
    }

    @Test(arguments: [false, true]) func deliveredTouchesAreSentInBatchOrder(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches) { message, _ in .sent(providerMessageID: "p-\(message.touch.id)") }
        let reports = await pipeline(adapter, clock: ManualClock(t0)).deliver(batch(3))
        #expect(reports.map(\.decision) == (0..<3).map { .sent(providerMessageID: "p-t\($0)") })
        #expect(reports.map(\.attempts) == [1, 1, 1])
        #expect(reports.allSatisfy { $0.firstAttemptAt == t0 })
    }

    @Test(arguments: [false, true]) func aTransientFailureIsRetriedOnTheSchedule(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches) { _, _ in .retry(after: nil, reason: "HTTP 503 Service Unavailable") }
        let policy = ChannelPolicy()
        let reports = await pipeline(adapter, policy: policy, clock: ManualClock(t0)).deliver(batch(1, attempts: 2, first: t0 - .minutes(1)))
        let expected = t0 + policy.retry.delay(touchID: "t0", attempt: 3)
        #expect(reports[0].decision == .retry(at: expected, reason: "HTTP 503 Service Unavailable"))
        #expect(reports[0].attempts == 3)
        #expect(reports[0].firstAttemptAt == t0 - .minutes(1))
    }

    @Test(arguments: [false, true]) func theLastAttemptDeadLettersWithTheReason(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches) { _, _ in .retry(after: nil, reason: "HTTP 500 Internal Server Error") }
        let policy = ChannelPolicy(retry: RetrySchedule(maxAttempts: 4))
        let reports = await pipeline(adapter, policy: policy, clock: ManualClock(t0)).deliver(batch(1, attempts: 3, first: t0))
        #expect(reports[0].decision == .deadLetter(reason: "gave up after 4 attempts: HTTP 500 Internal Server Error"))
    }

    @Test(arguments: [false, true]) func aPermanentFailureDeadLettersAtOnce(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches) { _, _ in .deadLetter(reason: "HTTP 400 Bad Request") }
        let reports = await pipeline(adapter, clock: ManualClock(t0)).deliver(batch(1))
        #expect(reports[0].decision == .deadLetter(reason: "HTTP 400 Bad Request"))
    }

    @Test func aDisabledChannelStopsAllItsDeliveries() async {
        let adapter = ScriptedAdapter { _, _ in .disable(reason: "HTTP 410 Gone") }
        let clock = ManualClock(t0)
        let p = pipeline(adapter, policy: ChannelPolicy(concurrency: 1), clock: clock)
        let reports = await p.deliver(batch(3))
        #expect(reports.map(\.decision) == Array(repeating: .channelDisabled(reason: "HTTP 410 Gone"), count: 3))
        #expect(adapter.calls == ["t0"], "after the 410 nothing else is sent")
        #expect(reports.map(\.attempts) == [0, 0, 0])
        clock.advance(by: .hours(1))
        #expect(await p.deliver(batch(1)).map(\.decision) == [.channelDisabled(reason: "HTTP 410 Gone")])
        #expect(adapter.calls.count == 1)
        await p.enable("test")
        adapter.script { _, _ in .sent(providerMessageID: nil) }
        #expect(await p.deliver(batch(1)).map(\.decision) == [.sent(providerMessageID: nil)])
    }

    @Test func aThrottledChannelHoldsEverythingWithoutCountingAttempts() async {
        let adapter = ScriptedAdapter { _, call in call == 1 ? .throttle(for: .seconds(90), reason: "HTTP 429 Too Many Requests") : .sent(providerMessageID: nil) }
        let clock = ManualClock(t0)
        let p = pipeline(adapter, policy: ChannelPolicy(concurrency: 1), clock: clock)
        let reports = await p.deliver(batch(3, attempts: 1, first: t0))
        #expect(reports.allSatisfy { $0.decision == .held(until: t0 + .seconds(90), reason: "throttled by the destination: HTTP 429 Too Many Requests") })
        #expect(reports.map(\.attempts) == [1, 1, 1])
        clock.advance(by: .seconds(90))
        #expect(await p.deliver(batch(3)).allSatisfy { $0.decision == .sent(providerMessageID: nil) })
    }

    @Test(arguments: [false, true]) func aThrottleWithoutADurationUsesTheChannelDefault(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches) { _, _ in .throttle(for: nil, reason: "Feishu errcode 11232") }
        let reports = await pipeline(adapter, policy: ChannelPolicy(throttleDefault: .seconds(45)), clock: ManualClock(t0)).deliver(batch(1))
        #expect(reports[0].decision == .held(until: t0 + .seconds(45), reason: "throttled by the destination: Feishu errcode 11232"))
    }

    @Test(arguments: [false, true]) func theRateLimitHoldsWhatExceedsIt(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches)
        let clock = ManualClock(t0)
        let p = pipeline(adapter, policy: ChannelPolicy(rateLimits: [RateLimit(count: 20, per: .minutes(1))]), clock: clock)
        let reports = await p.deliver(batch(25))
        #expect(reports.prefix(20).allSatisfy { $0.decision == .sent(providerMessageID: nil) })
        #expect(reports.suffix(5).allSatisfy { $0.decision == .held(until: t0 + .minutes(1), reason: "rate limit 20/1m") })
        #expect(reports.suffix(5).allSatisfy { $0.attempts == 0 })
        #expect(adapter.calls.count == 20)
        clock.advance(by: .minutes(1))
        #expect(await p.deliver(batch(5)).allSatisfy { $0.decision == .sent(providerMessageID: nil) })
    }

    @Test func theBreakerOpensAfterConsecutiveFailuresAndProbes() async {
        let adapter = ScriptedAdapter { _, _ in .retry(after: nil, reason: "connection refused") }
        let clock = ManualClock(t0)
        let policy = ChannelPolicy(breaker: .init(failureThreshold: 3, openFor: .seconds(30)), concurrency: 1)
        let p = pipeline(adapter, policy: policy, clock: clock)
        let reports = await p.deliver(batch(5))
        #expect(reports.prefix(3).allSatisfy { if case .retry = $0.decision { true } else { false } })
        #expect(reports.suffix(2).allSatisfy { $0.decision == .held(until: t0 + .seconds(30), reason: "circuit open after 3 consecutive failures") })
        #expect(adapter.calls.count == 3)

        clock.advance(by: .seconds(30))
        adapter.script { _, _ in .sent(providerMessageID: nil) }
        let probe = await p.deliver(batch(2))
        #expect(probe.map(\.decision) == [.sent(providerMessageID: nil), .sent(providerMessageID: nil)], "the probe succeeded and closed it")
        #expect(await p.status(of: "test")?.breaker == .closed(consecutiveFailures: 0))
    }

    @Test(arguments: [false, true]) func expiredTouchesAreDeadLetteredNeverSentLate(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches)
        let reports = await pipeline(adapter, clock: ManualClock(t0)).deliver(batch(1, expires: t0 - .seconds(1)))
        #expect(reports[0].decision == .deadLetter(reason: "expired: it had to go by 2025-01-06T09:59:59.000Z"))
        #expect(adapter.calls.isEmpty)
    }

    @Test(arguments: [false, true]) func aRetryThatWouldLandAfterExpiryDeadLettersNow(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches) { _, _ in .retry(after: .hours(2), reason: "HTTP 503 Service Unavailable") }
        let reports = await pipeline(adapter, clock: ManualClock(t0)).deliver(batch(1, expires: t0 + .hours(1)))
        #expect(reports[0].decision == .deadLetter(reason: "expired: the next attempt would be after 2025-01-06T11:00:00.000Z; last failure: HTTP 503 Service Unavailable"))
    }

    @Test(arguments: [false, true]) func aRateLimitSlotAfterExpiryDeadLettersNow(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches)
        let p = pipeline(adapter, policy: ChannelPolicy(rateLimits: [RateLimit(count: 1, per: .hours(1))]), clock: ManualClock(t0))
        let reports = await p.deliver(batch(1) + [PendingDelivery(message: sampleMessage("late"), expiresAt: t0 + .minutes(5))])
        #expect(reports[0].decision == .sent(providerMessageID: nil))
        guard case .deadLetter(let reason) = reports[1].decision else {
            Issue.record("expected a dead letter, got \(reports[1].decision)")
            return
        }
        #expect(reason.hasPrefix("expired: the rate limit (1/1h) frees a slot only after"))
    }

    @Test func concurrencyIsBoundedPerChannelAndOverall() async {
        let adapter = ScriptedAdapter { _, _ in
            await Task.yield()
            return .sent(providerMessageID: nil)
        }
        _ = await pipeline(adapter, policy: ChannelPolicy(concurrency: 3), clock: ManualClock(t0)).deliver(batch(50))
        #expect(adapter.maxInFlight <= 3)
        let overall = ScriptedAdapter { _, _ in
            await Task.yield()
            return .sent(providerMessageID: nil)
        }
        _ = await pipeline(overall, policy: ChannelPolicy(concurrency: 100), clock: ManualClock(t0), maxConcurrency: 2).deliver(batch(50))
        #expect(overall.maxInFlight <= 2)
    }

    @Test(arguments: [false, true]) func touchesForUnknownChannelsAreReportedNotDropped(batches: Bool) async {
        let adapter = ScriptedAdapter(batches: batches)
        let reports = await pipeline(adapter, clock: ManualClock(t0)).deliver([PendingDelivery(message: sampleMessage(channel: "nowhere"))])
        #expect(reports[0].decision == .channelDisabled(reason: #"no channel named "nowhere""#))
    }

    @Test func aChannelThatTakesBatchesGetsEveryTouchThatMayGoInOneCall() async {
        let adapter = ScriptedAdapter(batches: true) { message, _ in message.touch.id == "t3" ? .deadLetter(reason: "HTTP 400 Bad Request") : .sent(providerMessageID: nil) }
        let clock = ManualClock(t0)
        let p = pipeline(adapter, policy: ChannelPolicy(rateLimits: [RateLimit(count: 20, per: .minutes(1))], concurrency: 1), clock: clock)
        let expired = PendingDelivery(message: sampleMessage("old"), expiresAt: t0 - .seconds(1))
        let reports = await p.deliver([expired] + batch(25))
        #expect(adapter.batchCalls == [(0..<20).map { "t\($0)" }], "one call, past the channel's concurrency of 1; not the expired touch, nor what the rate limit holds")
        #expect(reports[0].decision == .deadLetter(reason: "expired: it had to go by 2025-01-06T09:59:59.000Z"))
        #expect(reports[4].decision == .deadLetter(reason: "HTTP 400 Bad Request"), "each touch has its own outcome")
        #expect(reports[1...20].filter { $0.decision == .sent(providerMessageID: nil) }.count == 19)
        #expect(reports[21...].allSatisfy { $0.decision == .held(until: t0 + .minutes(1), reason: "rate limit 20/1m") && $0.attempts == 0 })
        #expect(await p.status(of: "test")?.inFlight == 0)
    }

    @Test func aChannelThatTakesBatchesGoesOneAtATimeWhileItsBreakerProbes() async {
        let adapter = ScriptedAdapter(batches: true) { _, _ in .retry(after: nil, reason: "connection refused") }
        let clock = ManualClock(t0)
        let p = pipeline(adapter, policy: ChannelPolicy(breaker: .init(failureThreshold: 3, openFor: .seconds(30)), concurrency: 1), clock: clock)
        let failed = await p.deliver(batch(4))
        #expect(adapter.batchCalls.count == 1 && failed.allSatisfy { if case .retry = $0.decision { true } else { false } })
        #expect(await p.deliver(batch(2)).allSatisfy { $0.decision == .held(until: t0 + .seconds(30), reason: "circuit open after 3 consecutive failures") })

        clock.advance(by: .seconds(30))
        adapter.script { _, _ in .sent(providerMessageID: nil) }
        let probed = await p.deliver(batch(3))
        #expect(probed.allSatisfy { $0.decision == .sent(providerMessageID: nil) })
        #expect(adapter.batchCalls.count == 1, "half-open: the probe went alone, then the rest one at a time")
        #expect(adapter.calls.count == 7)
        #expect(await p.deliver(batch(3)).allSatisfy { $0.decision == .sent(providerMessageID: nil) })
        #expect(adapter.batchCalls.count == 2, "closed again: a batch in one call")
    }

    @Test func cancellingTheBatchInterruptsWhatIsInFlightAndHoldsTheRest() async {
        let started = AsyncStream<Void>.makeStream()
        let adapter = ScriptedAdapter { _, _ in
            started.continuation.yield()
            try? await Task.sleep(for: .seconds(600))
            return .retry(after: nil, reason: "cancelled")
        }
        let p = pipeline(adapter, policy: ChannelPolicy(concurrency: 1), clock: ManualClock(t0))
        let batch = batch(3)
        let task = Task { await p.deliver(batch) }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        task.cancel()
        let reports = await task.value
        #expect(reports[0].decision == .interrupted)
        #expect(reports[1...].allSatisfy { $0.decision == .held(until: t0, reason: "not attempted: delivery was shutting down") })
    }
}
