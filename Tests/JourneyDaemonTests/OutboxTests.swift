import JourneyCore
import Testing

@testable import JourneyDaemon

/// The in-memory outbox keeps its contract while its entries live in reused slots: a touch is added
/// once, found by id until the checkpoint holding it final is written, and a slot freed then holds the
/// next touch.
struct OutboxTests {
    static func entry(_ id: String, user: String = "u1", channel: String = "email", at ms: Int64 = 1_000) -> OutboxEntry {
        OutboxEntry(
            touch: Touch(
                id: id, user: user, journey: "j", version: "v", enrollment: "\(user)#1", step: "s", channel: channel, template: "t",
                at: Timestamp(milliseconds: ms)),
            message: RenderedMessage(text: "hi \(id)"))
    }

    @Test func aFinalTouchStaysFinalWhateverReportComesLate() {
        var outbox = Outbox()
        for id in ["sent", "dead", "doubt"] { outbox.add(Self.entry(id)) }
        outbox.apply(DeliveryUpdate(touchID: "sent", state: .sent, attempts: 1))
        outbox.apply(DeliveryUpdate(touchID: "dead", state: .deadLetter, reason: "HTTP 400", attempts: 1))
        outbox.apply(DeliveryUpdate(touchID: "doubt", state: .inDoubt, reason: "interrupted by a restart"))
        // A stale owner's report, read back by a later replay after the owner's own outcome: ignored.
        for id in ["sent", "dead", "doubt"] {
            let late = outbox.apply(DeliveryUpdate(touchID: id, state: .retry, reason: "not attempted: lease lapsed", nextAttempt: Timestamp(milliseconds: 1_000)))
            #expect(late == nil)
        }
        #expect(outbox["sent"]?.state == .sent && outbox["dead"]?.state == .deadLetter && outbox["doubt"]?.state == .inDoubt)
        #expect(outbox["dead"]?.reason == "HTTP 400")
        #expect(outbox.takeDue(channel: "email", by: Timestamp(milliseconds: 10_000), limit: 10).isEmpty)
    }

    @Test func finalTouchesLeaveAtACheckpointAndTheirSlotsHoldTheNextOnes() {
        var outbox = Outbox()
        let added = [outbox.add(Self.entry("a")), outbox.add(Self.entry("b", at: 2_000)), outbox.add(Self.entry("a"))]
        #expect(added == [true, true, false])  // produced again: recognized, not created twice
        let dueFirst = outbox.takeDue(channel: "email", by: Timestamp(milliseconds: 1_500), limit: 10)
        #expect(dueFirst == ["a"])
        outbox.apply(DeliveryUpdate(touchID: "a", state: .attempting))
        outbox.apply(DeliveryUpdate(touchID: "a", state: .sent, attempts: 1))
        let firstChanges = outbox.takeChanges()
        #expect(Set(firstChanges.map(\.touch.id)) == ["a", "b"])
        // Taken by a checkpoint not yet written: still here (explain finds it), and recognized if produced again.
        #expect(outbox["a"]?.state == .sent)
        #expect(outbox.entries(of: "u1").map(\.touch.id).sorted() == ["a", "b"])
        let addedAgain = outbox.add(Self.entry("a"))
        #expect(!addedAgain)
        outbox.checkpointWritten()
        #expect(outbox["a"] == nil)  // final and checkpointed: out of memory
        #expect(outbox["b"]?.message?.text == "hi b")
        #expect(outbox.count == 1)

        // The freed slot takes the next touch; each id still finds its own entry.
        let addedC = outbox.add(Self.entry("c", user: "u2", at: 500))
        #expect(addedC)
        #expect(outbox.count == 2)
        #expect(outbox["c"]?.message?.text == "hi c")
        #expect(outbox["b"]?.touch.at == Timestamp(milliseconds: 2_000))
        #expect(outbox.waitingByState() == (2, 0))
        let nextDue = outbox.nextDue()
        #expect(nextDue == Timestamp(milliseconds: 500))
        let secondChanges = outbox.takeChanges()
        #expect(secondChanges.map(\.touch.id) == ["c"])

        outbox.apply(DeliveryUpdate(touchID: "b", state: .retry, reason: "busy", nextAttempt: Timestamp(milliseconds: 9_000)))
        #expect(outbox.waitingByState() == (1, 1))
        let removed = outbox.remove(user: "u2")
        #expect(removed.map(\.touch.id) == ["c"])
        #expect(outbox["c"] == nil)
        #expect(outbox.all.map(\.touch.id) == ["b"])
        let notYet = outbox.takeDue(channel: "email", by: Timestamp(milliseconds: 8_999), limit: 10)
        #expect(notYet.isEmpty)
        let retried = outbox.takeDue(channel: "email", by: Timestamp(milliseconds: 9_000), limit: 10)
        #expect(retried == ["b"])
    }

