import Foundation
import JourneyCore
import JourneyEvents
import JourneyStore
import JourneyTesting
import Testing

/// `journeyd forget` on the real binary: the answer says what was erased, a touch already queued is never
/// sent, a timer never fires, and a restart that replays the event log does not bring the user back.
@Suite("Forget", .serialized)
struct ForgetTests {
    static func install(_ fixture: DaemonFixture) throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: fixture.rules + "/journeys") { try fm.removeItem(atPath: fixture.rules + "/journeys/" + name) }
        try "Hello {{ user.email }}\n".write(toFile: fixture.rules + "/templates/hello.liquid", atomically: true, encoding: .utf8)
        // One touch an hour: the second user's touch waits in the outbox.
        try "channels:\n  - { name: email, type: file, path: touches.jsonl, rate_limit: { count: 1, per: 1h } }\n"
            .write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "explain: { trace: 10 }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        try "journey: hello\ntrigger: { event: signup }\nsteps:\n  - id: hi\n    send: email\n    template: hello\n"
            .write(toFile: fixture.rules + "/journeys/hello.yaml", atomically: true, encoding: .utf8)
        try "journey: later\ntrigger: { event: signup }\nsteps:\n  - wait: 1d\n  - id: again\n    send: email\n    template: hello\n"
            .write(toFile: fixture.rules + "/journeys/later.yaml", atomically: true, encoding: .utf8)
    }

    static func signup(_ user: String, at time: String, _ n: Int) -> String {
        #"{"type":"identify","userId":"\#(user)","traits":{"email":"\#(user)@example.com"},"messageId":"\#(user)-i\#(n)","timestamp":"\#(time)"}"#
            + "\n" + #"{"type":"track","userId":"\#(user)","event":"signup","messageId":"\#(user)-s\#(n)","timestamp":"\#(time)"}"#
    }

    static func explain(_ user: String, _ arguments: [String]) async throws -> Value {
        let (status, output) = try await ChildProcess.run(journeydBinary, ["explain", user] + arguments + ["--json"])
        #expect(status == 0, "\(output)")
        return try JSONParser().parse(output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}")
    }

    @Test func aForgottenUserIsErasedNeverTouchedAndNotResurrectedByARestart() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try Self.install(fixture)
        let control = ["--rules", fixture.rules, "--control", fixture.root + "/state/control.sock"]
        var daemon = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        defer { daemon.signal(SIGKILL) }
        try fixture.spoolEvent(Self.signup("bob", at: "2025-05-01T10:00:00.000Z", 1), named: "1.jsonl")
        #expect(await eventually { ((try? fixture.deliveredTouches()) ?? []).count == 1 }, "\(fixture.log)")
        try fixture.spoolEvent(Self.signup("ada", at: "2025-05-01T10:01:00.000Z", 1), named: "2.jsonl")
        // ada's touch is held by the channel's rate limit; her `later` enrollment waits on a timer.
        #expect(await eventually {
            let ada = try? await Self.explain("ada", control)
            return (ada?["touches"]?.arrayValue ?? []).contains { $0["state"] == "retry" } && ada?["timers"]?.arrayValue?.count == 1
        }, "\(fixture.log)")

        let (status, output) = try await ChildProcess.run(journeydBinary, ["forget", "ada", "--json"] + control)
        #expect(status == 0, "\(output)")
        let answer = try JSONParser().parse(output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}")
        #expect(answer["known"] == true)
        #expect(answer["erased"]?["profile_traits"] == 1 && answer["erased"]?["history_events"] == 0, "\(answer.jsonText)")
        #expect(answer["erased"]?["enrollments"] == 1 && answer["erased"]?["timers"] == 1, "\(answer.jsonText)")
        #expect(answer["erased"]?["queued_touches"] == 1 && answer["erased"]?["decision_records"] == 2, "\(answer.jsonText)")
        #expect(try await Self.explain("ada", control)["known"] == false)

        // Killed: the restart replays the log (ada's events, then the erasure) from the last checkpoint.
        daemon.signal(SIGKILL)
        _ = await daemon.exit()
        daemon = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        #expect(await eventually { (try? await Self.explain("bob", control))?["known"] == true }, "\(fixture.log)")
        let afterRestart = try await Self.explain("ada", control)
        #expect(afterRestart["known"] == false, "\(afterRestart.jsonText)")
        #expect(afterRestart["touches"]?.arrayValue?.isEmpty == true, "\(afterRestart.jsonText)")
        // Two days later: bob's `later` touch goes out; ada's queued touch and her timer never do.
        try fixture.spoolEvent(Self.signup("cy", at: "2025-05-03T12:00:00.000Z", 1), named: "3.jsonl")
        #expect(await eventually { ((try? fixture.deliveredTouches()) ?? []).contains { $0.contains("\"cy\"") } }, "\(fixture.log)")
        daemon.signal()
        #expect(await daemon.exit() == 0)
        let delivered = try fixture.deliveredTouches()
        #expect(delivered.filter { $0.contains("\"user\":\"bob\"") }.count == 2, "\(delivered)")
        #expect(!delivered.contains { $0.contains("ada") }, "\(delivered)")
        // The checkpoint database keeps nothing of her.
        let store = try SQLiteCheckpointStore(path: fixture.state, readOnly: true)
        #expect(try store.user("ada") == nil)
        #expect(try store.outbox(of: "ada").isEmpty)
        let stored = try await Self.explain("ada", ["--rules", fixture.rules, "--state", fixture.state])
        #expect(stored["known"] == false && stored["touches"]?.arrayValue?.isEmpty == true)
    }
}
