import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

/// The decision trace (`journeyd explain`): each decision with the rule that made it and the values it read,
/// bounded per user, off at `explain.trace: 0`, kept through the binary state encoding. Manual clock only.
@Suite("Decision trace")
struct DecisionTraceTests {
    static func journey(_ id: String, entry: String = "{ reentry: always }", limits: String = "{}", steps: String? = nil) -> String {
        """
        journey: \(id)
        trigger: { event: ping }
        entry: \(entry)
        limits: \(limits)
        steps:
        \(steps ?? "  - id: hello\n    send: email\n    template: t")
        """
    }

    static func decisions(_ h: EngineHarness, _ user: String = "u") -> [Decision] {
        h.store.user(user)?.trace.last?.decisions ?? []
    }

    @Test func anEntryRefusalNamesTheConditionAndTheValuesItRead() throws {
        let rules = try RuleFixtures.load(
            journeys: ["p": Self.journey("p", entry: "{ when: user.plan == \"pro\" }")], templates: ["t"], settings: "explain: { trace: 20 }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        h.identify(user: "u", ["plan": "free"])
        h.track("ping", user: "u")
        let record = try #require(h.store.user("u")?.trace.last)
        #expect(record.input.hasPrefix("track \"ping\""))
        #expect(record.decisions.contains { $0.kind == .trigger && $0.journey == "p" && $0.verdict == "matched" })
        let entry = try #require(record.decisions.first { $0.kind == .entry })
        #expect(entry.verdict == "refused")
        #expect(entry.reason == "entry.condition user.plan == \"pro\" is false: user.plan = \"free\"")
        #expect(h.touches.isEmpty)
    }

    @Test func reentryQuietHoursCapsConsentAndTouchesSayWhy() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "once": Self.journey("once", entry: "{ reentry: once }"),
                "capped": Self.journey("capped", limits: "{ cap: { touches: 1, per: 24h, over: drop } }"),
                "quiet": Self.journey("quiet", limits: "{ quiet_hours: { from: \"21:00\", to: \"08:00\" } }"),
            ],
            templates: ["t"], settings: "explain: { trace: 20 }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        h.identify(user: "u", ["timezone": "Asia/Shanghai"])  // 20:00 local
        h.track("ping", user: "u")
        let first = Self.decisions(h)
        #expect(first.filter { $0.kind == .touch }.map(\.journey).sorted() == ["capped", "once", "quiet"])
        #expect(first.contains { $0.kind == .touch && $0.reason.hasPrefix("touch ") && $0.reason.contains("on email, template t") })

        h.advance(by: .hours(2))  // 22:00 local
        h.track("ping", user: "u")
        let second = Self.decisions(h)
        let reentry = try #require(second.first { $0.kind == .reentry && $0.journey == "once" })
        #expect(reentry.reason == "reentry: once; entered before at 2025-01-01T12:00:00.000Z")
        let cap = try #require(second.first { $0.kind == .cap && $0.journey == "capped" })
        #expect(cap.verdict == "dropped")
        #expect(cap.reason == "journey cap 1/1d: 1 touches since 2024-12-31T14:00:00.000Z")
        let quiet = try #require(second.first { $0.kind == .quietHours && $0.journey == "quiet" })
        #expect(quiet.verdict == "deferred until 2025-01-02T00:00:00.000Z")
        #expect(quiet.reason == "journey quiet hours 21:00–08:00 in Asia/Shanghai; local time 22:00")

