import Foundation
import JourneyCore
import JourneyEvents
import JourneyTesting
import Testing

/// On a stream with aliases (anonymous visitors who sign up by `identify` with their `anonymousId` or by
/// `alias`, and keep sending events under the anonymous id), the real binary's `journeyd run` (spool,
/// event clock, restarted mid-stream), `journeyd replay` and `journeyd test` give the same touches: the merge happens in the
/// one engine, so the three agree by construction, and this checks it end to end.
@Suite("Identity: run, replay and test agree", .serialized)
struct IdentityAgreementTests {
    static let journeys = [
        "cart": """
            journey: cart
            trigger: { event: cart_add }
            entry: { reentry: always, key: event.properties.cart_id }
            exit_when: { event: purchase }
            steps:
              - id: wait_purchase
                wait_for: { event: purchase, timeout: 1h }
                on_event: exit
              - id: remind
                send: email
                template: hello
            """,
        "lapsed": """
            journey: lapsed
            trigger: { segment: 'days_since(last("cart_add")) >= 2 and count("purchase") == 0' }
            steps:
              - id: nudge
                send: email
                template: hello
            """,
    ]
    static let end = "2025-03-10T00:00:00Z"

    /// 30 visitors: carts under an anonymous id; a third sign up with identify + anonymousId, a third by
    /// alias; some buy later under the anonymous id only (which must reach the known user's enrollment).
    static func stream() -> [(at: Timestamp, json: String, test: String)] {
        let t0 = Timestamp(iso8601: "2025-03-01T10:00:00Z")!
        var events: [(at: Timestamp, json: String, test: String)] = []
        func add(_ at: Timestamp, _ id: String, _ fields: String, _ test: String) {
            events.append((at, #"{"messageId":"\#(id)","timestamp":"\#(at.iso8601)",\#(fields)}"#,
                           "{ at: \(at.iso8601), message_id: \(id), \(test) }"))
        }
        for i in 0..<30 {
            let start = t0 + .minutes(Int64(i * 7))
            let anon = "v\(i)"
            add(start, "c\(i)", #""type":"track","anonymousId":"\#(anon)","event":"cart_add","properties":{"cart_id":"k\#(i)"}"#,
                "anonymous_id: \(anon), track: cart_add, properties: { cart_id: k\(i) }")
            switch i % 3 {
            case 0:
                add(start + .minutes(20), "i\(i)", #""type":"identify","userId":"u\#(i)","anonymousId":"\#(anon)","traits":{"email":"u\#(i)@example.com"}"#,
                    "user: u\(i), anonymous_id: \(anon), identify: { email: u\(i)@example.com }")
            case 1:
                add(start + .minutes(25), "a\(i)", #""type":"alias","userId":"u\#(i)","previousId":"\#(anon)""#, "user: u\(i), alias: \(anon)")
            default: break
            }
            if i % 4 == 0 {  // buys within the hour, under the anonymous id only: exits the (moved) cart enrollment
                add(start + .minutes(40), "p\(i)", #""type":"track","anonymousId":"\#(anon)","event":"purchase""#,
                    "anonymous_id: \(anon), track: purchase")
            }
            if i % 5 == 1 {  // a second alias, identical: a no-op
                add(start + .minutes(50), "b\(i)", #""type":"alias","userId":"u\#(i)","previousId":"\#(anon)""#, "user: u\(i), alias: \(anon)")
            }
        }
        // Moves the event clock past every timer (the daemon's clock is the latest event time).
        add(Timestamp(iso8601: "2025-03-09T00:00:00Z")!, "tick", #""type":"track","userId":"clock","event":"tick""#, "user: clock, track: tick")
        return events.sorted { $0.at < $1.at }
    }

    static func touches(_ lines: [String]) throws -> [String] {
        try lines.map { line in
            let touch = try JSONParser().parse(line)
            return ["id", "user", "journey", "step", "at"].map { touch[$0]?.stringValue ?? "-" }.joined(separator: " ")
        }.sorted()
    }

    @Test func runReplayAndTestGiveTheSameTouchesOnAStreamWithAliases() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try ExplainTests.install(fixture)
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: fixture.rules + "/journeys") { try fm.removeItem(atPath: fixture.rules + "/journeys/" + name) }
        for (id, text) in Self.journeys { try text.write(toFile: fixture.rules + "/journeys/\(id).yaml", atomically: true, encoding: .utf8) }
        let stream = Self.stream()
        let eventsFile = fixture.root + "/events.jsonl"
        try (stream.map(\.json).joined(separator: "\n") + "\n").write(toFile: eventsFile, atomically: true, encoding: .utf8)

        // replay
        let replayOut = fixture.root + "/replay.jsonl"
        let (replayStatus, replayLog) = try await ChildProcess.run(
            journeydBinary, ["replay", eventsFile, "--rules", fixture.rules, "-o", replayOut, "--until", Self.end, "--no-progress"])
        #expect(replayStatus == 0, "\(replayLog)")
        let replayed = try Self.touches(try String(contentsOfFile: replayOut, encoding: .utf8).split(separator: "\n").map(String.init))
        // Every visitor who did not buy gets a reminder; those who signed up get it as the known user.
        let reminders = replayed.filter { $0.contains(" cart remind ") }
        #expect(reminders.count == 30 - 8, "\(replayed)")
        #expect(reminders.contains { $0.contains(" u1 cart remind 2025-03-01T11:07:00.000Z") }, "\(reminders)")
        #expect(!replayed.contains { $0.contains(" v1 ") || $0.contains(" v3 ") }, "merged ids get nothing under their old id")
        #expect(replayed.contains { $0.contains(" lapsed nudge ") })

        // run: the daemon on the event clock over the spool, stopped and started again in the middle: the
        // second start restores the alias rows and merged profiles from the checkpoint.
        let cut = stream.count * 2 / 3
        try fixture.spoolEvent(stream[..<cut].map(\.json).joined(separator: "\n"), named: "1.jsonl")
        #expect(try await fixture.runToCompletion(until: stream[cut - 1].at.iso8601) == 0)
        try fixture.spoolEvent(stream[cut...].map(\.json).joined(separator: "\n"), named: "2.jsonl")
        #expect(try await fixture.runToCompletion(until: Self.end) == 0)
        #expect(try Self.touches(try fixture.deliveredTouches()) == replayed)

        // test: the same stream as a journey test whose expected touches (exact) are replay's
        var yaml = "tests:\n  - name: the alias stream\n    events:\n"
        for event in stream { yaml += "      - \(event.test)\n" }
        yaml += "    run_until: \(Self.end)\n    expect:\n      touches:\n"
        for touch in replayed {
            let f = touch.split(separator: " ")
            yaml += "        - { at: \(f[4]), user: \(f[1]), journey: \(f[2]), step: \(f[3]) }\n"
        }
        try fm.createDirectory(atPath: fixture.rules + "/tests", withIntermediateDirectories: true)
        try yaml.write(toFile: fixture.rules + "/tests/stream.yaml", atomically: true, encoding: .utf8)
        let (testStatus, testLog) = try await ChildProcess.run(journeydBinary, ["test", fixture.rules])
        #expect(testStatus == 0, "\(testLog)")
    }
}
