import JourneyCore
import Testing

@testable import JourneyEngine

/// The report's counters keep their documented keys (the checkpoint stores them as they are) while
/// being counted without building a key per touch.
struct ReportFiguresTests {
    static func touch(_ id: String, journey: String = "cart", channel: String = "email", at: String) -> Effect {
        .touch(
            Touch(
                id: id, user: "u1", journey: journey, version: "v1", enrollment: "u1#1", step: "remind", channel: channel,
                template: "t", at: Timestamp(iso8601: at)!))
    }

    static func outcome(_ kind: Outcome.Kind, journey: String = "cart", step: String = "", detail: String = "", at: String) -> Effect {
        .outcome(Outcome(kind: kind, user: "u1", journey: journey, step: step, detail: detail, at: Timestamp(iso8601: at)!))
    }

    static let effects: [Effect] = [
        outcome(.entered, at: "2025-03-01T10:00:00Z"),
        outcome(.reached, step: "wait", at: "2025-03-01T10:00:00Z"),
        touch("a", at: "2025-03-01T23:59:59.999Z"),
        touch("b", at: "2025-03-02T00:00:00Z"),
        touch("c", channel: "sms", at: "2025-03-02T12:00:00Z"),
        touch("d", journey: "vip", at: "1969-12-31T23:59:59.999Z"),
        touch("e", journey: "vip", at: "1970-01-01T00:00:00Z"),
        outcome(.converted, detail: "treatment", at: "2025-03-03T00:00:00Z"),
        outcome(.heldOut, detail: "control", at: "2025-03-03T00:00:00Z"),
        outcome(.capped, at: "2025-03-03T00:00:00Z"),
        outcome(.deferred(until: Timestamp(iso8601: "2025-03-04T08:00:00Z")!), detail: "quiet hours", at: "2025-03-03T00:00:00Z"),
        outcome(.deferred(until: Timestamp(iso8601: "2025-03-04T08:00:00Z")!), detail: "frequency cap 2/1d", at: "2025-03-03T00:00:00Z"),
        outcome(.suppressed, at: "2025-03-03T00:00:00Z"),
        outcome(.skippedLate, at: "2025-03-03T00:00:00Z"),
        outcome(.exited, detail: "completed after 3d", at: "2025-03-05T00:00:00Z"),
        outcome(.exited, detail: "completed", at: "2025-03-05T00:00:00Z"),
        outcome(.exited, detail: "exit_when order", at: "2025-03-05T00:00:00Z"),
        outcome(.updated, at: "2030-01-01T00:00:00Z"),
        outcome(.duplicate, at: "2030-01-01T00:00:00Z"),
        outcome(.stageChanged(from: ""), detail: "visitor", at: "2025-03-01T09:00:00Z"),
        outcome(.stageChanged(from: "visitor"), detail: "customer", at: "2025-03-01T09:30:00Z"),
    ]

    @Test func effectsAreCountedUnderTheDocumentedKeys() {
        var figures = ReportFigures()
        for effect in Self.effects { figures.record(effect) }
        figures.recordDelivery(channel: "email", from: nil, to: .pending)
        figures.recordDelivery(channel: "email", from: .attempting, to: .sent)
        figures.recordDelivery(channel: "email", from: .attempting, to: .inDoubt)
        figures.recordDelivery(channel: "email", from: .inDoubt, to: .sent)
        let first = Timestamp(iso8601: "1969-12-31T23:59:59.999Z")!.milliseconds
        let last = Timestamp(iso8601: "2025-03-05T00:00:00Z")!.milliseconds
        #expect(
            figures.counters == [
                "J\tcart\tentered": 1, "J\tcart\treached\twait": 1, "J\tcart\ttouched": 3, "J\tvip\ttouched": 2,
                "T\temail\t2025-03-01": 1, "T\temail\t2025-03-02": 1, "T\tsms\t2025-03-02": 1,
                "T\temail\t1969-12-31": 1, "T\temail\t1970-01-01": 1,
                "J\tcart\tconverted\ttreatment": 1, "J\tcart\theld_out\tcontrol": 1, "J\tcart\tcapped": 1,
                "J\tcart\tdeferred\tquiet_hours": 1, "J\tcart\tdeferred\tcap": 1, "J\tcart\tsuppressed": 1,
                "J\tcart\tskipped_late": 1, "J\tcart\texited\tcompleted": 2, "J\tcart\texited\texit_when": 1,
                "D\tduplicates": 1, "S\t\tvisitor": 1, "S\tvisitor\tcustomer": 1, "U\tvisitor": 0, "U\tcustomer": 1,
                "O\temail\tsent": 2, "O\temail\tin_doubt": 0, "P\tfirst": first, "P\tlast": last,
            ])
        #expect(figures["J\tcart\ttouched"] == 3)
        #expect(figures["P\tlast"] == Int(last))
        #expect(figures["J\tnone\ttouched"] == 0)
        #expect(figures.group("U\t") == ["visitor": 0, "customer": 1])
        #expect(figures.period?.first == Timestamp(milliseconds: first))
    }

    @Test func aCheckpointsFiguresGiveBackTheSameCountersWhichCountOnFromThere() {
        var figures = ReportFigures()
        for effect in Self.effects { figures.record(effect) }
        var restored = ReportFigures(figures: figures.figures.merging(["active:cart": 3]) { a, _ in a })
        #expect(restored == figures)
        #expect(restored.figures == figures.figures)
        // Counting on from a restored copy lands on the keys it restored.
        for effect in Self.effects.prefix(4) {
            restored.record(effect)
            figures.record(effect)
        }
        #expect(restored == figures)
        #expect(restored["J\tcart\ttouched"] == 5)
        #expect(restored.counters.count == figures.counters.count)
    }

    /// Partitions hold different users: their figures merged are the figures of all their effects, in
    /// any order of merging, and the period spans both.
    @Test func figuresOfPartitionsMergeIntoTheFiguresOfTheWhole() {
        var whole = ReportFigures()
        for effect in Self.effects { whole.record(effect) }
        whole.recordDelivery(channel: "email", from: .attempting, to: .sent)
        var (left, right) = (ReportFigures(), ReportFigures())
        for (index, effect) in Self.effects.enumerated() {
            if index % 3 == 0 { left.record(effect) } else { right.record(effect) }
        }
        right.recordDelivery(channel: "email", from: .attempting, to: .sent)
        var merged = left
        merged.merge(right)
        #expect(merged == whole)
        #expect(merged.period?.first == whole.period?.first && merged.period?.last == whole.period?.last)
        var other = right
        other.merge(left)
        #expect(other == whole)
        var empty = ReportFigures()
        empty.merge(ReportFigures(figures: whole.figures))
        #expect(empty == whole, "figures restored from a checkpoint merge like live ones")
    }
}
