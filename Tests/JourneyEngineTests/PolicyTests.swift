import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

@Suite("Policies")
struct PolicyTests {
    static func pinger(_ limits: String, transactional: Bool = false) -> String {
        """
        journey: pinger
        transactional: \(transactional)
        trigger: { event: ping }
        entry: { reentry: always }
        limits: \(limits)
        steps:
          - id: hello
            send: email
            template: t
        """
    }

    @Test func aDropCapSkipsTouchesOverTheLimitInARollingWindow() throws {
        let rules = try RuleFixtures.load(
            journeys: ["p": Self.pinger("{ cap: { touches: 2, per: 24h, over: drop } }")], templates: ["t"])
        var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
        for _ in 0..<5 {
            h.track("ping", user: "u")
            h.advance(by: .hours(5))
        }
        // 00:00 and 05:00 go out; 10:00, 15:00, 20:00 are over the cap.
        #expect(h.touches.map(\.at) == [ts("2025-01-01T00:00:00Z"), ts("2025-01-01T05:00:00Z")])
        #expect(h.outcomes(.capped).count == 3)
        h.track("ping", user: "u")  // 2025-01-02T01:00: the 00:00 touch has left the window
        #expect(h.touches.count == 3)
    }

    @Test func aDeferCapHoldsTheTouchUntilTheWindowAllowsIt() throws {
        let rules = try RuleFixtures.load(
            journeys: ["p": Self.pinger("{ cap: { touches: 1, per: 24h, over: defer } }")], templates: ["t"])
        var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
        h.track("ping", user: "u")
        h.advance(by: .hours(3))
        h.track("ping", user: "u")
        h.advance(by: .days(3))
        #expect(h.touches.map(\.at) == [ts("2025-01-01T00:00:00Z"), ts("2025-01-02T00:00:00Z")])
        #expect(h.outcomes.contains { $0.kind == .deferred(until: ts("2025-01-02T00:00:00Z")) })
    }

    @Test func globalCapsCountTouchesOfAllJourneysOnTheChannel() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "a": Self.pinger("{}").replacingOccurrences(of: "journey: pinger", with: "journey: a"),
                "b": Self.pinger("{}").replacingOccurrences(of: "journey: pinger", with: "journey: b"),
            ],
            templates: ["t"],
            settings: "policy: { caps: [ { channel: email, touches: 1, per: 1d } ] }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
        h.track("ping", user: "u")
        #expect(h.touches.count == 1)
        #expect(h.outcomes(.capped).count == 1)
    }

    @Test func quietHoursDeferToTheEndOfTheWindowInTheUsersZone() throws {
        let rules = try RuleFixtures.load(
            journeys: ["p": Self.pinger("{ quiet_hours: { from: \"21:00\", to: \"08:00\" } }")], templates: ["t"])
        var h = EngineHarness(rules: rules, now: "2025-01-01T14:30:00Z")  // 22:30 in Shanghai
        h.identify(user: "u", ["timezone": "Asia/Shanghai"])
        h.track("ping", user: "u")
        #expect(h.touches.isEmpty)
        h.advance(by: .days(1))
        #expect(h.touches.map(\.at) == [ts("2025-01-02T00:00:00Z")])  // 08:00 in Shanghai
    }

    @Test func transactionalJourneysIgnoreQuietHoursAndCapsButNotConsent() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "p": Self.pinger(
                    "{ quiet_hours: { from: \"00:00\", to: \"23:59\" }, cap: { touches: 1, per: 1d } }", transactional: true)
            ],
            templates: ["t"])
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00Z")
        h.track("ping", user: "u")
        h.track("ping", user: "u")
        #expect(h.touches.count == 2)
        h.identify(user: "u", ["unsubscribed": ["email"]])
        h.track("ping", user: "u")
        #expect(h.touches.count == 2)
        #expect(h.outcomes(.suppressed).count == 1)
    }

    @Test func lateTimersFollowTheLatePolicy() throws {
        func run(_ then: String) throws -> EngineHarness {
            let rules = try RuleFixtures.load(
                journeys: [
                    "w": """
                    journey: w
                    trigger: { event: ping }
                    limits: { late: { after: 1h, then: \(then) } }
                    steps:
                      - wait: 1d
                      - id: first
                        send: email
                        template: t
                      - id: second
                        send: sms
                        template: t
                      - wait: 1h
                      - id: third
                        send: email
                        template: t
                    """
                ],
                templates: ["t"])
            var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
            h.track("ping", user: "u")
            h.resumeAfterDowntime(at: ts("2025-01-02T03:00:00Z"))  // 3 hours late
            h.advance(by: .days(1))
            return h
        }
        #expect(try run("send").touches.map(\.step) == ["first", "second", "third"])
        #expect(try run("skip").touches.map(\.step) == ["third"])
        #expect(try run("exit").touches.isEmpty)
    }
}
