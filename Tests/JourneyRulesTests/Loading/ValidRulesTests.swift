import Foundation
import JourneyCore
import JourneyRules
import Testing

/// `Fixtures/valid/` uses every feature of the syntax; it must load without a single diagnostic, and
/// resolve to exactly this model.
@Suite("Valid rules")
struct ValidRulesTests {
    static let directory = LoaderFixtures.root + "/valid"

    func rules() throws -> RuleSet { try RuleLoader.load(directory: Self.directory) }

    func journey(_ id: String) throws -> Journey { try #require(try rules().journey(id: id)) }

    @Test func loadsWithoutDiagnostics() throws {
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: Self.directory)
        #expect(diagnostics.map(\.description) == [])
        let loaded = try #require(rules)
        #expect(
            loaded.journeys.map(\.id) == [
                "birthday", "cart_abandonment", "renewal", "tier_upgrade", "vip_segment", "welcome", "win_back",
            ])
        #expect(loaded.directory == Self.directory)
    }

    @Test func settings() throws {
        let s = try rules().settings
        #expect(s.defaultZone.identifier == "Asia/Shanghai")
        #expect(
            s.caps == [
                Cap(touches: 2, per: .days(1), over: .drop, channel: "email"),
                Cap(touches: 5, per: .days(7), over: .defer, channel: nil),
            ])
        #expect(s.quietHours == QuietHours(from: TimeOfDay(hour: 21, minute: 0), to: TimeOfDay(hour: 8, minute: 0)))
        #expect(s.dedupWindow == .days(3))
        #expect(s.dedupMaxEntries == 500_000)
        var daemon = DaemonSettings()
        daemon.statePath = "/var/lib/journeyd/state.db"
        daemon.fsyncEveryCommit = false
        daemon.spoolDirectory = "/var/spool/journeyd"
        daemon.spoolDone = .delete
        daemon.tailFile = "/var/log/app/events.jsonl"
        daemon.socketPath = "/run/journeyd/events.sock"
        daemon.socketListen = "127.0.0.1:5170"
        daemon.batchSize = 512
        daemon.controlSocket = "/run/journeyd/control.sock"
        daemon.watchRules = true
        daemon.reloadDebounce = .seconds(2)
        daemon.hashUserIDs = true
        daemon.deliveryConcurrency = 8
        daemon.expireAfter = .hours(6)
        #expect(s.daemonSettings == daemon)
        // Keys read by other modules are kept as written, typed like untyped values (`archive: no` stays text).
        #expect(s.daemon["metrics"] == ["archive": "no"])
        #expect(s.daemon.members?.map(\.key) == ["metrics"])
    }

    @Test func channels() throws {
        let rules = try rules()
        #expect(rules.channels.map(\.name) == ["email", "sms", "wecom-bot", "archive"])
        #expect(rules.channels.map(\.type) == ["log", "log", "wecom", "file"])
        let wecom = try #require(rules.channel(named: "wecom-bot"))
        #expect(wecom.options == ["webhook_file": "/run/credentials/journeyd/wecom", "retries": 3, "verify": true])
        #expect(wecom.file == "channels.yaml")
        #expect(wecom.line == 6)
        #expect(rules.channel(named: "archive")?.options == ["path": "touches.jsonl"])
    }

    @Test func templatesAreNamedUpToTheFirstDot() throws {
        let templates = try rules().templates
        #expect(
            templates.keys.sorted() == [
                "birthday", "cart_reminder", "gold_coupon", "renewal_reminder", "vip_thanks", "welcome", "win_back",
            ])
        let cart = try #require(templates["cart_reminder"])
        #expect(cart.file == "templates/cart_reminder.html.liquid")
        #expect(cart.source == "Hi {{ user.first_name | default: \"there\" }}, your cart misses you.\n")
    }

    @Test func eventTriggerEntryExitGoalLimits() throws {
        let j = try journey("cart_abandonment")
        #expect(j.description == "Remind shoppers who left a cart worth 50 or more.")
        #expect(j.file == "journeys/cart_abandonment.yaml")
        #expect(!j.transactional)
        guard case .event(let match) = j.trigger else {
            Issue.record("expected an event trigger")
            return
        }
        #expect(match.event == "cart_add")
        #expect(match.condition?.source == "event.properties.price >= 50")
        #expect(match.condition?.roots == [.event])
        #expect(j.entry.condition?.source == "user.country in [\"CN\", \"SG\", \"NO\"]")
        #expect(j.entry.condition?.roots == [.user])
        #expect(j.entry.key?.source == "event.properties.cart_id")
        #expect(j.entry.reentry == .always)
        #expect(j.exitWhen.map(\.event) == ["order_cancelled"])
        #expect(j.goal?.match.event == "purchase")
        #expect(j.goal?.within == .days(7))
        #expect(j.goal?.match.condition?.source == "event.properties.total > 0")
        #expect(j.limits.cap == Cap(touches: 1, per: .hours(24), over: .drop))
        #expect(j.limits.quietHours == QuietHours(from: TimeOfDay(hour: 21, minute: 0), to: TimeOfDay(hour: 8, minute: 0)))
        #expect(j.limits.late == LatePolicy(after: .hours(6), then: .skip))
        #expect(j.onChange == .pin)
    }

    @Test func versionIsTheStableHashOfTheFileBytes() throws {
        let j = try journey("cart_abandonment")
        let bytes = try #require(FileManager.default.contents(atPath: Self.directory + "/journeys/cart_abandonment.yaml"))
        var hash = StableHash()
        hash.combine(bytes: bytes)
        #expect(j.version == hash.hex)
        #expect(j.version.count == 16)
        #expect(try journey("birthday").version != j.version)
    }

    @Test func stepsResolveTargetsToIndices() throws {
        let j = try journey("cart_abandonment")
        #expect(
            j.steps.map(\.id) == [
                "wait_purchase", "holdout", "remind", "morning", "tier_check", "silver_nudge", "gold_coupon", "mark", "step9",
            ])
        #expect(j.steps.map(\.hasExplicitId) == [true, true, true, true, true, true, true, true, false])
        #expect(j.steps.map(\.line) == [20, 24, 28, 31, 33, 40, 44, 47, 54])

        guard case .waitFor(let w) = j.steps[0].kind else {
            Issue.record("steps[0] is a wait_for")
            return
        }
        #expect(w.match.event == "purchase")
        #expect(w.match.condition?.roots == [.event, .enrollment])
        #expect(w.timeout == .hours(1))
        #expect(w.onEvent == .exit)
        #expect(w.onTimeout == .step(1))

        guard case .split(let arms) = j.steps[1].kind else {
            Issue.record("steps[1] is a split")
            return
        }
        #expect(arms.map(\.name) == ["remind", "control"])
        #expect(arms.map(\.basisPoints) == [8750, 1250])
        #expect(arms.map(\.holdout) == [false, true])
        #expect(arms[0].target == .step(2))

        guard case .send(let send) = j.steps[2].kind else {
            Issue.record("steps[2] is a send")
            return
        }
        #expect(send.channel == "email")
        #expect(send.template == "cart_reminder")
        #expect(j.steps[2].next == .step(3))

        guard case .wait(.until(let time, let weekdays)) = j.steps[3].kind else {
            Issue.record("steps[3] waits until")
            return
        }
        #expect(time == TimeOfDay(hour: 10, minute: 0))  // unquoted 10:00 is not YAML 1.1 sexagesimal 600
        #expect(weekdays == [1, 2, 3, 4, 5])

        guard case .branch(let branchArms, let otherwise) = j.steps[4].kind else {
            Issue.record("steps[4] is a branch")
            return
        }
        #expect(branchArms.map(\.target) == [.step(6), .step(5)])
        #expect(
            branchArms.map(\.condition.source) == [
                "user.tier == \"gold\"", "user.tier == \"silver\" and count(\"purchase\", within: 30d) == 0",
            ])
        #expect(otherwise == .exit)

        #expect(j.steps[5].next == .step(7))  // next: mark
        #expect(j.steps[6].next == .step(7))  // falls through

        guard case .update(let updates) = j.steps[7].kind else {
            Issue.record("steps[7] is an update")
            return
        }
        let described = updates.map { update -> String in
            switch update {
            case .set(let k, let v): return "set \(k)=\(v.jsonText)"
            case .increment(let k, let n): return "increment \(k) by \(n)"
            case .unset(let k): return "unset \(k)"
            case .addTag(let t): return "add \(t)"
            case .removeTag(let t): return "remove \(t)"
            }
        }
        #expect(
            described == [
                "set last_cart_journey=\"done\"", "set zip=\"01234\"", "set version=1.1", "set score=4.5", "set flag=true",
                "set nothing=null", "increment cart_reminders by 1.0", "increment balance by -2.5", "unset cart_draft",
                "add reminded", "remove fresh",
            ])
        guard case .exit = j.steps[8].kind else {
            Issue.record("steps[8] is exit")
            return
        }
        #expect(j.steps[8].next == .exit)
        #expect(j.stepIndex(id: "step9") == 8)
    }

    @Test func dateTriggerOffsetsAndTime() throws {
        let j = try journey("birthday")
        #expect(j.description == "A birthday greeting a week ahead, every year.\n")
        guard case .date(let date) = j.trigger else {
            Issue.record("expected a date trigger")
            return
        }
        #expect(date.trait == "birthday")
        #expect(date.offsetDays == -7)
        #expect(date.at == TimeOfDay(hour: 10, minute: 0))
        #expect(date.yearly)
    }

    @Test func traitTriggerWithToCompilesToAnEquality() throws {
        let j = try journey("tier_upgrade")
        guard case .traitChange(let trait, let condition) = j.trigger else {
            Issue.record("expected a trait trigger")
            return
        }
        #expect(trait == "tier")
        #expect(condition?.source == "user.tier == \"gold\"")
        #expect(condition?.roots == [.user])
        #expect(j.entry.reentry == .after(.days(180)))
        #expect(j.onChange == .follow)
        #expect(j.steps.map(\.id) == ["step1", "step2", "step3"])
        #expect(j.steps.allSatisfy { !$0.hasExplicitId })
        guard case .enroll(let other) = j.steps[2].kind else {
            Issue.record("steps[2] enrolls")
            return
        }
        #expect(other == "vip_segment")
        #expect(j.steps[2].next == .exit)
    }

    @Test func traitTriggerWithWhenAndUntilDateWaits() throws {
        let j = try journey("renewal")
        #expect(j.file == "journeys/renewal.yml")
        guard case .traitChange(let trait, let condition) = j.trigger else {
            Issue.record("expected a trait trigger")
            return
        }
        #expect(trait == "renewal_date")
        #expect(condition?.source == "exists(user.renewal_date) and user.plan != \"free\"")
        #expect(j.entry.reentry == .once)
        guard case .wait(.untilDate(let t1, let o1, let at1, let missing1)) = j.steps[0].kind else {
            Issue.record("steps[0] waits until a date")
            return
        }
        #expect((t1, o1, at1, missing1) == ("renewal_date", -3, TimeOfDay(hour: 9, minute: 0), .exit))
        guard case .wait(.duration(let week)) = j.steps[2].kind else {
            Issue.record("steps[2] waits 7d")
            return
        }
        #expect(week == .days(7))
        guard case .branch(let arms, let otherwise) = j.steps[3].kind else {
            Issue.record("steps[3] is a branch")
            return
        }
        #expect(arms.map(\.target) == [.step(1)])  // a loop that passes a wait
        #expect(arms[0].condition.roots == [.enrollment])
        #expect(otherwise == .step(4))
        guard case .wait(.untilDate(_, let o2, let at2, let missing2)) = j.steps[4].kind else {
            Issue.record("steps[4] waits until a date")
            return
        }
        #expect((o2, at2, missing2) == (1, TimeOfDay(hour: 9, minute: 0), .step(5)))
        guard case .waitFor(let w) = j.steps[5].kind else {
            Issue.record("steps[5] is a wait_for")
            return
        }
        #expect(w.timeout == .days(2))
        #expect(w.onEvent == .exit)
        #expect(w.onTimeout == .step(6))
        #expect(j.steps[6].next == .exit)
    }

    @Test func segmentTriggerExitListTransactional() throws {
        let j = try journey("vip_segment")
        #expect(j.transactional)
        guard case .segment(let condition) = j.trigger else {
            Issue.record("expected a segment trigger")
            return
        }
        #expect(condition.roots == [.user])
        #expect(condition.historyNeeds == [HistoryNeed(event: "purchase", property: "price", within: .days(90))])
        #expect(j.exitWhen.map(\.event) == ["unsubscribe", "*"])
        #expect(j.exitWhen[0].condition == nil)
        #expect(j.exitWhen[1].condition?.source == "event.properties.vip_opt_out == true")
        #expect(j.goal?.within == nil)
        guard case .wait(.duration(let span)) = j.steps[0].kind else {
            Issue.record("steps[0] waits")
            return
        }
        #expect(span == .hours(2))
        guard case .exit = j.steps[2].kind else {
            Issue.record("steps[2] exits")
            return
        }
        #expect(j.steps[2].id == "done")
        #expect(j.steps[2].hasExplicitId)
    }

    @Test func splitDefaultsAndAnyEventTrigger() throws {
        let j = try journey("win_back")
        guard case .event(let match) = j.trigger else {
            Issue.record("expected an event trigger")
            return
        }
        #expect(match.event == "*")
        #expect(match.condition == nil)
        #expect(j.entry.condition?.roots == [.user, .event])
        #expect(j.exitWhen.map(\.event) == ["*"])
        guard case .split(let arms) = j.steps[1].kind else {
            Issue.record("steps[1] is a split")
            return
        }
        #expect(arms.map(\.name) == ["variant_a", "variant_b", "variant_c"])
        #expect(arms.map(\.basisPoints) == [3333, 3333, 3334])
        #expect(arms.map(\.holdout) == [false, false, true])
        #expect(arms[0].target == .step(2))
        #expect(arms[1].target == .step(3))
        #expect(j.steps[2].next == .exit)
        #expect(j.steps.map(\.id) == ["step1", "step2", "step3", "sms_arm"])
    }

    @Test func traitValuesInTestsKeepTheirText() throws {
        let rules = try rules()
        let test = try #require(rules.tests.first { $0.name == "cart reminder goes out after an hour" })
        #expect(test.users.count == 1)
        #expect(test.users[0].id == "u1")
        #expect(
            test.users[0].traits == [
                "country": "NO", "timezone": "Asia/Shanghai", "zip": "01234", "version": 1.1, "age": 41, "vip": false,
                "nickname": nil, "note": "yes",
            ])
        #expect(test.expect.traits["u1"] == ["tier": "gold", "zip": "01234"])
    }

    @Test func testEventsTimesAndExpectations() throws {
        let rules = try rules()
        #expect(
            rules.tests.map(\.name) == [
                "cart reminder goes out after an hour", "nobody else gets anything", "renewal reminder three days before",
            ])
        let test = rules.tests[0]
        #expect(test.file == "tests/cart.yaml")
        #expect(test.line == 2)
        #expect(test.journeys == ["cart_abandonment"])
        #expect(test.start == Timestamp(iso8601: "2025-01-06T00:00:00Z"))
        let t0 = try #require(Timestamp(iso8601: "2025-01-06T10:00:00Z"))
        #expect(
            test.events.map(\.timestamp) == [
                t0, t0 + .minutes(30), t0 + .minutes(35), t0 + .minutes(36), t0 + .minutes(37), t0 + .minutes(38),
                t0 + .minutes(39),
            ])
        #expect(test.events.map(\.kind) == [.track, .identify, .page, .screen, .group, .alias, .track])
        #expect(test.events[0].name == "cart_add")
        #expect(test.events[0].properties == ["price": 80, "cart_id": "c1"])
        #expect(test.events[0].messageId == "tests/cart.yaml:8:9")
        #expect(test.events[1].traits == ["tier": "gold"])
        #expect(test.events[2].name == "Home")
        #expect(test.events[3].messageId == "m-screen-1")
        #expect(test.events[4].groupId == "acme")
        #expect(test.events[4].traits == ["plan": "pro"])
        #expect(test.events[5].previousId == "anon-42")
        #expect(test.events[6].userId == "anon-7")
        #expect(test.events[6].anonymousId == "anon-7")
        #expect(Set(test.events.map(\.messageId)).count == test.events.count)
        #expect(test.outages == [JourneyTest.Outage(from: t0 + .minutes(99), to: t0 + .minutes(99) + .hours(8))])
        #expect(test.runUntil == t0 + .minutes(99) + .days(7))
        let touch = try #require(test.expect.touches.first)
        #expect(
            touch.description
                == "{user: u1, journey: cart_abandonment, step: remind, channel: email, template: cart_reminder, at: 2025-01-06T11:00:00.000Z}"
        )
        #expect(touch.line == 19)
        #expect(!test.expect.exact)
        #expect(test.expect.noTouches.map(\.description) == ["{user: u2}", "{step: silver_nudge}"])
        #expect(
            test.expect.funnel == [
                "cart_abandonment": ["entered": 1, "converted": 0, "reached.remind": 1, "exited.goal": 0, "held_out": 0]
            ])

        let second = rules.tests[1]
        #expect(second.journeys == [])
        #expect(second.start == t0)
        #expect(second.runUntil == t0 + .days(400))
        #expect(second.expect.exact)
        #expect(second.expect.touches.isEmpty)

        let renewal = rules.tests[2]
        #expect(renewal.file == "tests/renewal.yaml")
        #expect(renewal.runUntil == Timestamp(iso8601: "2025-04-01T00:00:00Z"))
        #expect(renewal.events[0].traits == ["plan": "pro", "renewal_date": "2025-03-20"])
    }
}
