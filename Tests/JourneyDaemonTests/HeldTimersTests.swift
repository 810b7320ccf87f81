import Foundation
import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyLog
import Testing

@testable import JourneyDaemon

/// Cluster mode: a user who waits for another partition's hand-over has its events held — and its timers
/// too. A timer that comes due while the user waits does not fire then: it waits with the held events, and
/// the answer releases events and timers in the order of their times, as one partition applies them. So a
/// cart reminder due while the purchase before it is held does not reach the buyer; one due before a held
/// purchase still goes out before it.
///
/// Each scenario runs twice over the same events and ticks: on a partition of a cluster (the sign-up merges
/// `anon-0`, whose state is in partition 1) and on one embedded partition, which needs no hand-over. Both
/// must send the same touches.
@Suite("Timers of a user waiting for a hand-over")
struct HeldTimersTests {
    static let t0 = OwnRecordOrderTests.t0

    final class Requests: @unchecked Sendable {
        var ids: [String] = []
    }

    /// u0 and u1 each fill a cart two hours before t0 (the reminder is due an hour later unless they buy);
    /// u0 signs up as the visitor `anon-0` 62 minutes before t0 and buys at `boughtAt`. The owner's tick at
    /// `tickAt` comes before the purchase is read. Returns each partition's touches as `user/step`, sorted.
    static func touches(boughtAt: Timestamp, tickAt: Timestamp, cluster: Bool) async throws -> (touches: [String], processor: PartitionProcessor, subject: MemoryEventLog) {
        let base = MemoryEventLog()
        let processor = try await OwnRecordOrderTests.owner(of: base, wall: ManualClock(t0))
        let requests = Requests()
        if cluster {
            processor.partitionOf = { $0.hasPrefix("anon") ? 1 : 0 }
            processor.publishTo = { partition, _, payload in
                if case .handover(.request(let id, _, _, _, _))? = try payload.withUnsafeBytes({ try JournalRecord.decode($0) }) {
                    #expect(partition == 1)
                    requests.ids.append(id)
                }
            }
        }
        let parser = SegmentEventParser()
        let carts = t0 - .seconds(7200)
        try OwnRecordOrderTests.publish(
            [OwnRecordOrderTests.event("cart_add", user: "u0", cart: "c0", at: carts), OwnRecordOrderTests.event("cart_add", user: "u1", cart: "c1", at: carts)],
            at: carts, to: base)
        let signUp = t0 - .seconds(3720)
        try OwnRecordOrderTests.publish(
            [#"{"type":"identify","userId":"u0","anonymousId":"anon-0","messageId":"signup-u0","timestamp":"\#(signUp.iso8601)","traits":{"email":"u0@example.com"}}"#],
            at: signUp, to: base)
        var read: UInt64 = 0
        func follow() throws {
            let records = try OwnRecordOrderTests.records(of: base, after: read)
            try processor.follow(records, parser: parser)
            read = records.last?.sequence ?? read
        }
        // The purchase and the tick in the subject's order of their times.
        let purchase = { try OwnRecordOrderTests.publish([OwnRecordOrderTests.event("purchase", user: "u0", cart: "c0", at: boughtAt)], at: boughtAt, to: base) }
        if boughtAt < tickAt { try purchase() }
        try follow()
        processor.fireDueTimers(at: tickAt)
        try follow()
        if boughtAt >= tickAt {
            try purchase()
            try follow()
        }
        if cluster {
            #expect(requests.ids.count == 1, "the sign-up asked partition 1 for anon-0")
            let pending = try #require(processor.state.user("u0")?.handover, "u0 waits for the answer")
            #expect(pending.held.count == 2, "the sign-up and the purchase wait")
            #expect(pending.timers.count == 1, "and so does u0's reminder, due while u0 waits")
            #expect(processor.state.outbox.all.map(\.touch.user) == ["u1"], "u1, not held, was reminded at the tick")
            let explained = processor.explain("u0").text
            #expect(explained.contains("waits for anon-0's state from another partition, to merge it (cluster mode); 2 event(s) wait with it, and 1 timer(s) that came due meanwhile"), "\(explained)")
            // Partition 1 answers: anon-0 has nothing to join (never seen there).
            _ = try base.append {
                JournalRecord.handover(.answer(id: requests.ids[0], target: "u0", .notJoined(reason: "anon-0 is not known here"))).encode(into: &$0)
            }
            try follow()
            #expect(processor.state.user("u0")?.handover == nil)
        }
        let touches = processor.state.outbox.all.map { "\($0.touch.user)/\($0.touch.step)" }.sorted()
        return (touches, processor, base)
    }

    @Test("a reminder that came due while the user waited is not sent when the held purchase came before it")
    func aHeldPurchaseBeforeTheDueTimeEndsTheWait() async throws {
        let bought = Self.t0 - .seconds(3660)  // a minute before the reminder is due
        let (cluster, processor, _) = try await Self.touches(boughtAt: bought, tickAt: Self.t0, cluster: true)
        let (single, embedded, _) = try await Self.touches(boughtAt: bought, tickAt: Self.t0, cluster: false)
        #expect(single == ["u1/remind"])
        #expect(cluster == single)
        #expect(processor.state.timerCount == embedded.state.timerCount, "the same timers wait (the purchase's repurchase reminder)")
    }

    @Test("a reminder due before the held purchase arrived still goes out, before the purchase")
    func aTimerDueBeforeAHeldEventFiresBeforeIt() async throws {
        let tick = Self.t0 - .seconds(3590)  // the reminder is due at t0 − 3600 s
        let bought = Self.t0 - .seconds(3500)
        let (cluster, _, _) = try await Self.touches(boughtAt: bought, tickAt: tick, cluster: true)
        let (single, _, _) = try await Self.touches(boughtAt: bought, tickAt: tick, cluster: false)
        #expect(single == ["u0/remind", "u1/remind"])
        #expect(cluster == single)
    }

    @Test("a new owner replaying the subject holds and releases the same timers")
    func aReplayDecidesTheSame() async throws {
        let bought = Self.t0 - .seconds(3660)
        let (live, _, base) = try await Self.touches(boughtAt: bought, tickAt: Self.t0, cluster: true)
        let successor = try await OwnRecordOrderTests.owner(of: base, wall: ManualClock(Self.t0 + .seconds(60)))
        successor.partitionOf = { $0.hasPrefix("anon") ? 1 : 0 }
        successor.publishTo = { _, _, _ in }  // its requests again: duplicates by message id
        _ = try successor.replay(after: 0, parser: SegmentEventParser())
        #expect(successor.state.outbox.all.map { "\($0.touch.user)/\($0.touch.step)" }.sorted() == live)
        #expect(successor.state.user("u0")?.handover == nil)
    }
}
