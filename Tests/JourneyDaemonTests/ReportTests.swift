import Foundation
import JourneyCore
import JourneyEvents
import JourneyTesting
import Testing

/// `journeyd report` on the real binary: the daemon's figures survive a restart (checkpointed), the
/// checkpoint database and the running daemon give the same figures, and they equal a back-test's
/// (`replay --report`) over the same events.
@Suite("Report", .serialized)
struct ReportTests {
    static let stages = """
        timezone: UTC
        stages:
          - { name: visitor }
          - { name: customer, when: 'count("purchase") >= 1' }
          - { name: repeat, when: 'count("purchase") >= 2' }
        """
    static let firstOrder = """
        journey: first_order
        trigger: { stage: { becomes: customer } }
        goal: { event: purchase, within: 14d }
        steps:
          - id: holdout
            split:
              - { name: thank, percent: 70 }
              - { name: control, percent: 30, holdout: true }
          - id: thank
            send: email
            template: vip_thanks
        """

    static func report(_ arguments: [String]) async throws -> (Value, String) {
        let (status, output) = try await ChildProcess.run(journeydBinary, ["report", "--json"] + arguments)
        #expect(status == 0, "\(output)")
        return (try JSONParser().parse(output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"), output)
    }

    static func withoutSourceAndDeliveries(_ v: Value) -> Value {
        guard case .object(let members) = v else { return v }
        return .object(members.filter { $0.key != "source" && $0.key != "deliveries" })
    }

    @Test(.timeLimit(.minutes(4))) func theDaemonsFiguresSurviveARestartAndEqualTheBackTests() async throws {
        let fixture = try DaemonFixture(events: 3000, files: 6, seed: 12)
        defer { fixture.remove() }
        try Self.stages.write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        try Self.firstOrder.write(toFile: fixture.rules + "/journeys/first_order.yaml", atomically: true, encoding: .utf8)
        // First run: half the files, on the event clock, stopped once they are done (a last checkpoint).
        let fm = FileManager.default
        try fm.createDirectory(atPath: fixture.root + "/later", withIntermediateDirectories: true)
        for f in 3..<6 {
            let name = String(format: "%04d.jsonl", f)
            try fm.moveItem(atPath: fixture.spool + "/incoming/" + name, toPath: fixture.root + "/later/" + name)
        }
        let first = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        #expect(await eventually(timeout: .seconds(120)) { ((try? fm.contentsOfDirectory(atPath: fixture.spool + "/incoming")) ?? ["x"]).isEmpty
            && ((try? fm.contentsOfDirectory(atPath: fixture.spool + "/done")) ?? []).count == 3 }, "\(fixture.log)")
        first.signal()
        #expect(await first.exit() == 0)
        let (halfway, _) = try await Self.report(["--state", fixture.state, "--rules", fixture.rules])
        #expect((halfway["journeys"]?.arrayValue?.first { $0["journey"] == "first_order" }?["entered"]?.numberValue ?? 0) > 0)

        // Second run: the rest, to the end of time.
        for f in 3..<6 {
            let name = String(format: "%04d.jsonl", f)
            try fm.moveItem(atPath: fixture.root + "/later/" + name, toPath: fixture.spool + "/incoming/" + name)
        }
        #expect(try await fixture.runToCompletion(until: DaemonFixture.end) == 0)
        let (stored, _) = try await Self.report(["--state", fixture.state, "--rules", fixture.rules, "-o", fixture.root + "/daemon.html"])

        // The back-test over the same events, to the same end.
        let (status, output) = try await ChildProcess.run(
            journeydBinary,
            ["replay", fixture.root + "/all.jsonl", "--rules", fixture.rules, "--until", DaemonFixture.end, "--no-progress",
             "-o", "/dev/null", "--report", fixture.root + "/replay.html"])
        #expect(status == 0, "\(output)")
        let daemonPage = RenderedPage(dom: try String(contentsOfFile: fixture.root + "/daemon.html", encoding: .utf8))
        let replayPage = RenderedPage(dom: try String(contentsOfFile: fixture.root + "/replay.html", encoding: .utf8))
        func figures(_ page: RenderedPage) -> [String: String] { page.texts.filter { !$0.key.hasPrefix("deliveries.") } }
        #expect(figures(daemonPage).count > 20)
        #expect(figures(daemonPage) == figures(replayPage))
        #expect(daemonPage.values == replayPage.values)
        #expect(Int(daemonPage["first_order.holdout.users"] ?? "0")! > 0 && Int(daemonPage["stage.repeat"] ?? "0")! > 0)
        // Deliveries per channel: what the channels' file holds, channel by channel (email and wecom share it).
        let delivered = try fixture.deliveredTouches()
        let perChannel = Dictionary(grouping: delivered) { (try? JSONParser().parse($0))?["channel"]?.stringValue ?? "?" }.mapValues(\.count)
        #expect(delivered.count > 0 && perChannel["?"] == nil, "the daemon delivered through its file channels")
        for (channel, n) in perChannel { #expect(daemonPage["deliveries.\(channel).sent"] == "\(n)", "sent through \(channel)") }
        #expect(daemonPage["deliveries.sent"] == "\(delivered.count)")
        #expect(daemonPage["deliveries.dead_letter"] == "0" && daemonPage["deliveries.pending"] == "0")

        // The running daemon answers the same figures over its control socket.
        let live = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        defer { live.signal(SIGKILL) }
        let control = ["--rules", fixture.rules, "--control", fixture.root + "/state/control.sock"]
        #expect(await eventually(timeout: .seconds(60)) { (try? await ChildProcess.run(journeydBinary, ["report", "--json"] + control))?.status == 0 }, "\(fixture.log)")
        let (answered, _) = try await Self.report(control + ["-o", fixture.root + "/live.html"])
        #expect(Self.withoutSourceAndDeliveries(answered) == Self.withoutSourceAndDeliveries(stored))
        live.signal()
        #expect(await live.exit() == 0)
    }
}
