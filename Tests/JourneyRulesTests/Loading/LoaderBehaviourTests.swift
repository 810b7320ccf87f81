import Foundation
import JourneyCore
import JourneyRules
import JourneyTesting
import Testing

@Suite("Rule loader behaviour")
struct LoaderBehaviourTests {
    // MARK: - Every problem at once

    @Test func errorsInSeveralFilesAreReportedTogether() {
        let directory = LoaderFixtures.root + "/invalid/many-files"
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory, channelTypes: LoaderFixtures.channelTypes)
        #expect(rules == nil)
        let files = Set(diagnostics.filter { $0.severity == .error }.map(\.file))
        #expect(
            files == [
                "journeyd.yaml", "channels.yaml", "journeys/a.yaml", "journeys/b.yaml", "journeys/c.yaml", "tests/t.yaml",
                "templates/a.txt",
            ])
        // Two problems in one channels.yaml, both reported.
        #expect(diagnostics.filter { $0.file == "channels.yaml" }.count == 2)
    }

    @Test func severalProblemsInOneFileAreAllReported() throws {
        let (rules, lines) = try LoaderFixtures.report(
            LoaderFixtures.journey(
                """
                journey: j
                trigger: { event: signup, where: user.x === 1 }
                on_change: sometimes
                steps:
                  - send: emial
                    template: nope
                  - wait: 1 hour
                  - branch:
                      - if: user.vip == true
                        goto: nowhere
                """))
        #expect(rules == nil)
        #expect(
            lines == [
                "journeys/j.yaml:2:43: trigger.where: use `==` to compare (`=` alone is not an operator)",
                "journeys/j.yaml:3:12: on_change: expected pin or follow, found `sometimes`",
                "journeys/j.yaml:5:11: steps[0].send: unknown channel \"emial\"; did you mean \"email\"? (known: email, sms, wecom)",
                "journeys/j.yaml:6:15: steps[0].template: unknown template \"nope\" (no file templates/nope.*)",
                "journeys/j.yaml:7:11: steps[1].wait: expected a duration like 30m, 1h, 7d, found `1 hour`",
                "journeys/j.yaml:10:15: steps[2].branch[0].goto: unknown step \"nowhere\" (a target is a step id, next or exit)",
            ])
    }

    // MARK: - Positions

    @Test func linesAndColumnsAreOneBased() throws {
        let (_, lines) = try LoaderFixtures.report(
            LoaderFixtures.journey(
                """
                bogus: 1
                journey: j
                trigger: { event: signup }
                steps:
                  - { send: email, template: t, bogus: 2 }
                """))
        #expect(
            lines == [
                "journeys/j.yaml:1:1: bogus: unknown key \"bogus\" (expected journey, description, transactional, trigger, entry, exit_when, goal, limits, on_change or steps)",
                "journeys/j.yaml:5:33: steps[0].bogus: unknown key \"bogus\" (expected id, send, wait, wait_for, branch, split, update, enroll, exit, template, on_event, on_timeout or next)",
            ])
    }

    /// Expression errors point at the exact character: the scalar's position plus the offset inside it,
    /// across quotes, escapes, `''`, non-ASCII text and folded lines.
    @Test(arguments: [
        // (the `where:` value as written, expected line:column of the error: the third `=` of `===`)
        ("user.x === 1", "4:19"),
        ("\"user.x === 1\"", "4:20"),
        ("\"\\\"a\\\" == \\\"\\u00e9\\\" or user.x === 1\"", "4:43"),
        ("'user.name == ''it'' or user.x === 1'", "4:43"),
        ("'\"é\" == \"é\" or user.x === 1'", "4:34"),
        ("user.vip == true and\n      user.x === 1", "5:16"),
        ("\"user.vip == true and\n      user.x === 1\"", "5:16"),
        ("|\n      user.x === 1", "4:10"),
        (">-\n      user.x === 1", "4:10"),
    ])
    func expressionErrorsAreMappedIntoTheFile(written: String, expected: String) throws {
        let (_, lines) = try LoaderFixtures.report(
            LoaderFixtures.journey(
                """
                journey: j
                trigger:
                  event: signup
                  where: \(written)
                steps: [exit]
                """))
        #expect(lines.count == 1)
        let location = lines.first?.split(separator: ":").dropFirst().prefix(2).joined(separator: ":")
        #expect(location == expected, "\(lines)")
        #expect(lines.first?.contains("trigger.where: ") == true)
    }

    @Test func tabsAndSyntaxErrorsGetThePositionFromYams() throws {
        let (_, lines) = try LoaderFixtures.report(
            LoaderFixtures.journey("journey: j\ntrigger: { event: [signup }\nsteps: [exit]\n"))
        #expect(
            lines == [
                "journeys/j.yaml:2:27: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 19)"
            ])
    }

    // MARK: - YAML 1.1 scalars

    @Test func norwayStaysAStringAndOtherYAML11ScalarsKeepTheirText() throws {
        let rules = try LoaderFixtures.load(
            LoaderFixtures.journey(
                """
                journey: j
                trigger: { trait: country, to: NO }
                steps:
                  - update:
                      set: { country: NO, on: on, off: Off, y: y, zip: 01234, octal: 0o17, hex: 0x1F, version: 1.10,
                             n: -12, e: 1e3, inf: .inf, t: True, f: FALSE, quoted: "true", quoted_number: "42", nil: ~ }
                """,
                templates: [],
                extra: [
                    "tests/t.yaml": """
                    name: t
                    users: { u1: { country: NO, answer: yes, answer_off: off, phone: +8613800138000, balance: -0.5, zero: 0 } }
                    events: [ { at: 2025-01-06T10:00:00Z, user: u1, identify: { country: NO, zip: 01234 } } ]
                    expect: { traits: { u1: { country: NO } } }
                    """
                ]))
        let j = try #require(rules.journey(id: "j"))
        guard case .traitChange(_, let condition) = j.trigger else {
            Issue.record("a trait trigger")
            return
        }
        #expect(condition?.source == "user.country == \"NO\"")
        guard case .update(let updates) = j.steps[0].kind else {
            Issue.record("an update")
            return
        }
        var set = Value.emptyObject
        for case .set(let key, let value) in updates { set.set(key, to: value) }
        #expect(
            set == [
                "country": "NO", "on": "on", "off": "Off", "y": "y", "zip": "01234", "octal": "0o17", "hex": "0x1F",
                "version": 1.1,
                "n": -12, "e": 1000, "inf": ".inf", "t": true, "f": false, "quoted": "true", "quoted_number": "42", "nil": nil,
            ])
        let test = try #require(rules.tests.first)
        #expect(test.users[0].traits == [
            "country": "NO", "answer": "yes", "answer_off": "off", "phone": "+8613800138000", "balance": -0.5, "zero": 0,
        ])
        #expect(test.events[0].traits == ["country": "NO", "zip": "01234"])
        #expect(test.expect.traits["u1"] == ["country": "NO"])
    }

    @Test func booleansAreOnlyTrueAndFalse() throws {
        for (text, ok) in [("true", true), ("false", true), ("yes", false), ("on", false), ("True", false), ("1", false)] {
            let (rules, lines) = try LoaderFixtures.report(
                LoaderFixtures.journey("journey: j\ntransactional: \(text)\ntrigger: { event: e }\nsteps: [exit]\n"))
            #expect((rules != nil) == ok, "transactional: \(text) → \(lines)")
            if !ok { #expect(lines == ["journeys/j.yaml:2:16: transactional: expected true or false, found `\(text)`"]) }
        }
    }

    @Test func stringsWhereStringsAreExpected() throws {
        // Event names, channel names, trait names and ids that YAML 1.1 would turn into booleans or numbers.
        let rules = try LoaderFixtures.load([
            "channels.yaml": "channels:\n  - { name: y, type: log }\n",
            "templates/01234.liquid": "x",
            "journeys/j.yaml": """
            journey: j
            trigger: { event: NO, where: event.properties.v == "1.10" }
            exit_when: { event: 1.10 }
            steps:
              - send: y
                template: 01234
              - wait: { until_date: 0777, before: 1d }
            """,
        ])
        let j = try #require(rules.journey(id: "j"))
        guard case .event(let match) = j.trigger else {
            Issue.record("an event trigger")
            return
        }
        #expect(match.event == "NO")
        #expect(j.exitWhen.first?.event == "1.10")
        guard case .send(let send) = j.steps[0].kind else {
            Issue.record("a send")
            return
        }
        #expect(send.channel == "y")
        #expect(send.template == "01234")
        guard case .wait(.untilDate(let trait, _, _, _)) = j.steps[1].kind else {
            Issue.record("a wait")
            return
        }
        #expect(trait == "0777")
    }

    // MARK: - Warnings, files and directories

    @Test func warningsDoNotFailALoad() throws {
        let (rules, lines) = try LoaderFixtures.report(
            LoaderFixtures.journey(
                "journey: other_name\ntrigger: { event: e }\nsteps: [exit]\n", name: "j",
                extra: ["journeys/README.md": "notes", "journeys/.hidden.yaml": "not: read", "journeys/j.yaml~": "backup"]))
        #expect(rules?.journeys.map(\.id) == ["other_name"])
        #expect(
            lines == [
                "journeys/README.md: warning: ignored: files in journeys/ are read only when they end in .yaml or .yml",
                "journeys/j.yaml:1:10: warning: journey: journey \"other_name\" is in a file named j.yaml; name the file other_name.yaml to keep it findable",
            ])
    }

    @Test func aMissingDirectoryIsAnError() {
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: "/nonexistent/journeyd-rules")
        #expect(rules == nil)
        #expect(diagnostics.map(\.description) == ["/nonexistent/journeyd-rules: no such rule directory"])
    }

    @Test func optionalFilesMayBeMissingOrEmpty() throws {
        let rules = try LoaderFixtures.load([
            "journeyd.yaml": "# nothing set\n",
            "journeys/j.yaml": "journey: j\ntrigger: { event: e }\nsteps: [exit]\n",
        ])
        #expect(rules.channels.isEmpty)
        #expect(rules.settings.defaultZone.identifier == "UTC")
        #expect(rules.settings.dedupWindow == .days(7))
        let (_, lines) = try LoaderFixtures.report([
            "journeys/j.yaml": "journey: j\ntrigger: { event: e }\nsteps:\n  - send: email\n    template: t\n",
            "templates/t.liquid": "x",
        ])
        #expect(
            lines == [
                "journeys/j.yaml:4:11: steps[0].send: unknown channel \"email\" (known: none: channels.yaml defines no channel)"
            ])
    }

    @Test func nonUTF8FilesAreReported() throws {
        let directory = try RuleFixtures.directory(["journeys/j.yaml": "journey: j\n", "templates/t.liquid": "x"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data([0x6a, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).write(to: URL(fileURLWithPath: directory + "/journeys/j.yaml"))
        try Data([0xc3, 0x28]).write(to: URL(fileURLWithPath: directory + "/templates/t.liquid"))
        #expect(
            LoaderFixtures.diagnosticLines(directory) == [
                "journeys/j.yaml: the file is not valid UTF-8 text",
                "templates/t.liquid: the template is not valid UTF-8 text",
            ])
    }

    // MARK: - Model details

    @Test func nextInTargetsMeansTheStepsNext() throws {
        let rules = try LoaderFixtures.load(
            LoaderFixtures.journey(
                """
                journey: j
                trigger: { event: e }
                steps:
                  - wait_for: { event: reply, timeout: 1h }
                    next: last
                    on_event: next
                    on_timeout: skipped
                  - id: skipped
                    send: email
                    template: t
                    next: next
                  - id: last
                    split:
                      - { percent: 100, goto: next }
                """))
        let j = try #require(rules.journey(id: "j"))
        guard case .waitFor(let w) = j.steps[0].kind else {
            Issue.record("a wait_for")
            return
        }
        #expect(w.onEvent == .step(2))
        #expect(w.onTimeout == .step(1))
        #expect(j.steps[0].next == .step(2))
        #expect(j.steps[1].next == .step(2))
        guard case .split(let arms) = j.steps[2].kind else {
            Issue.record("a split")
            return
        }
        #expect(arms[0].target == .exit)
    }

    @Test func reentryForms() throws {
        for (written, expected) in [
            ("once", Entry.Reentry.once), ("always", .always), ("{ after: 7d }", .after(.days(7))),
            ("{after: 36h}", .after(.hours(36))),
        ] {
            let rules = try LoaderFixtures.load(
                LoaderFixtures.journey("journey: j\ntrigger: { event: e }\nentry: { reentry: \(written) }\nsteps: [exit]\n"))
            #expect(rules.journeys[0].entry.reentry == expected)
        }
        let noEntry = try LoaderFixtures.load(LoaderFixtures.journey("journey: j\ntrigger: { event: e }\nsteps: [exit]\n"))
        #expect(noEntry.journeys[0].entry.reentry == .once)
        #expect(noEntry.journeys[0].entry.condition == nil)
    }

    @Test func dateTriggerDefaultsAndOffsets() throws {
        for (extra, offset, at, yearly) in [
            ("", 0, "09:00", false), ("after: 30d", 30, "09:00", false),
            ("before: 2w\n  at: \"18:30\"\n  every: year", -14, "18:30", true),
        ] {
            let rules = try LoaderFixtures.load(
                LoaderFixtures.journey("journey: j\ntrigger:\n  date: signup_at\n  \(extra)\nsteps: [exit]\n"))
            guard case .date(let d) = rules.journeys[0].trigger else {
                Issue.record("a date trigger")
                continue
            }
            #expect(d.trait == "signup_at")
            #expect(d.offsetDays == offset)
            #expect(d.at == TimeOfDay(parsing: at))
            #expect(d.yearly == yearly)
        }
    }

    @Test func traitTriggerForms() throws {
        let cases: [(String, String?)] = [
            ("trait: tier", nil),
            ("trait: tier\n  to: gold", "user.tier == \"gold\""),
            ("trait: visits\n  to: 3", "user.visits == 3"),
            ("trait: vip\n  to: true", "user.vip == true"),
            ("trait: zip\n  to: 01234", "user.zip == \"01234\""),
            ("trait: \"plan name\"\n  to: 'pro \"max\"'", "user[\"plan name\"] == \"pro \\\"max\\\"\""),
            ("trait: tier\n  when: user.tier in [\"gold\", \"platinum\"]", "user.tier in [\"gold\", \"platinum\"]"),
        ]
        for (written, expected) in cases {
            let rules = try LoaderFixtures.load(LoaderFixtures.journey("journey: j\ntrigger:\n  \(written)\nsteps: [exit]\n"))
            guard case .traitChange(_, let condition) = rules.journeys[0].trigger else {
                Issue.record("a trait trigger")
                continue
            }
            #expect(condition?.source == expected)
        }
    }

    @Test func splitPercentagesAreExactInBasisPoints() throws {
        let rules = try LoaderFixtures.load(
            LoaderFixtures.journey(
                """
                journey: j
                trigger: { event: e }
                steps:
                  - split:
                      - { percent: 0.01 }
                      - { percent: 12.5 }
                      - { percent: "33.3" }
                      - { percent: 54.19 }
                      - { percent: 0 }
                  - exit
                """))
        guard case .split(let arms) = rules.journeys[0].steps[0].kind else {
            Issue.record("a split")
            return
        }
        #expect(arms.map(\.basisPoints) == [1, 1250, 3330, 5419, 0])
        #expect(arms.map(\.name) == ["variant_a", "variant_b", "variant_c", "variant_d", "variant_e"])
    }

    @Test func globalCapsAndQuietHours() throws {
        let rules = try LoaderFixtures.load([
            "channels.yaml": RuleFixtures.defaultChannels,
            "journeyd.yaml":
                "policy:\n  caps:\n    - { touches: 3, per: 1d }\n    - { channel: sms, touches: 1, per: 1w, over: defer }\n  quiet_hours: { from: \"22:30\", to: \"07:00\" }\n",
        ])
        #expect(
            rules.settings.caps == [
                Cap(touches: 3, per: .days(1)), Cap(touches: 1, per: .days(7), over: .defer, channel: "sms"),
            ])
        #expect(rules.settings.quietHours?.contains(TimeOfDay(hour: 23, minute: 0)) == true)
        #expect(rules.settings.quietHours?.contains(TimeOfDay(hour: 7, minute: 0)) == false)
    }

    @Test func theDefaultTestHorizonAndRelativeTimes() throws {
        let rules = try LoaderFixtures.load([
            "tests/t.yaml": """
            name: t
            start: 2025-01-01T00:00:00Z
            events:
              - { at: +1d, user: u, track: a }
              - { at: +2h30m, user: u, track: b }
            run_until: +1w
            """
        ])
        let test = try #require(rules.tests.first)
        let start = try #require(Timestamp(iso8601: "2025-01-01T00:00:00Z"))
        #expect(test.start == start)
        #expect(test.events.map(\.timestamp) == [start + .days(1), start + .days(1) + .minutes(150)])
        #expect(test.runUntil == start + .days(1) + .minutes(150) + .days(7))
    }
}

