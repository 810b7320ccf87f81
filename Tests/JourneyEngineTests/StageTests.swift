import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

/// Lifecycle stages (journeyd.yaml `stages`): the last stage whose condition holds, recomputed after each
/// change to the profile; transitions recorded in order as outcomes; journeys triggered by one. Manual clock.
@Suite("Lifecycle stages")
struct StageTests {
    static let settings = """
        stages:
          - { name: visitor }
          - { name: customer, when: 'count("purchase") >= 1' }
          - { name: repeat, when: 'count("purchase") >= 2' }
          - { name: member, when: 'user.tier == "gold"' }
        """
    static let thanks = """
        journey: repeat_thanks
        trigger: { stage: { becomes: repeat, from: customer } }
        steps:
          - id: thank
            send: email
            template: t
        """
    static let welcomeMember = """
        journey: member_welcome
        trigger: { stage: { becomes: member } }
        steps:
          - id: hello
            send: email
            template: t
        """

    static func transitions(_ h: EngineHarness, _ user: String) -> [String] {
        h.outcomes.compactMap { o in
            guard o.user == user, case .stageChanged(let from) = o.kind else { return nil }
            return "\(o.at.iso8601) \(from.isEmpty ? "-" : from)>\(o.detail)"
        }
    }

    @Test func transitionsAreRecordedInOrderWithTheirTimeAndKeptInTheUsersState() throws {
        let rules = try RuleFixtures.load(journeys: ["thanks": Self.thanks], templates: ["t"], settings: Self.settings)
        var h = EngineHarness(rules: rules, now: "2025-02-03T10:00:00.000Z")
        h.identify(user: "ann", ["first_name": "Ann"])
        h.advance(by: .days(2))
        h.track("purchase", user: "ann")
        h.advance(by: .days(3))
        h.track("page_view", user: "ann")  // no change: no transition
        h.track("purchase", user: "ann")
        h.advance(by: .hours(5))
        h.identify(user: "ann", ["tier": "gold"])
        h.advance(by: .days(1))
        h.identify(user: "ann", ["tier": nil])  // back to repeat (stages are conditions, not a ratchet)
        #expect(Self.transitions(h, "ann") == [
            "2025-02-03T10:00:00.000Z ->visitor",
            "2025-02-05T10:00:00.000Z visitor>customer",
            "2025-02-08T10:00:00.000Z customer>repeat",
            "2025-02-08T15:00:00.000Z repeat>member",
            "2025-02-09T15:00:00.000Z member>repeat",
        ])
        #expect(h.store.user("ann")?.stage == "repeat")
        // Durable with the user's state: the stage survives the binary form checkpoints use.
        let state = try #require(h.store.user("ann"))
        #expect(try UserState(id: "ann", encoded: state.encoded()).stage == "repeat")
    }

    @Test func aStageTriggerEntersOnTheTransitionAndHonoursFrom() throws {
        let rules = try RuleFixtures.load(
            journeys: ["thanks": Self.thanks, "member": Self.welcomeMember], templates: ["t"], settings: Self.settings)
        var h = EngineHarness(rules: rules, now: "2025-02-03T10:00:00.000Z")
        // ann: visitor → customer → repeat: thanked at the second purchase.
        h.track("purchase", user: "ann")
        h.advance(by: .days(1))
        h.track("purchase", user: "ann")
        h.track("purchase", user: "ann")  // a third: still repeat, nothing new
        // bob: gold first (member), then back to repeat from member — not from customer: not thanked.
        h.identify(user: "bob", ["tier": "gold"])
        h.track("purchase", user: "bob")
        h.track("purchase", user: "bob")
        h.identify(user: "bob", ["tier": "silver"])
        #expect(h.touches.map { "\($0.journey) \($0.user) \($0.at.iso8601)" } == [
            "repeat_thanks ann 2025-02-04T10:00:00.000Z",
            "member_welcome bob 2025-02-04T10:00:00.000Z",
        ])
        #expect(Self.transitions(h, "bob").map { String($0.split(separator: " ")[1]) } == ["->member", "member>repeat"])
    }

    @Test func aMergedVisitorLeavesItsStageAndTheKnownUserTakesTheMergedOne() throws {
        let rules = try RuleFixtures.load(journeys: ["thanks": Self.thanks], templates: ["t"], settings: Self.settings)
        var h = EngineHarness(rules: rules, now: "2025-02-03T10:00:00.000Z")
        h.send(Event(kind: .track, userId: "anon-1", anonymousId: "anon-1", messageId: "a1", timestamp: h.now, name: "purchase"))
        h.advance(by: .hours(1))
        h.identify(user: "ada", ["first_name": "Ada"])
        h.send(Event(kind: .alias, userId: "ada", messageId: "a2", timestamp: h.now, previousId: "anon-1"))
        #expect(Self.transitions(h, "anon-1") == ["2025-02-03T10:00:00.000Z ->customer", "2025-02-03T11:00:00.000Z customer>"])
        #expect(Self.transitions(h, "ada") == ["2025-02-03T11:00:00.000Z ->visitor", "2025-02-03T11:00:00.000Z visitor>customer"])
        // The report counts people, not ids: one customer.
        var figures = ReportFigures()
        for effect in h.effects { figures.record(effect) }
        #expect(figures.group("U\t") == ["customer": 1, "visitor": 0])
    }

    @Test func checkNamesAnUnknownStageAtItsLineWithASuggestion() throws {
        let journey = """
            journey: typo
            trigger: { stage: { becomes: repaet } }
            steps:
              - id: thank
                send: email
                template: t
            """
        let directory = try RuleFixtures.directory([
            "channels.yaml": RuleFixtures.defaultChannels, "journeyd.yaml": Self.settings,
            "journeys/typo.yaml": journey, "templates/t.liquid": "hi",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory)
        #expect(rules == nil)
        #expect(diagnostics.map(\.description).contains { $0.hasPrefix("journeys/typo.yaml:2:") && $0.contains("unknown stage \"repaet\"; did you mean \"repeat\"?") })

        let badSettings = Self.settings + "\n  - { name: customer, wen: 'true' }\n"
        let directory2 = try RuleFixtures.directory([
            "channels.yaml": RuleFixtures.defaultChannels, "journeyd.yaml": badSettings, "journeys/thanks.yaml": Self.thanks,
            "templates/t.liquid": "hi",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory2) }
        let messages = RuleLoader.loadReportingAll(directory: directory2).1.map(\.description)
        #expect(messages.contains { $0.hasPrefix("journeyd.yaml:6:") && $0.contains("did you mean \"when\"?") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("journeyd.yaml:6:") && $0.contains("duplicate stage \"customer\"") }, "\(messages)")
    }

    @Test func aStageThatTimeAloneMakesTrueIsEnteredOnItsDayWithNoEventArriving() throws {
        let settings = """
            stages:
              - { name: visitor }
              - { name: customer, when: 'count("purchase") >= 1' }
              - { name: lapsed, when: 'count("purchase") >= 1 and days_since(last("purchase")) >= 90' }
            """
        let winBack = """
            journey: win_back
            trigger: { stage: { becomes: lapsed } }
            steps:
              - id: miss_you
                send: email
                template: t
            """
        let rules = try RuleFixtures.load(journeys: ["win_back": winBack], templates: ["t"], settings: settings + "\nexplain: { trace: 20 }\n")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        h.track("purchase", user: "lea")
        h.advance(by: .days(30))
        h.track("purchase", user: "lea")  // the 90 days start again: the first recheck is stale
        h.advance(by: .days(200))
        h.track("purchase", user: "lea")
        #expect(Self.transitions(h, "lea") == [
            "2025-01-01T12:00:00.000Z ->customer",
            "2025-05-01T12:00:00.000Z customer>lapsed",  // 90 days after the second purchase, to the millisecond
            "2025-08-19T12:00:00.000Z lapsed>customer",
        ])
        #expect(h.touches.map { "\($0.journey) \($0.at.iso8601)" } == ["win_back 2025-05-01T12:00:00.000Z"])
        #expect(h.store.user("lea")?.rechecks.map(\.due) == [Timestamp(iso8601: "2025-11-17T12:00:00.000Z")!])
        let decisions = h.store.user("lea")?.trace.flatMap(\.decisions) ?? []
        #expect(decisions.contains { $0.kind == .recheck && $0.verdict == "due" && $0.reason.hasPrefix("stage conditions evaluated again at 2025-05-01") })
    }
}
