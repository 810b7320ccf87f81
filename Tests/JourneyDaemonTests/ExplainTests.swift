import Foundation
import JourneyCore
import JourneyEvents
import JourneyTesting
import Testing

/// `journeyd explain` on the real binary: against the running daemon (control socket), against its checkpoint
/// database once stopped, and `replay --explain` on the same events — each explanation names the deciding
/// rule and the values it read, and the three agree.
@Suite("Explain", .serialized)
struct ExplainTests {
    static let journeys = [
        "capped": "trigger: { event: cap_ping }\nentry: { reentry: always }\nlimits: { cap: { touches: 1, per: 1d, over: drop } }",
        "quiet": "trigger: { event: night_ping }\nlimits: { quiet_hours: { from: \"21:00\", to: \"08:00\" } }",
        "consent": "trigger: { event: unsub_ping }",
        "held": "trigger: { event: held_ping }\ngoal: { event: purchase, within: 7d }",
        "buy": "trigger: { event: buy_ping }\nentry: { when: user.plan == \"pro\" }\ngoal: { event: purchase, within: 7d }",
    ]

    static let events = [
        #"{"type":"track","userId":"cap","event":"cap_ping","messageId":"c1","timestamp":"2025-03-01T10:00:00.000Z"}"#,
        #"{"type":"track","userId":"cap","event":"cap_ping","messageId":"c2","timestamp":"2025-03-01T11:00:00.000Z"}"#,
        #"{"type":"track","userId":"night","event":"night_ping","messageId":"n1","timestamp":"2025-03-01T11:30:00.000Z"}"#,
        #"{"type":"track","userId":"unsub","event":"unsubscribed","messageId":"u1","timestamp":"2025-03-01T11:40:00.000Z"}"#,
        #"{"type":"track","userId":"unsub","event":"unsub_ping","messageId":"u2","timestamp":"2025-03-01T11:41:00.000Z"}"#,
        #"{"type":"track","userId":"held","event":"held_ping","messageId":"h1","timestamp":"2025-03-01T11:50:00.000Z"}"#,
        #"{"type":"identify","userId":"buyer","traits":{"plan":"free","timezone":"Asia/Shanghai"},"messageId":"b0","timestamp":"2025-03-01T11:55:00.000Z"}"#,
        #"{"type":"track","userId":"buyer","event":"buy_ping","messageId":"b1","timestamp":"2025-03-01T11:56:00.000Z"}"#,
        #"{"type":"identify","userId":"buyer","traits":{"plan":"pro"},"messageId":"b2","timestamp":"2025-03-01T11:57:00.000Z"}"#,
        #"{"type":"track","userId":"buyer","event":"buy_ping","messageId":"b3","timestamp":"2025-03-01T11:58:00.000Z"}"#,
        #"{"type":"track","userId":"buyer","event":"purchase","messageId":"b4","timestamp":"2025-03-01T12:00:00.000Z"}"#,
    ]

