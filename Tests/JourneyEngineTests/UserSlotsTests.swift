import JourneyCore
@testable import JourneyEngine
import Testing

/// The users of the in-memory store: ids to slots beside states in chunks that never move.
@Suite("UserSlots")
struct UserSlotsTests {
    @Test("holds users across many chunks, finds each by id, and a removed user's slot goes to the next new one")
    func holdsFindsAndReusesSlots() {
        var slots = UserSlots()
        let users = 3 * UserSlots.chunkSize + 7
        for i in 0..<users { slots.withUser("u\(i)") { $0.traits = ["n": .number(Double(i))] } }
        #expect(slots.count == users)
        #expect((0..<users).allSatisfy { slots.user("u\($0)")?.traits["n"] == .number(Double($0)) })

        slots.remove("u5")
        #expect(slots.user("u5") == nil && !slots.contains("u5") && slots.count == users - 1)
        slots.withUser("newcomer") { $0.stage = "new" }
        #expect(slots.user("newcomer")?.stage == "new" && slots.user("newcomer")?.traits == .emptyObject, "a fresh state, not u5's")
        #expect(slots.count == users)
        #expect(slots.user("u6")?.traits["n"] == .number(6), "the neighbours are untouched")
        #expect(slots.all.count == users && slots.all["newcomer"]?.id == "newcomer")
    }

    @Test("an unknown id gets a fresh state that stays, as a dictionary's default subscript does")
    func unknownIDsAreCreated() {
        var slots = UserSlots()
        let id = slots.withUser("ada") { $0.id }
        #expect(id == "ada" && slots.contains("ada") && slots.user("ada") == UserState(id: "ada"))
    }

    @Test("a copy is independent of the original, both ways")
    func valueSemantics() {
        var original = UserSlots()
        for i in 0..<(UserSlots.chunkSize + 1) { original.withUser("u\(i)") { $0.stage = "a" } }
        var copy = original
        copy.withUser("u1") { $0.stage = "b" }
        copy.remove("u2")
        original.withUser("u3") { $0.stage = "c" }
        #expect(original.user("u1")?.stage == "a" && original.contains("u2") && original.user("u3")?.stage == "c")
        #expect(copy.user("u1")?.stage == "b" && !copy.contains("u2") && copy.user("u3")?.stage == "a")
    }
}
