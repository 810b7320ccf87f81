import Foundation
import JourneyCore
import JourneyEvents
import JourneyLog
import Testing

@testable import JourneyDaemon

/// Cluster mode: a person forgotten while waiting for a hand-over. The answer that comes afterwards
/// carries the state of an id merged into them (traits, history): it is dropped, and the next checkpoint
/// erases the subject through it — as it erases through the `forget` record — instead of leaving it there
/// until the next `forget` in the partition or the log's retention.
@Suite("A person forgotten while waiting for a hand-over")
struct ForgetWhileHeldTests {
    @Test func theLateAnswerIsDroppedAndErasedByTheNextCheckpoint() async throws {
        let t0 = OwnRecordOrderTests.t0
        let base = MemoryEventLog()
        let processor = try await OwnRecordOrderTests.owner(of: base, wall: ManualClock(t0))
        processor.partitionOf = { $0.hasPrefix("anon") ? 1 : 0 }
        let requests = HeldTimersTests.Requests()
        processor.publishTo = { _, _, payload in
            if case .handover(.request(let id, _, _, _, _))? = try payload.withUnsafeBytes({ try JournalRecord.decode($0) }) {
                requests.ids.append(id)
            }
        }
        let parser = SegmentEventParser()
        let signUp = t0 - .seconds(60)
        try OwnRecordOrderTests.publish(
            [#"{"type":"identify","userId":"u0","anonymousId":"anon-0","messageId":"signup-u0","timestamp":"\#(signUp.iso8601)","traits":{"email":"u0@example.com"}}"#],
            at: signUp, to: base)
        try processor.follow(OwnRecordOrderTests.records(of: base, after: 0), parser: parser)
        #expect(processor.state.user("u0")?.handover != nil && requests.ids.count == 1)

        _ = try processor.forget("u0")
        let afterForget = processor.state.snapshot(logSequence: base.lastSequence, rulesVersion: processor.runtime.version, takenAt: t0)
        #expect(afterForget.forgottenUsers == ["u0"])

        // Partition 1 had answered already: anon-0's state, with a trait of the person's.
        var anonymous = UserState(id: "anon-0")
        anonymous.traits = ["phone": "+4915112345678"]
        let answered = base.lastSequence + 1
        _ = try base.append {
            JournalRecord.handover(.answer(id: requests.ids[0], target: "u0", .joined(user: "anon-0", state: anonymous.encoded(), aliases: ["anon-0"])))
                .encode(into: &$0)
        }
        try processor.follow(OwnRecordOrderTests.records(of: base, after: answered - 1), parser: parser)
        #expect(!processor.state.contains(user: "u0") && !processor.state.contains(user: "anon-0"), "nothing of the answer is kept")
        let next = processor.state.snapshot(logSequence: answered, rulesVersion: processor.runtime.version, takenAt: t0)
        #expect(next.forgottenUsers == ["u0"], "the checkpoint covering the answer erases the subject through it")
        #expect(next.users.isEmpty)

        // An answer no hold waits for, for a person not forgotten (a replaying owner's duplicate), erases nothing.
        _ = try base.append {
            JournalRecord.handover(.answer(id: "r-other", target: "u1", .notJoined(reason: "anon-1 is already merged into u1"))).encode(into: &$0)
        }
        try processor.follow(OwnRecordOrderTests.records(of: base, after: answered), parser: parser)
        let later = processor.state.snapshot(logSequence: base.lastSequence, rulesVersion: processor.runtime.version, takenAt: t0)
        #expect(later.forgottenUsers.isEmpty)
    }
}