    static func install(_ fixture: DaemonFixture) throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: fixture.rules + "/journeys") { try fm.removeItem(atPath: fixture.rules + "/journeys/" + name) }
        try "Hello\n".write(toFile: fixture.rules + "/templates/hello.liquid", atomically: true, encoding: .utf8)
        try "channels:\n  - { name: email, type: file, path: touches.jsonl }\n"
            .write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "timezone: America/Los_Angeles\nexplain: { trace: 8 }\n"
            .write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        for (id, head) in journeys {
            let steps =
                id == "held"
                ? "  - id: pick\n    split:\n      - { name: control, percent: 100, holdout: true }\n      - { name: treat, percent: 0, goto: hello }\n  - id: hello\n    send: email\n    template: hello\n"
                : id == "buy"
                    ? "  - id: hello\n    send: email\n    template: hello\n  - id: linger\n    wait: 2d\n"
                    : "  - id: hello\n    send: email\n    template: hello\n"
            try "journey: \(id)\n\(head)\nsteps:\n\(steps)".write(toFile: fixture.rules + "/journeys/\(id).yaml", atomically: true, encoding: .utf8)
        }
    }

    /// `journeyd explain … --json`; with `expecting` false (while polling a daemon that may still be starting)
    /// a failure is not an issue.
    static func explain(_ arguments: [String], expecting: Bool = true) async throws -> Value {
        let (status, output) = try await ChildProcess.run(journeydBinary, ["explain"] + arguments + ["--json"])
        if expecting { #expect(status == 0, "\(output)") }
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        return try JSONParser().parse(line)
    }

    static func decisions(_ explanation: Value) -> [Value] {
        (explanation["trace"]?.arrayValue ?? []).flatMap { $0["decisions"]?.arrayValue ?? [] }
    }

    static func decision(_ explanation: Value, _ kind: String) -> Value? {
        decisions(explanation).first { $0["kind"]?.stringValue == kind }
    }

    /// A touch sent a moment ago is listed by `explain` while the checkpoint that takes it out of memory
    /// is written (each commit held 1.5 s here, a slow disk): it stays in memory until the store has it.
    @Test func aSentTouchIsExplainedWhileTheCheckpointHoldingItIsWritten() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try Self.install(fixture)
        try "state: { checkpoint: { every: 1s } }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let daemon = try ChildProcess(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--clock", "event"],
            output: fixture.root + "/daemon.log", environment: ["JOURNEYD_FAULT_HOLD_CHECKPOINT_MS": "1500"])
        defer { daemon.signal(SIGKILL) }
        let controlSocket = fixture.root + "/state/control.sock"
        let control = ["--rules", fixture.rules, "--control", controlSocket]
        // Whether the answer lists the touch sent (nil: no answer — only an answer without it is a miss).
        func sent() async -> Bool? {
            guard let answer = try? await Self.explain(["cap"] + control, expecting: false), answer["ok"] == true else { return nil }
            return (answer["touches"]?.arrayValue ?? []).contains { $0["state"] == "sent" }
        }
        func checkpoints() async -> Double {  // -1 while the daemon is not answering yet
            guard let (code, output) = try? await ChildProcess.run(journeydBinary, ["status", "--json", "--control", controlSocket]), code == 0,
                let line = output.split(separator: "\n").first(where: { $0.hasPrefix("{") })
            else { return -1 }
            return (try? JSONParser().parse(String(line)))?["checkpoints"]?.numberValue ?? -1
        }
        #expect(await eventually(timeout: .seconds(60)) { await checkpoints() >= 0 }, "\(fixture.log)")
        let before = await checkpoints()
        try fixture.spoolEvent(Self.events[0], named: "1.jsonl")
        #expect(await eventually(timeout: .seconds(60)) { await sent() == true }, "\(fixture.log)")
        // The `sent` record grew the log: a checkpoint takes the touch within about a second and holds its
        // commit 1.5 s. Asked throughout — five seconds, and at least until a checkpoint was taken since the
        // event came — the touch is always listed.
        let since = Date()
        var asks = 0
        var missed = 0
        while true {
            let elapsed = Date().timeIntervalSince(since)
            if elapsed >= 120 { break }
            if elapsed >= 5, await checkpoints() > before { break }
            switch await sent() {
            case false?: missed += 1
            case true?: asks += 1
            case nil: continue
            }
        }
        #expect(await checkpoints() > before, "no checkpoint was taken: \(fixture.log)")
        #expect(missed == 0, "explain missed the sent touch \(missed) times (and listed it \(asks) times)")
        daemon.signal()
        #expect(await daemon.exit() == 0)
    }

    @Test func theDaemonTheDatabaseAndReplayExplainEachDecisionWithItsRuleAndValues() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try Self.install(fixture)
        try (Self.events.joined(separator: "\n") + "\n").write(toFile: fixture.root + "/events.jsonl", atomically: true, encoding: .utf8)
        let daemon = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        defer { daemon.signal(SIGKILL) }
        try fixture.spoolEvent(Self.events.joined(separator: "\n"), named: "1.jsonl")
        let control = ["--rules", fixture.rules, "--control", fixture.root + "/state/control.sock"]
        #expect(
            await eventually {
                let buyer = (try? await Self.explain(["buyer"] + control, expecting: false)) ?? .null
                return buyer["enrollments"]?.arrayValue?.isEmpty == true && Self.decision(buyer, "goal") != nil
            }, "\(fixture.log)")

        var live: [String: Value] = [:]
        for user in ["cap", "night", "unsub", "held", "buyer"] { live[user] = try await Self.explain([user] + control) }
        // Capped: the journey's cap, with the count it saw.
        let cap = try #require(Self.decision(live["cap"]!, "cap"))
        #expect(cap["verdict"] == "dropped")
        #expect(cap["reason"] == "journey cap 1/1d: 1 touches since 2025-02-28T11:00:00.000Z", "\(cap.jsonText)")
        // Quiet hours: 11:30Z is 03:30 in Los Angeles (the default zone); held until 08:00 there, a timer pending.
        let quiet = try #require(Self.decision(live["night"]!, "quiet_hours"))
        #expect(quiet["verdict"] == "deferred until 2025-03-01T16:00:00.000Z")
        #expect(quiet["reason"] == "journey quiet hours 21:00–08:00 in America/Los_Angeles; local time 03:30")
        #expect(live["night"]!["timers"]?.arrayValue?.first?["due"] == "2025-03-01T16:00:00.000Z")
        #expect(live["night"]!["enrollments"]?.arrayValue?.first?["phase"] == "deferred")
        // Unsubscribed: the trait the consent check read.
        let consent = try #require(Self.decision(live["unsub"]!, "consent"))
        #expect(consent["reason"] == "user.unsubscribed = [\"all\"] closes channel email")
        // Holdout: the split arm, kept for the goal window.
        let held = try #require(Self.decision(live["held"]!, "holdout"))
        #expect(held["journey"] == "held")
        #expect(held["reason"]?.stringValue?.hasPrefix("split arm control (100.0%)") == true)
        #expect(live["held"]!["enrollments"]?.arrayValue?.first?["phase"] == "holdout")
        // Converted, after a first refusal that names the entry condition and the value it read.
        let buyer = Self.decisions(live["buyer"]!)
        #expect(buyer.contains { $0["kind"] == "entry" && $0["reason"] == "entry.condition user.plan == \"pro\" is false: user.plan = \"free\"" })
        #expect(buyer.contains { $0["kind"] == "goal" && $0["verdict"] == "converted" })
        #expect(live["buyer"]!["profile"]?["plan"] == "pro")
        // The delivered touch with its attempts.
        #expect(await eventually { ((try? await Self.explain(["cap"] + control))?["touches"]?.arrayValue ?? []).contains { $0["state"] == "sent" } })

        // Text, for people.
        let (textStatus, text) = try await ChildProcess.run(journeydBinary, ["explain", "cap"] + control)
        #expect(textStatus == 0)
        #expect(text.contains("cap capped/hello: dropped — journey cap 1/1d: 1 touches since 2025-02-28T11:00:00.000Z"), "\(text)")

        daemon.signal()
        #expect(await daemon.exit() == 0)
        // The checkpoint database, read after the daemon stopped, says the same.
        for user in ["cap", "night", "held", "buyer"] {
            let stored = try await Self.explain([user, "--rules", fixture.rules, "--state", fixture.state])
            #expect(stored["trace"] == live[user]!["trace"], "\(user)")
            #expect(stored["enrollments"] == live[user]!["enrollments"], "\(user)")
        }
        // replay --explain on the same events decides the same, at the same times, for every user.
        for user in ["cap", "night", "unsub", "held", "buyer"] {
            let (replayStatus, replayOutput) = try await ChildProcess.run(
                journeydBinary,
                ["replay", fixture.root + "/events.jsonl", "--rules", fixture.rules, "--explain", user, "--json", "--no-progress",
                 "--until", "2025-03-01T12:00:00Z"])
            #expect(replayStatus == 0, "\(replayOutput)")
            let replay = try JSONParser().parse(replayOutput.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}")
            #expect(Self.decisions(replay) == Self.decisions(live[user]!), "\(user)")
        }
    }
}
