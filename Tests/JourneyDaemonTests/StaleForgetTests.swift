import Foundation
import JourneyCore
import JourneyEvents
import JourneyLog
import Testing

@testable import JourneyDaemon

/// Cluster mode: an owner paused past its lease may be asked to forget a user before it reads that
/// another instance took its partition over. It logs the erasure (stamped with its old lease token) and
/// tells the operator it is done — so that record, alone of a stale owner's, is applied by the partition's
/// owner and by every replay: an erasure reported done is never dropped.
@Suite("A stale owner's forget")
struct StaleForgetTests {
    @Test func isAppliedByTheOwnerFollowingTheSubjectAndByEveryReplay() async throws {
        let base = MemoryEventLog()
        let wall = ManualClock(OwnRecordOrderTests.t0)
        let parser = SegmentEventParser()
        let at = OwnRecordOrderTests.t0 - .seconds(60)
        try OwnRecordOrderTests.publish(
            [OwnRecordOrderTests.event("cart_add", user: "u0", cart: "c0", at: at), OwnRecordOrderTests.event("cart_add", user: "u1", cart: "c1", at: at)],
            at: at, to: base)
        // The owner holding token 6 starts; then the one that held token 5, paused past its lease, logs a forget.
        _ = try base.append { w in JournalRecord.stamp(6, into: &w) { JournalRecord.owner(token: 6).encode(into: &$0) } }
        _ = try base.append { w in JournalRecord.stamp(5, into: &w) { JournalRecord.forget(user: "u0").encode(into: &$0) } }
        // A stale owner's other bookkeeping after the takeover stays skipped.
        _ = try base.append { w in JournalRecord.stamp(5, into: &w) { JournalRecord.tick(at: OwnRecordOrderTests.t0 + .seconds(7200)).encode(into: &$0) } }

        let owner = try await OwnRecordOrderTests.owner(of: base, wall: wall, token: FencingToken(6))
        try owner.follow(OwnRecordOrderTests.records(of: base, after: 0), parser: parser)
        #expect(!owner.state.contains(user: "u0"))
        #expect(owner.state.contains(user: "u1"))
        #expect(owner.state.nextTimerDue == at + .seconds(3600), "the stale tick fired nothing: u1's reminder still waits")

        let next = try await OwnRecordOrderTests.owner(of: base, wall: wall, token: FencingToken(7))
        #expect(try next.replay(after: 0, parser: parser) == 3)  // events, owner, forget — not the stale tick
        #expect(!next.state.contains(user: "u0"))
        #expect(next.state.contains(user: "u1"))
    }
}
