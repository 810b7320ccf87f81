import JourneyCore
import Synchronization
import Testing

@testable import JourneyChannels

/// The delivery fence (cluster mode: the partition's lease) is asked right before each attempt: a closed
/// fence sends nothing, and a fence that closes in the middle of a batch stops the rest of it. What it
/// refuses is reported held, not attempted — attempts and the first attempt's time unchanged.
@Suite struct DeliveryFenceTests {
    let t0 = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    func pipeline(_ adapter: ScriptedAdapter, concurrency: Int = 8) -> DeliveryPipeline {
        DeliveryPipeline(
            channels: ChannelSet([ConfiguredChannel(name: "test", type: "scripted", adapter: adapter, policy: ChannelPolicy(concurrency: concurrency))]),
            clock: ManualClock(t0))
    }

    func batch(_ count: Int) -> [PendingDelivery] {
        (0..<count).map { PendingDelivery(message: sampleMessage("t\($0)"), attempts: 2, firstAttemptAt: t0 - .minutes(5)) }
    }

    @Test func aClosedFenceSendsNothingAndHoldsEveryTouchUnattempted() async {
        let adapter = ScriptedAdapter()
        let fence = DeliveryFence(reason: "the lease of partition 3 (token 7) lapsed") { false }
        let reports = await pipeline(adapter).deliver(batch(4), fence: fence)
        #expect(adapter.calls.isEmpty)
        #expect(reports.map(\.decision) == Array(repeating: .held(until: t0, reason: "not attempted: the lease of partition 3 (token 7) lapsed"), count: 4))
        #expect(reports.map(\.attempts) == [2, 2, 2, 2])
        #expect(reports.allSatisfy { $0.firstAttemptAt == t0 - .minutes(5) })
    }

    @Test func aFenceClosingMidBatchStopsTheRest() async {
        let lease = Lease()
        let fence = DeliveryFence(reason: "lapsed") { lease.held.load(ordering: .relaxed) }
        // One at a time: the first delivery closes the fence (the lease lapses while it is in flight).
        let adapter = ScriptedAdapter { _, _ in
            lease.held.store(false, ordering: .relaxed)
            return .sent(providerMessageID: nil)
        }
        let reports = await pipeline(adapter, concurrency: 1).deliver(batch(3), fence: fence)
        #expect(adapter.calls == ["t0"])
        #expect(reports[0].decision == .sent(providerMessageID: nil) && reports[0].attempts == 3)
        #expect(reports[1...].allSatisfy { $0.decision == .held(until: t0, reason: "not attempted: lapsed") && $0.attempts == 2 })
    }

    @Test func anOpenFenceChangesNothing() async {
        let adapter = ScriptedAdapter()
        let reports = await pipeline(adapter).deliver(batch(3), fence: DeliveryFence(reason: "never") { true })
        #expect(adapter.calls.sorted() == ["t0", "t1", "t2"])
        #expect(reports.allSatisfy { $0.decision == .sent(providerMessageID: nil) && $0.attempts == 3 })
    }
}

private final class Lease: Sendable {
    let held = Atomic<Bool>(true)
}
