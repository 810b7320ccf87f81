import Foundation
import JourneyCore
import JourneyEvents
import JourneyRules
import JourneySimulation
import JourneyTesting
import PropertyBased
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("journeyd-\(UUID().uuidString)-\(name)").path
}

func writeStream(_ configuration: EventGenerator.Configuration, to path: String) throws {
    let out = try OutputFile(path: path)
    for event in EventGenerator(configuration) {
        try out.write { event.jsonValue.writeJSON(into: &$0); $0.append(10) }
    }
    try out.close()
}

func replay(_ events: String, rules: RuleSet) throws -> (touches: String, report: Replay.Report) {
    let output = temporaryPath("touches.jsonl")
    defer { try? FileManager.default.removeItem(atPath: output) }
    let sink = try OutputFile(path: output)
    var rejections: [EventRejection] = []
    let report = try Replay.run(path: events, rules: rules, touches: sink, reject: { rejections.append($0) })
    try sink.close()
    #expect(rejections.isEmpty, "\(rejections.prefix(3))")
    return (try String(contentsOfFile: output, encoding: .utf8), report)
}

@Suite("Replay")
struct ReplayTests {
    @Test func theGeneratorIsDeterministic() throws {
        let config = EventGenerator.Configuration(users: 50, events: 500, seed: 9)
        let a = EventGenerator(config).map(\.jsonValue.jsonText)
        let b = EventGenerator(config).map(\.jsonValue.jsonText)
        var other = config
        other.seed = 10
        #expect(a == b)
        #expect(a != EventGenerator(other).map(\.jsonValue.jsonText))
        #expect(a.count == 500)
        // Every line is a valid Segment event, in time order.
        let parser = SegmentEventParser()
        var last = Timestamp.distantPast
        for line in a {
            let event = try parser.parse(line).get()
            #expect(event.timestamp >= last)
            last = event.timestamp
        }
    }

    @Test func theSameInputGivesByteIdenticalReplayOutput() async throws {
        let rules = try RuleLoader.load(directory: repositoryRoot + "/rules")
        await propertyCheck(count: 4, input: Gen.int(in: 1...1_000_000)) { seed in
            let events = temporaryPath("events.jsonl")
            defer { try? FileManager.default.removeItem(atPath: events) }
            try! writeStream(.init(users: 300, events: 6000, span: .days(60), seed: UInt64(seed)), to: events)
            let first = try! replay(events, rules: rules)
            let second = try! replay(events, rules: rules)
            #expect(first.touches == second.touches)
            #expect(first.report.funnel == second.report.funnel)
            #expect(first.report.touches > 0)
        }
    }

    @Test func replayAgreesWithTheIndependentPythonReference() async throws {
        let events = temporaryPath("events.jsonl")
        defer { try? FileManager.default.removeItem(atPath: events) }
        try writeStream(.init(users: 2000, events: 40_000, span: .days(120), seed: 2024), to: events)
        let rules = try RuleLoader.load(directory: repositoryRoot + "/bench/rules")
        let (touches, report) = try replay(events, rules: rules)

        let parser = JSONParser()
        var ours: [String] = []
        for line in touches.split(separator: "\n") {
            let touch = try parser.parse(String(line))
            ours.append(
                [touch["at"], touch["user"], touch["journey"], touch["step"]].map { $0?.stringValue ?? "?" }
                    .joined(separator: " "))
        }
        ours.sort()

        // Awaited, not waited for on the thread: the reference takes seconds, and a blocked thread is one
        // of the cooperative pool's two on this machine (every other test's tasks would wait behind it).
        let printed = temporaryPath("reference.out")
        defer { try? FileManager.default.removeItem(atPath: printed) }
        let reference = try ChildProcess(
            "/usr/bin/env", ["python3", repositoryRoot + "/bench/reference.py", events], output: printed, errors: "/dev/null")
        #expect(await reference.exit() == 0)
        let theirs = try String(contentsOfFile: printed, encoding: .utf8).split(separator: "\n").map(String.init)

        #expect(ours.count == report.touches)
        for journey in ["cart_abandonment", "repurchase", "vip_thanks"] {
            #expect(ours.contains { $0.contains(" \(journey) ") }, "no \(journey) touch: the comparison would be weak")
        }
        if ours != theirs {
            let diff = zip(ours, theirs).first { $0 != $1 }
            Issue.record("replay and the reference differ: \(ours.count) vs \(theirs.count) touches; first difference \(String(describing: diff))")
        }
    }
}

@Suite("Journey tests")
struct JourneyTestRunnerTests {
    @Test func theBundledRulesPassTheirOwnTests() throws {
        let rules = try RuleLoader.load(directory: repositoryRoot + "/rules")
        let results = TestRunner.run(rules.tests, rules: rules)
        #expect(results.count >= 20)
        for result in results where !result.passed {
            let failures = result.failures.joined(separator: "\n")
            Issue.record("\(result.file):\(result.line): \(result.name)\n\(failures)")
        }
    }

    @Test func failuresSayWhatWasExpectedAndWhatHappened() throws {
        let rules = try RuleLoader.load(directory: repositoryRoot + "/rules")
        var test = try #require(rules.tests.first { $0.name.contains("a cart left for an hour") })
        test.expect.touches[0].at = Timestamp(iso8601: "2025-01-06T12:00:00Z")
        test.expect.noTouches = [TouchPattern(user: "u1", line: 99)]
        let result = TestRunner.run(test, rules: rules)
        #expect(!result.passed)
        #expect(result.failures.contains { $0.contains("at: 2025-01-06T12:00:00.000Z} (line") && $0.contains("was not produced") })
        #expect(result.failures.contains { $0.hasPrefix("unexpected touch {at: 2025-01-06T11:00:00.000Z, user: u1") })
        #expect(result.failures.contains { $0.contains("matches no_touches {user: u1} (line 99)") })
        let xml = TestRunner.junitXML([result])
        #expect(xml.contains("<failure message=\"expected touch"))
        #expect(xml.contains("tests=\"1\" failures=\"1\""))
    }
}
