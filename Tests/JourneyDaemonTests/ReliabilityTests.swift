import Foundation
import Glibc
import JourneyCore
import JourneyStore
import JourneyTesting
import Testing

/// What DESIGN §6 and §10 promise when things go wrong: a kill inside a checkpoint, a full disk, a
/// stepped wall clock, clients with wrong clocks — on the real binary.
@Suite("Daemon reliability", .serialized)
struct ReliabilityTests {
    /// A crash in the middle of a checkpoint's transaction (after its rows are written, before the
    /// commit) leaves the previous checkpoint whole; the restart replays the log and loses nothing.
    @Test func aKillInsideACheckpointLosesNothing() async throws {
        let fixture = try DaemonFixture(events: 8000, files: 2, seed: 31)
        defer { fixture.remove() }
        try "state: { checkpoint: { every: 1s } }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let arguments = ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--clock", "event", "--until", DaemonFixture.end]
        let crashed = try ChildProcess(journeydBinary, arguments, environment: ["JOURNEYD_FAULT_CRASH_IN_CHECKPOINT": "1"])
        #expect(await crashed.exit() == 99, "the fault hook ends the process inside its first checkpoint")
        #expect(try await ChildProcess(journeydBinary, arguments).exit() == 0)
        let delivered = try fixture.deliveredTouches()
        #expect(Set(delivered).count == delivered.count, "a touch was delivered twice")
        #expect(delivered.sorted() == (try fixture.expectedTouches()))
        let store = try SQLiteCheckpointStore(path: fixture.state)
        #expect(try store.integrityCheck() == "ok")
        let counts = try store.outboxCounts()
        #expect(counts[.inDoubt] == nil && counts[.pending] == nil && counts[.attempting] == nil, "\(counts)")
    }

    /// `journeyd check` and `journeyd run` judge a rule directory the same way: for every directory of
    /// the error corpus, both refuse it with the same errors.
    @Test func checkAndRunAgreeOnEveryBrokenRuleDirectory() async throws {
        let corpus = repositoryRoot + "/Tests/JourneyRulesTests/Fixtures/invalid"
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus).sorted() {
            try await withTemporaryDirectory(prefix: "journeyd-agree") { dir in
                let rules = corpus + "/" + name
                let check = try await ChildProcess.run(journeydBinary, ["check", rules])
                let run = try await ChildProcess.run(
                    journeydBinary, ["run", "--rules", rules, "--state", dir + "/state.sqlite", "--spool", dir + "/spool", "--control", dir + "/c.sock"])
                #expect(check.status == 1 && run.status == 78, "\(name): check \(check.status), run \(run.status)")
                func errors(_ text: String) -> Set<String> {
                    Set(text.split(separator: "\n").map(String.init).filter { $0.contains(": ") && !$0.contains(": warning: ") && !$0.hasPrefix(rules) })
                }
                #expect(errors(check.output) == errors(run.output), "\(name):\n--- check\n\(check.output)--- run\n\(run.output)")
                #expect(!errors(check.output).isEmpty, "\(name): no error reported")
            }
        }
    }

    /// A client whose clock is an hour slow has its events moved by what `sentAt` says (as Segment
    /// does); an event claiming the year 9999 is refused with its reason — under either clock — and
    /// moves no clock and fires no timer.
    @Test func skewedClientsAreCorrectedAndEventsFromTheFarFutureRefused() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try """
        journey: ping
        trigger: { event: ping }
        steps:
          - id: pong
            send: email
            template: cart_reminder
        """.write(toFile: fixture.rules + "/journeys/ping.yaml", atomically: true, encoding: .utf8)
        for clock in ["event", "wall"] {
            let socketPath = fixture.root + "/events-\(clock).sock"
            let state = fixture.root + "/state-\(clock)/state.sqlite"
            let daemon = try ChildProcess(
                journeydBinary,
                ["run", "--rules", fixture.rules, "--state", state, "--spool", fixture.spool, "--socket", socketPath, "--clock", clock],
                output: fixture.root + "/daemon-\(clock).log")
            #expect(await eventually { FileManager.default.fileExists(atPath: socketPath) })
            let now = WallClock().now
            let sentAt = (now - .hours(1)).iso8601  // the client's clock is an hour behind
            let lines = [
                #"{"type":"track","userId":"far","event":"ping","messageId":"f1","timestamp":"9999-12-31T23:59:59Z"}"#,
                #"{"type":"track","userId":"skewed","event":"ping","messageId":"s1","timestamp":"2026-01-01T00:00:00Z","sentAt":"\#(sentAt)"}"#,
            ]
            let answers = try await offThread { try exchange(lines, at: socketPath) }
            #expect(answers.count == 2)
            #expect(answers.first?.hasPrefix("error $.timestamp: 9999-12-31T23:59:59.000Z is more than 1d after") == true, "\(answers)")
            #expect(answers.last == "ok s1")
            #expect(await daemon.stop() == 0)
            let quarantine = (try? String(contentsOfFile: fixture.root + "/state-\(clock)/quarantine/socket.rejected.jsonl", encoding: .utf8)) ?? ""
            #expect(quarantine.contains(#""raw":"{\"type\":\"track\",\"userId\":\"far\""#), "the refused line is kept with its reason")
            let store = try SQLiteCheckpointStore(path: state)
            #expect(try store.user("far") == nil, "a refused event changes nothing")
            let touches = try store.outbox(of: "skewed")
            #expect(touches.count == 1)
            if clock == "event" {
                // On event time the touch happens at the event's corrected time: an hour later than it said.
                let at = try #require(touches.first?.touch.at)
                #expect(abs((at - Timestamp(iso8601: "2026-01-01T01:00:00Z")!).milliseconds) < 5000, "\(at)")
                #expect(try store.restore(partition: 0).clock < Timestamp(iso8601: "2027-01-01T00:00:00Z")!, "the event clock did not jump")
            }
        }
    }
}
