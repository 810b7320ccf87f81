import Foundation
import JourneyCore
import JourneyEvents
import JourneyStore
import JourneyTesting
import Testing

/// `journeyd forget` on the real binary: the answer says what was erased, a touch already queued is never
/// sent, a timer never fires, later events for the id are refused and counted, a restart that replays the
/// event log does not bring the user back, and the state database's bytes hold neither the id nor the email.
@Suite("Forget", .serialized)
struct ForgetTests {
    static let ada = "ada-7f3c9e"
    static let adaEmail = "ada.lovelace.7f3c9e@example.com"

    static func install(_ fixture: DaemonFixture) throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: fixture.rules + "/journeys") { try fm.removeItem(atPath: fixture.rules + "/journeys/" + name) }
        try "Hello {{ user.email }}\n".write(toFile: fixture.rules + "/templates/hello.liquid", atomically: true, encoding: .utf8)
        // One promotion an hour on sms: the second user's waits in the outbox.
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: sms, type: file, path: sms.jsonl, rate_limit: { count: 1, per: 1h } }

        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "explain: { trace: 10 }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let journeys = [
            "hello": "trigger: { event: signup }\nsteps:\n  - id: hi\n    send: email\n    template: hello\n",
            "later": "trigger: { event: signup }\nsteps:\n  - wait: 1d\n  - id: again\n    send: email\n    template: hello\n",
            "promo": "trigger: { event: promo }\nsteps:\n  - id: offer\n    send: sms\n    template: hello\n",
        ]
        for (id, body) in journeys {
            try "journey: \(id)\n\(body)".write(toFile: fixture.rules + "/journeys/\(id).yaml", atomically: true, encoding: .utf8)
        }
    }

    static func signup(_ user: String, _ email: String, at time: String) -> String {
        #"{"type":"identify","userId":"\#(user)","traits":{"email":"\#(email)"},"messageId":"\#(user)-i","timestamp":"\#(time)"}"#
            + "\n" + #"{"type":"track","userId":"\#(user)","event":"signup","messageId":"\#(user)-s","timestamp":"\#(time)"}"#
    }

    static func promo(_ user: String, at time: String, _ n: Int) -> String {
        #"{"type":"track","userId":"\#(user)","event":"promo","messageId":"\#(user)-p\#(n)","timestamp":"\#(time)"}"#
    }

    static func json(_ output: String) throws -> Value {
        try JSONParser().parse(output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}")
    }

    /// `journeyd explain USER --json`; `expecting` false while polling a daemon that may still be starting.
    static func explain(_ user: String, _ arguments: [String], expecting: Bool = true) async throws -> Value {
        let (status, output) = try await ChildProcess.run(journeydBinary, ["explain", user] + arguments + ["--json"])
        if expecting { #expect(status == 0, "\(output)") }
        return try json(output)
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func aForgottenUserIsErasedNeverTouchedRefusedAndNotResurrectedByARestart() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try Self.install(fixture)
        let control = ["--rules", fixture.rules, "--control", fixture.root + "/state/control.sock"]
        let sms = fixture.root + "/state/sms.jsonl"
        var daemon = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        defer { daemon.signal(SIGKILL) }
        try fixture.spoolEvent(
            Self.signup("bob", "bob@example.com", at: "2025-05-01T10:00:00.000Z") + "\n" + Self.promo("bob", at: "2025-05-01T10:00:00.000Z", 1),
            named: "1.jsonl")
        #expect(await eventually { ((try? fixture.deliveredTouches()) ?? []).count == 1 && Self.lines(sms).count == 1 }, "\(fixture.log)")
        try fixture.spoolEvent(
            Self.signup(Self.ada, Self.adaEmail, at: "2025-05-01T10:01:00.000Z") + "\n" + Self.promo(Self.ada, at: "2025-05-01T10:01:00.000Z", 1),
            named: "2.jsonl")
        // Her welcome is sent; her promotion is held by the sms rate limit; her `later` enrollment waits on a timer.
        #expect(
            await eventually {
                let ada = (try? await Self.explain(Self.ada, control, expecting: false)) ?? .null
                let touches = ada["touches"]?.arrayValue ?? []
                return touches.contains { $0["state"] == "retry" } && touches.contains { $0["state"] == "sent" }
                    && ada["timers"]?.arrayValue?.count == 1
            }, "\(fixture.log)")

        let (status, output) = try await ChildProcess.run(journeydBinary, ["forget", Self.ada, "--json"] + control)
        #expect(status == 0, "\(output)")
        let answer = try Self.json(output)
        let erased = try #require(answer["erased"], "\(output)")
        #expect(answer["known"] == true)
        #expect(erased["profile_traits"] == 1 && erased["enrollments"] == 1 && erased["timers"] == 1, "\(answer.jsonText)")
        #expect(erased["queued_touches"] == 1 && erased["decision_records"] == 3, "\(answer.jsonText)")
        // Her three lines leave the spool's archive of 2.jsonl.
        #expect(erased["archived_lines"] == 3, "\(answer.jsonText)")
        #expect(try await Self.explain(Self.ada, control)["known"] == false)
        // A later event for her is refused and counted; nothing of it is kept.
        try fixture.spoolEvent(Self.promo(Self.ada, at: "2025-05-01T10:05:00.000Z", 2), named: "3.jsonl")
        #expect(
            await eventually {
                let (_, figures) = (try? await ChildProcess.run(journeydBinary, ["status", "--json"] + control)) ?? (1, "")
                return (try? Self.json(figures))?["forgotten_refused"] == 1
            }, "\(fixture.log)")
        #expect(try await Self.explain(Self.ada, control)["known"] == false)

        // Killed: the restart replays the log (her events, then the erasure) from the last checkpoint.
        daemon.signal(SIGKILL)
        _ = await daemon.exit()
        daemon = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        #expect(await eventually { (try? await Self.explain("bob", control, expecting: false))?["known"] == true }, "\(fixture.log)")
        let afterRestart = try await Self.explain(Self.ada, control)
        #expect(afterRestart["known"] == false, "\(afterRestart.jsonText)")
        #expect(afterRestart["touches"]?.arrayValue?.isEmpty == true, "\(afterRestart.jsonText)")
        // Two days later: bob's `later` touch goes out; her queued promotion and her timer never do.
        try fixture.spoolEvent(Self.signup("cy", "cy@example.com", at: "2025-05-03T12:00:00.000Z"), named: "4.jsonl")
        #expect(await eventually { ((try? fixture.deliveredTouches()) ?? []).contains { $0.contains("\"cy\"") } }, "\(fixture.log)")
        daemon.signal()
        #expect(await daemon.exit() == 0)
        let delivered = try fixture.deliveredTouches()
        #expect(delivered.filter { $0.contains("\"user\":\"bob\"") }.count == 2, "\(delivered)")
        #expect(delivered.filter { $0.contains(Self.ada) }.count == 1, "only her welcome, sent before the erasure: \(delivered)")
        #expect(!Self.lines(sms).contains { $0.contains(Self.ada) }, "\(Self.lines(sms))")

        // The checkpoint database keeps nothing of her but the tombstone, a hash.
        let store = try SQLiteCheckpointStore(path: fixture.state, readOnly: true)
        #expect(try store.user(Self.ada) == nil)
        #expect(try store.outbox(of: Self.ada).isEmpty)
        #expect(try store.restore(partition: 0).tombstones == [Tombstone.hash(Self.ada)])
        let stored = try await Self.explain(Self.ada, ["--rules", fixture.rules, "--state", fixture.state])
        #expect(stored["known"] == false && stored["touches"]?.arrayValue?.isEmpty == true)
        // Byte search of the state directory (the database, its write-ahead log, the event log, the
        // quarantine) and of the spool's archive, the channels' own output files (what was sent) aside, and
        // 3.jsonl: it arrived after the erasure, its line refused but archived as it came (spool.done: delete
        // keeps none).
        let fm = FileManager.default
        let files = try fm.subpathsOfDirectory(atPath: fixture.root + "/state").map { "state/" + $0 }
            + (try fm.subpathsOfDirectory(atPath: fixture.spool)).map { "spool/" + $0 }
        let searched = files.filter { !["state/touches.jsonl", "state/sms.jsonl", "spool/done/3.jsonl"].contains($0) }
        #expect(searched.contains("state/state.sqlite") && searched.contains("spool/done/2.jsonl"), "\(files)")
        for file in searched {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: fixture.root + "/" + file, isDirectory: &isDirectory), !isDirectory.boolValue,
                let bytes = fm.contents(atPath: fixture.root + "/" + file)
            else { continue }
            for needle in [Self.ada, Self.adaEmail] {
                #expect(bytes.range(of: Data(needle.utf8)) == nil, "\(file) still holds \(needle) (files: \(files))")
            }
        }
    }
}
