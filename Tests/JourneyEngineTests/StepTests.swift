import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

func ts(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }

@Suite("Steps")
struct StepTests {
    static let cart = """
        journey: cart
        trigger: { event: cart_add, where: event.properties.price >= 50 }
        entry: { reentry: always, key: event.properties.cart_id }
        exit_when: { event: purchase }
        goal: { event: purchase, within: 7d }
        steps:
          - id: wait_purchase
            wait_for: { event: purchase, timeout: 1h }
            on_event: exit
          - id: remind
            send: email
            template: cart_reminder
        """

    @Test func waitForTimesOutExactlyAtItsDueTimeAndNotBefore() throws {
        let rules = try RuleFixtures.load(journeys: ["cart": Self.cart], templates: ["cart_reminder"])
        var h = EngineHarness(rules: rules, now: "2025-01-06T10:00:00Z")
        h.track("cart_add", user: "u1", ["price": 80, "cart_id": "c1"])
        h.advance(to: ts("2025-01-06T10:59:59.999Z"))
        #expect(h.touches.isEmpty)
        h.advance(by: .milliseconds(1))
        #expect(h.touches.map(\.step) == ["remind"])
        #expect(h.touches.first?.at == ts("2025-01-06T11:00:00Z"))
    }

    @Test func theAwaitedEventRoutesToOnEventAndCountsTheGoal() throws {
        let rules = try RuleFixtures.load(journeys: ["cart": Self.cart], templates: ["cart_reminder"])
        var h = EngineHarness(rules: rules, now: "2025-01-06T10:00:00Z")
        h.track("cart_add", user: "u1", ["price": 80, "cart_id": "c1"])
        h.advance(by: .minutes(30))
        h.track("purchase", user: "u1")
        h.advance(by: .days(2))
        #expect(h.touches.isEmpty)
        #expect(h.outcomes(.converted).count == 1)
    }

    @Test func theWhereConditionAndTheEntryKeyDecideWhoEnters() throws {
        let rules = try RuleFixtures.load(journeys: ["cart": Self.cart], templates: ["cart_reminder"])
        var h = EngineHarness(rules: rules, now: "2025-01-06T10:00:00Z")
        h.track("cart_add", user: "u1", ["price": 10, "cart_id": "c0"])  // too cheap
        h.track("cart_add", user: "u1", ["price": 80, "cart_id": "c1"])
        h.track("cart_add", user: "u1", ["price": 80, "cart_id": "c1"])  // same cart, already running
        h.track("cart_add", user: "u1", ["price": 90, "cart_id": "c2"])
        #expect(h.outcomes(.entered).map(\.detail) == ["c1", "c2"])
        h.advance(by: .hours(2))
        #expect(h.touches.count == 2)
        #expect(Set(h.touches.map(\.id)).count == 2, "touch ids are distinct per enrollment")
    }