        h.identify(user: "u", ["unsubscribed": ["email"]])
        h.advance(by: .hours(11))  // the deferred touch wakes at 08:00 local
        let woken = Self.decisions(h)
        #expect(h.store.user("u")?.trace.last?.input.hasPrefix("timer ") == true)
        let consent = try #require(woken.first { $0.kind == .consent })
        #expect(consent.journey == "quiet")
        #expect(consent.verdict == "suppressed")
        #expect(consent.reason == "user.unsubscribed = [\"email\"] closes channel email")
    }

    @Test func holdoutAndLateDecisionsSayWhy() throws {
        let rules = try RuleFixtures.load(
            journeys: [
                "h": Self.journey(
                    "h",
                    steps: """
                      - id: pick
                        split:
                          - { name: control, percent: 100, holdout: true }
                          - { name: treat, percent: 0, goto: hello }
                      - id: hello
                        send: email
                        template: t
                    """),
                "l": Self.journey(
                    "l", limits: "{ late: { after: 1h, then: skip } }",
                    steps: """
                      - wait: 1d
                      - id: hello
                        send: email
                        template: t
                    """),
            ],
            templates: ["t"], settings: "explain: { trace: 20 }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        h.track("ping", user: "u")
        let holdout = try #require(Self.decisions(h).first { $0.kind == .holdout })
        #expect(holdout.journey == "h")
        #expect(holdout.reason.hasPrefix("split arm control (100.0%)"))
        h.resumeAfterDowntime(at: ts("2025-01-02T15:00:00.000Z"))
        let trace = h.store.user("u")?.trace ?? []
        let late = try #require(trace.flatMap(\.decisions).first { $0.kind == .late && $0.journey == "l" })
        #expect(late.verdict == "late: then skip")
        #expect(late.reason == "timer due 2025-01-02T12:00:00.000Z fired 3h late, more than late.after 1h")
        #expect(trace.flatMap(\.decisions).contains { $0.kind == .late && $0.verdict == "skipped" })
    }

    @Test func theTraceKeepsTheNewestRecordsUpToItsSize() throws {
        let rules = try RuleFixtures.load(
            journeys: ["p": Self.journey("p")], templates: ["t"], settings: "explain: { trace: 3 }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        for i in 0..<5 {
            h.track("ping", user: "u", ["n": .number(Double(i))])
            h.advance(by: .minutes(1))
        }
        let trace = try #require(h.store.user("u")?.trace)
        #expect(trace.count == 3)
        #expect(trace.map(\.at) == (2..<5).map { ts("2025-01-01T12:00:00.000Z") + .minutes(Int64($0)) })
    }

    @Test func turnedOffItRecordsNothingAndDecidesTheSame() throws {
        func run(_ settings: String) throws -> EngineHarness {
            let rules = try RuleFixtures.load(
                journeys: ["p": Self.journey("p", limits: "{ cap: { touches: 2, per: 24h, over: drop } }")], templates: ["t"],
                settings: settings)
            var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
            for _ in 0..<4 {
                h.track("ping", user: "u")
                h.advance(by: .hours(1))
            }
            return h
        }
        let off = try run("explain: { trace: 0 }")
        let on = try run("explain: { trace: 10 }")
        #expect(off.store.user("u")?.trace.isEmpty == true)
        #expect(on.store.user("u")?.trace.count == 4)
        #expect(off.effects == on.effects)
    }

    @Test func theTraceSurvivesTheBinaryStateEncodingAndOldStateStillReads() throws {
        let rules = try RuleFixtures.load(
            journeys: ["p": Self.journey("p", entry: "{ when: user.plan == \"pro\" }")], templates: ["t"], settings: "explain: { trace: 20 }")
        var h = EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
        h.identify(user: "u", ["plan": "pro"])
        h.track("ping", user: "u")
        let state = try #require(h.store.user("u"))
        #expect(!state.trace.isEmpty)
        #expect(try UserState(id: "u", encoded: state.encoded()) == state)
        var withoutTrace = state
        withoutTrace.trace = []
        withoutTrace.traitsChangedAt = .distantPast  // format 3's fields, at their defaults
        var old = withoutTrace.encoded()
        old[0] = 1  // format 1: the same fields, no trace and none of format 3's
        var tail = ByteWriter()
        tail.varint(0)  // the empty trace count
        tail.string("")  // merged into: none
        tail.varint(0)  // aliases
        tail.timestamp(.distantPast)  // traits changed at
        tail.varint(0)  // segment rechecks
        old.removeLast(tail.bytes.count)
        #expect(try UserState(id: "u", encoded: old) == withoutTrace)
    }
}
