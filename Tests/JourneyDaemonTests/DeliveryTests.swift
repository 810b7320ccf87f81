import Foundation
import JourneyCore
import JourneyEvents
import JourneyStore
import JourneyTesting
import Testing

/// The daemon delivering rendered touches to a real HTTP receiver on loopback: retries after failures,
/// a gone endpoint disables its channel, an always-failing one ends in dead letter with its reason.
@Suite("Daemon delivery", .serialized)
struct DeliveryTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    /// The Python receiver (Peers/webhook_receiver.py) on a free loopback port; `/flaky` fails twice.
    /// Kill it with SIGKILL: the test runner's children inherit an ignored SIGTERM, and Python keeps that.
    static func startReceiver(_ fixture: DaemonFixture) async throws -> (ChildProcess, String) {
        let portFile = fixture.root + "/port"
        let receiver = try ChildProcess(
            "/usr/bin/env",
            [
                "python3", repositoryRoot + "/Tests/JourneyDaemonTests/Peers/webhook_receiver.py", portFile,
                fixture.root + "/received.jsonl", secret, "2",
            ])
        #expect(await eventually { FileManager.default.fileExists(atPath: portFile) })
        return (receiver, (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "0")
    }

    @Test func aTouchNotDeliveredBeforeItExpiresIsDeadLetteredNotSentLate() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let (receiver, port) = try await Self.startReceiver(fixture)
        defer { receiver.signal(SIGKILL) }
        try "delivery: { expire_after: 2s }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
          - { name: legacy, type: webhook, url: "http://127.0.0.1:\(port)/broken", allow_private: true, retry: { initial: 300ms, multiplier: 1, jitter: 0, max_attempts: 100 } }
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "Hello\n".write(toFile: fixture.rules + "/templates/hello.liquid", atomically: true, encoding: .utf8)
        try "journey: ping\ntrigger: { event: signup }\nsteps:\n  - send: legacy\n    template: hello\n"
            .write(toFile: fixture.rules + "/journeys/ping.yaml", atomically: true, encoding: .utf8)
        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        try fixture.spoolEvent(#"{"type":"track","userId":"u1","event":"signup","messageId":"s1","timestamp":"2025-01-01T00:00:00Z"}"#, named: "1.jsonl")
        #expect(await eventually { fixture.log.contains("dead-lettered: expired") }, "\(fixture.log)")
        daemon.signal()
        await daemon.exit()
        let attempts = ((try? String(contentsOfFile: fixture.root + "/received.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").count
        #expect(attempts >= 2 && attempts <= 10, "\(attempts) attempts in the 2 s before expiry")
        #expect(try SQLiteCheckpointStore(path: fixture.state).outboxCounts()[.deadLetter] == 1)
    }

    @Test func renderedTouchesReachAWebhookThroughRetriesAndFailuresEndAsTheyShould() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let (receiver, port) = try await Self.startReceiver(fixture)
        defer { receiver.signal(SIGKILL) }
        let receiverLog = fixture.root + "/received.jsonl"

        try Self.secret.write(toFile: fixture.rules + "/hooks.whsec", atomically: true, encoding: .utf8)
        let retry = "retry: { initial: 200ms, multiplier: 2, max_delay: 1s, jitter: 0.1, max_attempts: 3 }"
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
          - { name: crm, type: webhook, url: "http://127.0.0.1:\(port)/flaky", allow_private: true, secret_file: hooks.whsec, \(retry) }
          - { name: ops, type: webhook, url: "http://127.0.0.1:\(port)/gone", allow_private: true, secret_file: hooks.whsec, \(retry) }
          - { name: legacy, type: webhook, url: "http://127.0.0.1:\(port)/broken", allow_private: true, secret_file: hooks.whsec, \(retry) }
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "Subject: Welcome, {{ user.first_name | default: \"there\" }}!\n\nYour {{ enrollment.trigger.properties.plan }} plan is ready.\nUnsubscribe: {{ unsubscribe_url }}\n"
            .write(toFile: fixture.rules + "/templates/hello.liquid", atomically: true, encoding: .utf8)
        try #"delivery: { unsubscribe_url: "https://shop.example/u?user={{ user.id | url_encode }}&c={{ touch.channel }}" }"#
            .write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        for channel in ["crm", "ops", "legacy"] {
            try "journey: to_\(channel)\ntrigger: { event: signup }\nsteps:\n  - id: hello\n    send: \(channel)\n    template: hello\n"
                .write(toFile: fixture.rules + "/journeys/to_\(channel).yaml", atomically: true, encoding: .utf8)
        }

        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running") }, "\(fixture.log)")
        try fixture.spoolEvent(
            #"{"type":"identify","userId":"ada","traits":{"first_name":"Ada","email":"ada@example.com"},"messageId":"i1","timestamp":"2025-01-01T00:00:00Z"}"#
                + "\n" + #"{"type":"track","userId":"ada","event":"signup","properties":{"plan":"Pro"},"messageId":"s1","timestamp":"2025-01-01T00:00:01Z"}"#,
            named: "1.jsonl")

        func received() -> [Value] {
            ((try? String(contentsOfFile: receiverLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser().parse(String($0)) }
        }
        #expect(await eventually { received().contains { $0["path"] == "/flaky" && $0["status"] == 200 } })
        #expect(await eventually { received().filter { $0["path"] == "/broken" }.count == 3 })
        #expect(await eventually { fixture.log.contains("dead-lettered") })
        // `journeyd status` reads the live counters over the control socket.
        let (statusCode, statusText) = try await ChildProcess.run(
            journeydBinary, ["status", "--rules", fixture.rules, "--state", fixture.state, "--json"])
        #expect(statusCode == 0)
        let counters = try JSONParser().parse(statusText)
        #expect(counters["events"] == 2 && counters["touches"] == 3 && counters["delivered"] == 1 && counters["dead_letter"] == 1, "\(statusText)")
        daemon.signal()
        #expect(await daemon.exit() == 0)

        let requests = received()
        // crm: two 503s, then delivered — the same touch each time, signed, with its idempotency key.
        let flaky = requests.filter { $0["path"] == "/flaky" }
        #expect(flaky.map { $0["status"] } == [503, 503, 200])
        #expect(flaky.allSatisfy { $0["signature_ok"] == true })
        #expect(Set(flaky.compactMap { $0["headers"]?["idempotency-key"]?.stringValue }).count == 1)
        let body = try JSONParser().parse(try #require(flaky.last?["body"]?.stringValue))
        #expect(body.jsonText.contains("Welcome, Ada!"), "\(body.jsonText)")
        #expect(body.jsonText.contains("Your Pro plan is ready."), "\(body.jsonText)")
        // The unsubscribe link, rendered from delivery.unsubscribe_url, in the message and in the template.
        #expect(body["unsubscribe_url"] == "https://shop.example/u?user=ada&c=crm", "\(body.jsonText)")
        #expect(body.jsonText.contains("Unsubscribe: https://shop.example/u?user=ada&c=crm"), "\(body.jsonText)")
        // ops: 410 → one request, the channel disabled, the touch kept queued.
        #expect(requests.filter { $0["path"] == "/gone" }.count == 1)
        #expect(fixture.log.contains("channel ops is disabled"))
        // legacy: 500 every time → dead letter after max_attempts, with the reason.
        #expect(requests.filter { $0["path"] == "/broken" }.count == 3)

        let store = try SQLiteCheckpointStore(path: fixture.state)
        let counts = try store.outboxCounts()
        #expect(counts[.sent] == 1 && counts[.deadLetter] == 1 && counts[.retry] == 1, "\(counts)")
    }
}
