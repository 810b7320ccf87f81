public import JourneyCore
import JourneyEngine
public import JourneyRules
import Foundation

/// The outcome of one journey test.
public struct TestResult: Sendable {
    public var name: String
    public var file: String
    public var line: Int
    /// Empty when the test passed. Each entry is one readable sentence.
    public var failures: [String]
    public var touches: [Touch]
    public var seconds: Double

    public var passed: Bool { failures.isEmpty }
}

/// Runs `tests/*.yaml` through the real engine on a simulated clock with dry-run channels: nothing is
/// sent, touches are collected and compared with the expectations.
public enum TestRunner {
    public static func run(_ tests: [JourneyTest], rules: RuleSet) -> [TestResult] {
        tests.map { run($0, rules: rules) }
    }

    public static func run(_ test: JourneyTest, rules: RuleSet) -> TestResult {
        let started = DispatchTime.now().uptimeNanoseconds
        var scoped = rules
        if !test.journeys.isEmpty {
            scoped.journeys = rules.journeys.filter { test.journeys.contains($0.id) }
        }
        var simulator = Simulator(rules: scoped, start: test.start)
        simulator.outages = test.outages
        var touches: [Touch] = []
        var funnel = Funnel()
        let observe: (Effect) -> Void = { effect in
            funnel.record(effect)
            if case .touch(let touch) = effect { touches.append(touch) }
        }
        for (id, traits) in test.users {
            simulator.feed(Event.identify(user: id, at: test.start, traits: traits, messageId: "test-setup-\(id)"), observe: observe)
        }
        for event in test.events { simulator.feed(event, observe: observe) }
        simulator.advance(to: test.runUntil, observe: observe)

        var failures: [String] = []
        var unmatched = Array(touches.indices)
        for pattern in test.expect.touches {
            if let hit = unmatched.firstIndex(where: { pattern.matches(touches[$0]) }) {
                unmatched.remove(at: hit)
            } else {
                failures.append("expected touch \(pattern) (line \(pattern.line)) was not produced")
            }
        }
        if test.expect.exact {
            for index in unmatched { failures.append("unexpected touch \(describe(touches[index]))") }
        }
        for pattern in test.expect.noTouches {
            for touch in touches where pattern.matches(touch) {
                failures.append("touch \(describe(touch)) matches no_touches \(pattern) (line \(pattern.line))")
            }
        }
        for journeyID in test.expect.funnel.keys.sorted() {
            let counters = funnel.journeys[journeyID] ?? Funnel.Counters()
            for (name, expected) in test.expect.funnel[journeyID]!.sorted(by: { $0.key < $1.key }) {
                let actual = counters.value(named: name)
                if actual != expected {
                    failures.append("funnel \(journeyID).\(name): expected \(expected), got \(actual.map(String.init) ?? "no such counter")")
                }
            }
        }
        for user in test.expect.traits.keys.sorted() {
            let actual = simulator.store.user(user)?.traits ?? .emptyObject
            for member in test.expect.traits[user]?.members ?? [] {
                let got = actual[member.key] ?? .null
                if got != member.value {
                    failures.append("trait \(user).\(member.key): expected \(member.value.jsonText), got \(got.jsonText)")
                }
            }
        }
        if failures.isEmpty == false, !touches.isEmpty {
            failures.append("touches produced:\n" + touches.map { "    " + describe($0) }.joined(separator: "\n"))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return TestResult(name: test.name, file: test.file, line: test.line, failures: failures, touches: touches, seconds: seconds)
    }

    static func describe(_ t: Touch) -> String {
        "{at: \(t.at.iso8601), user: \(t.user), journey: \(t.journey), step: \(t.step), channel: \(t.channel), template: \(t.template)}"
    }

    /// JUnit XML, one `<testsuite>` per test file: what CI systems display.
    public static func junitXML(_ results: [TestResult]) -> String {
        var files: [String] = []
        for r in results where !files.contains(r.file) { files.append(r.file) }
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let failures = results.filter { !$0.passed }.count
        xml += "<testsuites name=\"journeyd\" tests=\"\(results.count)\" failures=\"\(failures)\">\n"
        for file in files {
            let suite = results.filter { $0.file == file }
            let time = suite.map(\.seconds).reduce(0, +)
            xml += "  <testsuite name=\"\(escape(file))\" tests=\"\(suite.count)\" failures=\"\(suite.filter { !$0.passed }.count)\" time=\"\(seconds(time))\">\n"
            for r in suite {
                xml += "    <testcase classname=\"\(escape(file))\" name=\"\(escape(r.name))\" time=\"\(seconds(r.seconds))\""
                if r.passed {
                    xml += "/>\n"
                } else {
                    let message = r.failures.first ?? ""
                    xml += ">\n      <failure message=\"\(escape(message))\">\(escape(r.failures.joined(separator: "\n")))</failure>\n    </testcase>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    private static func seconds(_ s: Double) -> String { String(format: "%.3f", s) }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 cannot carry most control characters at all.
                if ch.value < 0x20 && ch != "\n" && ch != "\t" && ch != "\r" { out += "\u{FFFD}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }
}

extension TouchPattern {
    public func matches(_ touch: Touch) -> Bool {
        (user == nil || user == touch.user) && (journey == nil || journey == touch.journey)
            && (step == nil || step == touch.step) && (channel == nil || channel == touch.channel)
            && (template == nil || template == touch.template) && (at == nil || at == touch.at)
    }
}
