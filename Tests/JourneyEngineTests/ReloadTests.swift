import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

@Suite("Reload")
struct ReloadTests {
    static func series(_ onChange: String, secondTemplate: String, dropSecond: Bool = false) -> String {
        """
        journey: series
        on_change: \(onChange)
        trigger: { event: signup }
        steps:
          - id: first
            send: email
            template: one
          - id: pause
            wait: 1d
        """ + (dropSecond ? "" : """

          - id: second
            send: email
            template: \(secondTemplate)
        """)
    }

    func harness(_ onChange: String) throws -> EngineHarness {
        let rules = try RuleFixtures.load(
            journeys: ["series": Self.series(onChange, secondTemplate: "two")], templates: ["one", "two", "two_b"])
        var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
        h.track("signup", user: "u")
        return h
    }

    @Test func pinKeepsUsersOnTheVersionTheyEntered() throws {
        var h = try harness("pin")
        let changed = try RuleFixtures.load(
            journeys: ["series": Self.series("pin", secondTemplate: "two_b")], templates: ["one", "two", "two_b"])
        #expect(h.reload(changed).changed == ["series"])
        h.advance(by: .days(2))
        #expect(h.touches.map(\.template) == ["one", "two"])
        h.track("signup", user: "newcomer")
        h.advance(by: .days(2))
        #expect(h.touches.filter { $0.user == "newcomer" }.map(\.template) == ["one", "two_b"])
    }

    @Test func followMovesUsersToTheSameStepOfTheNewVersion() throws {
        var h = try harness("follow")
        let changed = try RuleFixtures.load(
            journeys: ["series": Self.series("follow", secondTemplate: "two_b")], templates: ["one", "two", "two_b"])
        h.reload(changed)
        h.advance(by: .days(2))
        #expect(h.touches.map(\.template) == ["one", "two_b"])
    }

    @Test func followExitsWithAReasonWhenTheStepIsGone() throws {
        var h = try harness("follow")
        let changed = try RuleFixtures.load(
            journeys: [
                "series": Self.series("follow", secondTemplate: "two").replacingOccurrences(of: "id: pause", with: "id: rest")
            ],
            templates: ["one", "two", "two_b"])
        h.reload(changed)
        h.advance(by: .days(2))
        #expect(h.touches.map(\.template) == ["one"])
        #expect(h.outcomes(.exited).contains { $0.detail.contains("step pause is gone") })
    }

    @Test func anUnchangedJourneyKeepsItsEnrollmentsAndTimers() throws {
        var h = try harness("follow")
        let same = try RuleFixtures.load(
            journeys: ["series": Self.series("follow", secondTemplate: "two")], templates: ["one", "two", "two_b"])
        let before = h.store.user("u")
        #expect(h.reload(same).unchanged == ["series"])
        #expect(h.store.user("u") == before)
        h.advance(by: .days(2))
        #expect(h.touches.map(\.template) == ["one", "two"])
    }
}
