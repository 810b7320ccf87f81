import Foundation
import JourneyCore
import JourneyEvents
import JourneyStore
import JourneyTesting
import Testing

/// Touches through the `apns` channel in the daemon, against an HTTP/2 TLS peer that verifies the provider
/// token as APNs does (`Tests/JourneyChannelsTests/Peers/apns_peer.py`): an accepted push names the touch,
/// and APNs' `410 Unregistered` takes the device token off the user.
@Suite("Daemon delivery to APNs", .serialized)
struct PushDaemonTests {
    @Test func aPushIsSentOverHTTP2AndAnUnregisteredDeviceTokenLeavesItsUser() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let certificates = try await offThread { () throws -> TestCertificates in
            try TestCertificates.makeP256Key(at: fixture.rules + "/AuthKey.p8")
            return try TestCertificates.make(in: fixture.root)
        }
        let portFile = fixture.root + "/apns.port"
        let received = fixture.root + "/apns.jsonl"
        let peer = try ChildProcess(
            "/usr/bin/env",
            [
                "python3", "-B", repositoryRoot + "/Tests/JourneyChannelsTests/Peers/apns_peer.py", "--out", received, "--port-file", portFile,
                "--cert", certificates.certificateFile, "--key", certificates.keyFile, "--public-key", fixture.rules + "/AuthKey.p8.pub",
                "--key-id", "ABC123DEFG", "--team-id", "DEF123GHIJ", "--topic", "com.example.shop",
            ], output: fixture.root + "/apns.log")
        // SIGKILL: the test runner's children inherit an ignored SIGTERM, and Python keeps that.
        defer { peer.signal(SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: portFile) })
        let url = "https://127.0.0.1:" + ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "0")

        try """
        journey: shipped_push
        trigger:
          event: order_shipped
        entry:
          reentry: always
          key: event.properties.order_id
        steps:
          - id: notify
            send: push
            template: shipped_push
        """.write(toFile: fixture.rules + "/journeys/shipped_push.yaml", atomically: true, encoding: .utf8)
        try """
        Subject: Your order is on its way

        Order {{ enrollment.trigger.properties.order_id }} has shipped.
        """.write(toFile: fixture.rules + "/templates/shipped_push.liquid", atomically: true, encoding: .utf8)
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
          - name: push
            type: apns
            auth_key_file: AuthKey.p8
            key_id: ABC123DEFG
            team_id: DEF123GHIJ
            topic: com.example.shop
            base_url: "\(url)"
            ca_file: "\(certificates.caFile)"
            allow_private: true
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)

        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        let present = String(repeating: "a", count: 64)
        let uninstalled = "0410" + String(repeating: "b", count: 60)
        let events = [
            #"{"type":"identify","userId":"ada","traits":{"apns_token":"\#(present)"},"messageId":"i1","timestamp":"2025-06-02T09:00:00Z"}"#,
            #"{"type":"identify","userId":"bob","traits":{"apns_token":"\#(uninstalled)","first_name":"Bob"},"messageId":"i2","timestamp":"2025-06-02T09:00:00Z"}"#,
            #"{"type":"track","userId":"ada","event":"order_shipped","properties":{"order_id":"A-1"},"messageId":"t1","timestamp":"2025-06-02T09:00:01Z"}"#,
            #"{"type":"track","userId":"bob","event":"order_shipped","properties":{"order_id":"B-1"},"messageId":"t2","timestamp":"2025-06-02T09:00:02Z"}"#,
        ]
        try fixture.spoolEvent(events.joined(separator: "\n"), named: "1.jsonl")

        func records() -> [Value] {
            ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser().parse(String($0)) }
        }
        #expect(await eventually { records().count == 1 }, "\(fixture.log)")
        #expect(await eventually { fixture.log.contains("unregistered device token (trait apns_token), recorded on its user") }, "\(fixture.log)")
        daemon.signal()
        #expect(await daemon.exit() == 0)

        let store = try SQLiteCheckpointStore(path: fixture.state)
        let sent = try #require(try store.outbox(of: "ada").first)
        #expect(sent.touch.channel == "push" && sent.state == .sent)
        let push = try #require(records().first)
        #expect(push["path"] == .string("/3/device/\(present)"))
        #expect(push["headers"]?["apns-collapse-id"]?.stringValue == sent.touch.id, "the touch id collapses a resent push")
        #expect(push["headers"]?["apns-id"] == push["expected_apns_id"], "apns-id is the touch id's UUID")
        let payload = try JSONParser().parse(try #require(push["body"]?.stringValue))
        #expect(payload["aps"]?["alert"] == ["title": "Your order is on its way", "body": "Order A-1 has shipped."])
        #expect(payload["touch_id"]?.stringValue == sent.touch.id)

        let gone = try #require(try store.outbox(of: "bob").first)
        #expect(gone.state == .deadLetter && gone.reason?.hasPrefix("unregistered device token (trait apns_token): APNs 410 Unregistered") == true)
        let bob = try #require(try store.user("bob"))
        #expect(bob.traits["apns_token"] == nil && bob.traits["first_name"] == "Bob", "the token is removed, nothing else")
        #expect(try store.user("ada")?.traits["apns_token"] == .string(present))
        // Neither the provider token nor any line of the signing key is in the daemon's log.
        let keyLines = try String(contentsOfFile: fixture.rules + "/AuthKey.p8", encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }
        let jwt = try #require(push["jwt"]?.stringValue)
        #expect(!fixture.log.isEmpty && !fixture.log.contains(jwt) && !fixture.log.contains(String(jwt.split(separator: ".")[2])))
        #expect(keyLines.allSatisfy { !fixture.log.contains($0) })
    }
}