    @Test func aRestoredOutboxSchedulesItsWaitingTouches() {
        var outbox = Outbox(restoring: [Self.entry("x", at: 3_000), Self.entry("y", channel: "sms", at: 1_000)])
        #expect(outbox.count == 2)
        #expect(outbox.channels == ["email", "sms"])
        let restoredDue = outbox.nextDue()
        #expect(restoredDue == Timestamp(milliseconds: 1_000))
        let changes = outbox.takeChanges()
        #expect(changes.isEmpty)  // restored, not changed
    }

    @Test func aReusedSlotCarriesNothingOfItsFormerTouch() {
        var outbox = Outbox()
        // "a" is rescheduled (a retry) and then dead-lettered: its schedule keeps two stale places.
        outbox.add(Self.entry("a", at: 1_000))
        outbox.apply(DeliveryUpdate(touchID: "a", state: .retry, reason: "busy", nextAttempt: Timestamp(milliseconds: 5_000)))
        outbox.apply(DeliveryUpdate(touchID: "a", state: .deadLetter, reason: "HTTP 400", attempts: 2))
        let taken = outbox.takeChanges()
        #expect(taken.map(\.touch.id) == ["a"])
        outbox.checkpointWritten()
        #expect(outbox["a"] == nil && outbox.count == 0)

        // "b" takes a's slot, due at a's first time: it is handed out once, and a's retry time hands out nothing.
        outbox.add(Self.entry("b", at: 1_000))
        let due = outbox.takeDue(channel: "email", by: Timestamp(milliseconds: 1_500), limit: 10)
        #expect(due == ["b"])
        let later = outbox.takeDue(channel: "email", by: Timestamp(milliseconds: 6_000), limit: 10)
        #expect(later.isEmpty)

        // A forgotten user's touch leaves the changed set with it; the touch that takes its slot is listed once.
        outbox.add(Self.entry("c", user: "u2", channel: "sms", at: 2_000))
        let removed = outbox.remove(user: "u2")
        #expect(removed.map(\.touch.id) == ["c"])
        outbox.add(Self.entry("d", channel: "sms", at: 2_000))
        let changes = outbox.takeChanges()
        #expect(changes.map(\.touch.id).sorted() == ["b", "d"])
        let sms = outbox.takeDue(channel: "sms", by: Timestamp(milliseconds: 2_000), limit: 10)
        #expect(sms == ["d"])
        #expect(outbox.waiting == 0)
    }

    @Test func aForgottenUsersFinalTouchLeavesAtOnceAndItsSlotIsNotFreedTwice() {
        var outbox = Outbox()
        outbox.add(Self.entry("a", user: "u2"))
        outbox.apply(DeliveryUpdate(touchID: "a", state: .sent, attempts: 1))
        let taken = outbox.takeChanges()
        #expect(taken.map(\.touch.id) == ["a"])
        // Forgotten while the checkpoint is written: gone now; the next touch takes the slot and stays
        // when that checkpoint is written.
        let notSent = outbox.remove(user: "u2")
        #expect(notSent.isEmpty)  // final: nothing left to send
        outbox.add(Self.entry("b"))
        outbox.checkpointWritten()
        #expect(outbox["a"] == nil)
        #expect(outbox["b"]?.message?.text == "hi b")
        #expect(outbox.count == 1)
    }
}
