import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

/// `page` and `screen` events as triggers: `page: "/pricing"` matches the page's name or its
/// `properties.path`, `where` reads the event's properties, `*` any page; a track event of the same
/// name triggers nothing of them (and they nothing of a track trigger). Manual clock only.
@Suite("Page and screen triggers")
struct PageTriggerTests {
    static let rules = """
        journey: pricing
        trigger: { page: "/pricing", where: event.properties.plan == "team" }
        steps:
          - id: hello
            send: email
            template: t
        """
    static let app = """
        journey: app_checkout
        trigger: { screen: Checkout }
        steps:
          - id: hello
            send: email
            template: t
        """
    static let anyPage = """
        journey: any_page
        trigger: { page: "*" }
        entry: { reentry: once }
        steps:
          - id: hello
            send: email
            template: t
        """

    var seq = 0
    mutating func view(_ kind: Event.Kind, _ name: String, user: String, _ properties: Value = .emptyObject, h: inout EngineHarness) {
        seq += 1
        h.send(Event(kind: kind, userId: user, messageId: "v\(seq)", timestamp: h.now, name: name, properties: properties))
    }

    static func touched(_ h: EngineHarness, _ journey: String) -> [String] {
        h.touches.filter { $0.journey == journey }.map(\.user)
    }

    @Test mutating func aPageTriggersByPathOrNameWithWhereAndAScreenByName() throws {
        let rules = try RuleFixtures.load(journeys: ["pricing": Self.rules, "app": Self.app, "any": Self.anyPage], templates: ["t"], settings: "explain: { trace: 20 }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        // By path (analytics.js pages often have no name), with the condition true: entered.
        view(.page, "", user: "a", ["path": "/pricing", "plan": "team"], h: &h)
        // By name; the condition false: not entered.
        view(.page, "/pricing", user: "b", ["plan": "solo"], h: &h)
        // Another page: only the any-page journey.
        view(.page, "Home", user: "c", ["path": "/"], h: &h)
        // A track event named like the page, a screen named like it: neither is a page.
        h.track("/pricing", user: "d", ["plan": "team"])
        view(.screen, "/pricing", user: "d", ["plan": "team"], h: &h)
        view(.screen, "Checkout", user: "e", h: &h)
        #expect(Self.touched(h, "pricing") == ["a"])
        #expect(Self.touched(h, "app_checkout") == ["e"])
        #expect(Self.touched(h, "any_page").sorted() == ["a", "b", "c"])
        // The trace names the page trigger and the value its condition read.
        let b = try #require(h.store.user("b")?.trace.last)
        #expect(b.input.hasPrefix("page \"/pricing\""))
        #expect(b.decisions.contains {
            $0.kind == .trigger && $0.journey == "pricing" && $0.reason.contains("event.properties.plan = \"solo\"")
        }, "\(b.decisions)")
    }

    @Test func theSameViewsGiveTheSameTouchesAgain() throws {
        let rules = try RuleFixtures.load(journeys: ["pricing": Self.rules, "any": Self.anyPage], templates: ["t"])
        func run() -> [String] {
            var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
            for i in 0..<20 {
                h.send(
                    Event(
                        kind: .page, userId: "u\(i % 7)", messageId: "m\(i)", timestamp: h.now, name: i % 3 == 0 ? "/pricing" : "Docs",
                        properties: ["path": i % 2 == 0 ? "/pricing" : "/docs", "plan": i % 4 == 0 ? "team" : "solo"]))
                h.advance(by: .minutes(1))
            }
            return h.touches.map(\.id)
        }
        let first = run()
        #expect(!first.isEmpty)
        #expect(run() == first)
    }

    @Test func aPageTriggerIsValidatedLikeAnEventTrigger() throws {
        let bad = "journey: x\ntrigger: { page: \"/a\", screen: B }\nsteps:\n  - id: hello\n    send: email\n    template: t\n"
        #expect(throws: (any Error).self) { try RuleFixtures.load(journeys: ["x": bad], templates: ["t"]) }
    }
}
