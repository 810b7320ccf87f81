import Foundation
import JourneyCore
import JourneyEvents
import JourneyLog
import Testing

@testable import JourneyDaemon

/// Cluster mode, the anonymous side of a hand-over: asked for an id's state, the partition hands it over
/// (the id becomes a pointer) — unless the state is larger than one JetStream message may carry, when it
/// stays and the answer says why. (A larger answer would fail its publish and stop the partition, and
/// every next owner replaying the request the same way.)
@Suite("The answer to a hand-over request")
struct HandoverAnswerTests {
    final class Published: @unchecked Sendable {
        var records: [(partition: Int, record: JournalRecord.Handover)] = []
    }

    /// Partition 0 holds `anon-1` (identifies, each with a trait of 20,000 bytes: an event is at most 32 KiB,
    /// a profile grows by many) and is asked for it by `user-1`'s partition (1): what it answers, and the
    /// processor after it.
    static func answer(traits: Int) async throws -> ([(partition: Int, record: JournalRecord.Handover)], PartitionProcessor) {
        let base = MemoryEventLog()
        let processor = try await OwnRecordOrderTests.owner(of: base, wall: ManualClock(OwnRecordOrderTests.t0))
        processor.partitionOf = { $0.hasPrefix("anon") ? 0 : 1 }
        let published = Published()
        processor.publishTo = { partition, _, payload in
            guard case .handover(let record)? = try payload.withUnsafeBytes({ try JournalRecord.decode($0) }) else {
                Issue.record("not a hand-over record")
                return
            }
            published.records.append((partition, record))
        }
        let at = OwnRecordOrderTests.t0 - .seconds(60)
        let note = String(repeating: "x", count: 20_000)
        let identifies = (0..<traits).map {
            #"{"type":"identify","anonymousId":"anon-1","traits":{"note\#($0)":"\#(note)"},"messageId":"i\#($0)","timestamp":"\#(at.iso8601)"}"#
        }
        try OwnRecordOrderTests.publish(identifies, at: at, to: base)
        _ = try base.append { JournalRecord.handover(.request(id: "r1", source: "anon-1", explicit: false, target: "user-1", partition: 1)).encode(into: &$0) }
        try processor.follow(OwnRecordOrderTests.records(of: base, after: 0), parser: SegmentEventParser())
        return (published.records, processor)
    }

    @Test func aStateIsHandedOverAndItsIdPointsToTheKnownUser() async throws {
        let (answers, processor) = try await Self.answer(traits: 2)
        #expect(answers.count == 1)
        guard case (1, .answer("r1", "user-1", .joined(let user, let bytes, _)))? = answers.first else {
            Issue.record("\(answers)")
            return
        }
        #expect(user == "anon-1")
        #expect(try UserState(id: user, encoded: bytes).traits["note1"]?.stringValue?.count == 20_000)
        #expect(processor.state.user("anon-1")?.mergedInto == "user-1")
    }

    @Test func aStateLargerThanAMessageCarriesStaysAndTheAnswerSaysWhy() async throws {
        let traits = PartitionProcessor.largestStateHandedOver / 20_000 + 1
        let (answers, processor) = try await Self.answer(traits: traits)
        #expect(answers.count == 1)
        guard case (1, .answer("r1", "user-1", .notJoined(let reason)))? = answers.first else {
            Issue.record("\(answers)")
            return
        }
        #expect(reason.hasPrefix("anon-1's state is ") && reason.contains("more than a hand-over carries (524288): it stays in partition 0"), "\(reason)")
        #expect(processor.state.user("anon-1")?.mergedInto == nil)
        #expect(processor.state.user("anon-1")?.traits["note\(traits - 1)"]?.stringValue?.count == 20_000)
        #expect(processor.failure == nil)
    }
}
