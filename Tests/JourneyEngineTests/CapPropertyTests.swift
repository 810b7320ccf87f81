import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import PropertyBased
import Testing

/// Caps hold under any interleaving of journeys: the properties of DESIGN §5 checked on random scripts.
@Suite("Cap and consent properties")
struct CapPropertyTests {
    /// Three journeys that all send email, triggered by different events, some more than once.
    static let journeys = [
        "a": "journey: a\ntrigger: { event: ping }\nentry: { reentry: always }\nsteps:\n  - send: email\n    template: t\n",
        "b": "journey: b\ntrigger: { event: pong }\nentry: { reentry: always }\nsteps:\n  - wait: 2h\n  - send: email\n    template: t\n  - wait: 5h\n  - send: email\n    template: t\n",
        "c": "journey: c\ntrigger: { event: ping }\nentry: { reentry: always }\nsteps:\n  - wait: 30m\n  - send: sms\n    template: t\n",
    ]

    /// Runs a random script (user, event, minutes later) on a manual clock and returns the touches.
    static func run(_ rules: RuleSet, _ script: [(Int, Int, Int)], start: String) -> [Touch] {
        var h = EngineHarness(rules: rules, now: start)
        for (user, kind, gap) in script {
            h.advance(by: .minutes(Int64(gap)))
            switch kind {
            case 0: h.track("ping", user: "u\(user)")
            case 1: h.track("pong", user: "u\(user)")
            default: h.identify(user: "u\(user)", ["email_unsubscribed": .bool(user % 2 == 0), "timezone": "America/New_York"])
            }
        }
        h.advance(by: .days(3))
        return h.touches
    }

    static let script = zip(Gen.int(in: 0...3), Gen.int(in: 0...2), Gen.int(in: 0...300)).array(of: 1...60)

    @Test func noUserEverGetsMoreThanARollingCapInAnyWindow() async throws {
        let rules = try RuleFixtures.load(
            journeys: Self.journeys, templates: ["t"], settings: "policy:\n  caps:\n    - { channel: email, touches: 2, per: 6h, over: defer }\n")
        await propertyCheck(count: 80, input: Self.script) { script in
            let email = Self.run(rules, script, start: "2025-03-08T12:00:00Z").filter { $0.channel == "email" }
            for user in Set(email.map(\.user)) {
                let times = email.filter { $0.user == user }.map(\.at).sorted()
                // Any 6-hour window holds at most 2: the 3rd touch after any touch is ≥ 6h later.
                for i in times.indices.dropFirst(2) { #expect(times[i] - times[i - 2] >= .hours(6), "\(user): \(times)") }
            }
        }
    }

    @Test func calendarCapsCountLocalDaysAcrossDaylightSavingTime() async throws {
        // New York springs forward on 2025-03-09: that local day has 23 hours.
        let rules = try RuleFixtures.load(
            journeys: Self.journeys, templates: ["t"],
            settings: "timezone: America/New_York\npolicy:\n  caps:\n    - { channel: email, touches: 1, per: 1d, over: defer, window: calendar }\n")
        let zone = Zone.named("America/New_York")!
        await propertyCheck(count: 80, input: Self.script) { script in
            let email = Self.run(rules, script, start: "2025-03-08T12:00:00Z").filter { $0.channel == "email" }
            for user in Set(email.map(\.user)) {
                let days = email.filter { $0.user == user }.map { zone.local($0.at).date }
                #expect(Set(days).count == days.count, "\(user) got two emails on one local day: \(days)")
            }
            // Deferred touches land exactly at a local midnight, never before it.
            for touch in email where zone.local(touch.at).time.minutes == 0 {
                #expect(zone.local(touch.at).millisecondsInMinute == 0)
            }
        }
    }

    @Test func aCalendarCapStartsAgainAtLocalMidnightAndDefersExactlyToIt() throws {
        let rules = try RuleFixtures.load(
            journeys: ["a": Self.journeys["a"]!], templates: ["t"],
            settings: "timezone: America/New_York\npolicy:\n  caps:\n    - { channel: email, touches: 1, per: 1d, over: defer, window: calendar }\n")
        // 22:00 on Saturday 8 March in New York (EST, UTC-5).
        var h = EngineHarness(rules: rules, now: "2025-03-09T03:00:00Z")
        h.track("ping", user: "u1")
        // 01:00 local on Sunday, three hours later: a new local day, so it goes out (a rolling 24 h cap would hold it).
        h.advance(by: .hours(3))
        h.track("ping", user: "u1")
        // 13:00 local (EDT since 03:00): the day's email went out; held until Monday 00:00 EDT = 04:00 UTC.
        h.advance(by: .hours(11))
        h.track("ping", user: "u1")
        h.advance(by: .days(2))
        #expect(h.touches.map(\.at.iso8601) == ["2025-03-09T03:00:00.000Z", "2025-03-09T06:00:00.000Z", "2025-03-10T04:00:00.000Z"])
    }

    @Test func noMarketingTouchReachesAUserWhoUnsubscribedFromThatChannel() async throws {
        let rules = try RuleFixtures.load(journeys: Self.journeys, templates: ["t"])
        await propertyCheck(count: 80, input: Self.script) { script in
            var h = EngineHarness(rules: rules, now: "2025-03-08T12:00:00Z")
            var unsubscribedAfter: [String: Int] = [:]  // how many touches existed when the user unsubscribed
            for (user, kind, gap) in script {
                h.advance(by: .minutes(Int64(gap)))
                switch kind {
                case 0: h.track("ping", user: "u\(user)")
                case 1: h.track("pong", user: "u\(user)")
                default:
                    h.identify(user: "u\(user)", ["unsubscribed": ["email"]])
                    if unsubscribedAfter["u\(user)"] == nil { unsubscribedAfter["u\(user)"] = h.touches.count }
                }
            }
            h.advance(by: .days(3))
            for (i, touch) in h.touches.enumerated() where touch.channel == "email" {
                if let since = unsubscribedAfter[touch.user] { #expect(i < since, "\(touch.user) emailed after unsubscribing") }
            }
            // Other channels still reach them.
            if script.contains(where: { $0.1 == 0 }) { #expect(h.touches.contains { $0.channel == "sms" }) }
        }
    }
}

@Suite("Consent from events")
struct ConsentEventTests {
    @Test func unsubscribeEventsCloseAChannelAndResubscribeEventsReopenIt() throws {
        let rules = try RuleFixtures.load(journeys: CapPropertyTests.journeys, templates: ["t"])
        var h = EngineHarness(rules: rules, now: "2025-03-08T12:00:00Z")
        h.track("Email Unsubscribed", user: "u1")
        h.track("ping", user: "u1")  // journeys a (email) and c (sms, after 30 minutes)
        h.advance(by: .hours(1))
        #expect(h.touches.map(\.channel) == ["sms"])
        #expect(h.outcomes(.suppressed).count == 1)
        h.track("unsubscribed", user: "u1", ["channel": "sms"])
        h.track("resubscribed", user: "u1", ["channel": "email"])
        h.clearEffects()
        h.track("ping", user: "u1")
        h.advance(by: .hours(1))
        #expect(h.touches.map(\.channel) == ["email"])
        #expect(h.store.user("u1")?.traits["unsubscribed"] == ["sms"])
        h.track("unsubscribed", user: "u1")  // no channel: everything
        h.clearEffects()
        h.track("ping", user: "u1")
        h.advance(by: .hours(1))
        #expect(h.touches.isEmpty)
    }
}