@Suite("Rule loader limits")
struct LoaderLimitTests {
    /// A "billion laughs" document composes cheaply (Yams shares aliased nodes) but would expand
    /// exponentially when its values are read; the loader stops at 100,000 values and says so.
    @Test func aliasBombsAreRefused() throws {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let (rules, lines) = try LoaderFixtures.report([
            "tests/t.yaml": "name: t\nusers:\n  u1:\n    payload: &bomb\n      " + yaml.replacingOccurrences(of: "\n", with: "\n      ")
                + "\nevents: [ { at: 2025-01-06T10:00:00Z, user: u1, track: e } ]\n"
        ])
        #expect(rules == nil)
        #expect(lines.count == 1)
        #expect(lines.first?.contains("too many values: aliases expand this file to more than 100,000 values") == true)
    }

    /// Found by the rule loader's fuzz target: duplicate keys nested in other mappings were reported in
    /// a dictionary's order, which changed from one load of the same text to the next.
    @Test func theSameTextGivesTheSameDiagnosticsInTheSameOrder() {
        let source = """
            journey: dup
            t-igger:
              event: signup
              event: login
            steps:
              - send: email
                template: reminder
                template: other
              - awit: { for: 1h, for: 2h }
            journey: dup
            """
        let first = RuleLoader.compileJourney(source: source, file: "journeys/dup.yaml", channels: ["email"], templates: []).1
        #expect(first.count >= 4)
        for _ in 0..<50 {
            #expect(RuleLoader.compileJourney(source: source, file: "journeys/dup.yaml", channels: ["email"], templates: []).1 == first)
        }
    }
}