    @Test func branchUpdateEnrollAndExitRunInOrder() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "tier": """
                journey: tier
                trigger: { trait: tier, to: gold }
                steps:
                  - id: check
                    branch:
                      - if: user.country == "CN"
                        goto: cn
                      - else: other
                  - id: cn
                    send: wecom
                    template: gold_cn
                    next: mark
                  - id: other
                    send: email
                    template: gold
                  - id: mark
                    update: { set: { gold_since: "now" }, increment: { upgrades: 1 }, add_tags: [gold] }
                  - id: perks
                    enroll: perks
                  - exit
                """,
                "perks": """
                journey: perks
                trigger: { event: never_sent }
                steps:
                  - send: email
                    template: perks
                """,
            ],
            templates: ["gold_cn", "gold", "perks"])
        var h = EngineHarness(rules: rules, now: "2025-01-06T10:00:00Z")
        h.identify(user: "a", ["country": "CN"])
        h.identify(user: "a", ["tier": "gold"])
        h.identify(user: "b", ["country": "NO", "tier": "gold"])
        #expect(h.touches.map { "\($0.user):\($0.template)" } == ["a:gold_cn", "a:perks", "b:gold", "b:perks"])
        let a = try #require(h.store.user("a"))
        #expect(a.traits["upgrades"] == 1)
        #expect(a.traits["tags"] == ["gold"])
        #expect(a.enrollments.isEmpty)
    }

    @Test func waitUntilTimeOfDayUsesTheUsersZoneAcrossDaylightSaving() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "morning": """
                journey: morning
                trigger: { event: signup }
                steps:
                  - wait: { until: "10:00", weekdays: [mon, tue, wed, thu, fri] }
                  - id: hello
                    send: email
                    template: hello
                """
            ],
            templates: ["hello"])
        // Saturday 2025-03-08 12:00 in New York (EST); the next weekday 10:00 is Monday, after the switch to EDT.
        var h = EngineHarness(rules: rules, now: "2025-03-08T17:00:00Z")
        h.identify(user: "ny", ["timezone": "America/New_York"])
        h.track("signup", user: "ny")
        h.advance(by: .days(5))
        #expect(h.touches.map(\.at) == [ts("2025-03-10T14:00:00Z")])
    }

    @Test func waitUntilAProfileDateHonoursTheOffsetOrGoesOnAtOnceWhenPast() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "renewal": """
                journey: renewal
                trigger: { trait: renewal_date }
                entry: { reentry: always }
                steps:
                  - wait: { until_date: renewal_date, before: 3d, at: "09:00", if_missing: exit }
                  - id: remind
                    send: email
                    template: renew
                """
            ],
            templates: ["renew"])
        var h = EngineHarness(rules: rules, now: "2025-06-01T00:00:00Z")
        h.identify(user: "u", ["renewal_date": "2025-06-30", "timezone": "Asia/Tokyo"])
        h.advance(by: .days(40))
        #expect(h.touches.map(\.at) == [ts("2025-06-27T00:00:00Z")])  // 09:00 in Tokyo
        h.identify(user: "u", ["renewal_date": "2025-07-01"])  // already past: at once
        #expect(h.touches.count == 2)
        #expect(h.touches.last?.at == h.now)
    }

    @Test func exitWhenCancelsWaitingEnrollmentsAndTheirTimersNeverFire() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "rep": """
                journey: rep
                trigger: { event: purchase }
                entry: { reentry: always }
                exit_when: { event: purchase }
                steps:
                  - wait: 30d
                  - id: d30
                    send: email
                    template: t
                """
            ],
            templates: ["t"])
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00Z")
        h.track("purchase", user: "u")
        h.advance(by: .days(10))
        h.track("purchase", user: "u")
        h.advance(by: .days(100))
        #expect(h.touches.map(\.at) == [ts("2025-02-10T12:00:00Z")])
        #expect(h.outcomes(.exited).map(\.detail).contains("exit_when purchase"))
    }

    @Test func reentryOnceAlwaysAndAfter() throws {
        func journey(_ reentry: String) -> String {
            """
            journey: j
            trigger: { event: ping }
            entry: { reentry: \(reentry) }
            steps:
              - send: email
                template: t
            """
        }
        for (reentry, expected) in [("once", 1), ("always", 4), ("{ after: 2d }", 2)] {
            let rules = try RuleFixtures.load(journeys: ["j": journey(reentry)], templates: ["t"])
            var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
            for _ in 0..<4 {
                h.track("ping", user: "u")
                h.advance(by: .days(1))
            }
            #expect(h.touches.count == expected, "reentry \(reentry)")
        }
    }

    @Test func duplicateMessageIdsAreIgnoredAndCounted() throws {
        let rules = try RuleFixtures.load(journeys: ["cart": Self.cart], templates: ["cart_reminder"])
        var h = EngineHarness(rules: rules, now: "2025-01-06T10:00:00Z")
        let event = Event.track("cart_add", user: "u1", at: h.now, properties: ["price": 80, "cart_id": "c1"], messageId: "m1")
        h.send(event)
        h.send(event)
        #expect(h.outcomes(.entered).count == 1)
        #expect(h.outcomes(.duplicate).count == 1)
    }
}
