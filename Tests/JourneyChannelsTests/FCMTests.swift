import Foundation
import JourneyCore
import Synchronization
import Testing

@testable import JourneyChannels

/// FCM HTTP v1 against a receiver that verifies the OAuth2 assertion with the service account's public key.
@Suite struct FCMTests {
    static let email = "journeyd@shop-app-4711.iam.gserviceaccount.com"

    /// A fresh RSA key pair, and the service-account key file pointing its token_uri at `peer`.
    struct Keys {
        var publicKey: String
        var privateKeyPEM: String

        static func make(in dir: String) throws -> Keys {
            try run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(dir)/sa.pem"])
            try run("openssl", ["pkey", "-in", "\(dir)/sa.pem", "-pubout", "-out", "\(dir)/sa.pub"])
            return Keys(publicKey: "\(dir)/sa.pub", privateKeyPEM: try String(contentsOfFile: "\(dir)/sa.pem", encoding: .utf8))
        }

        func serviceAccountJSON(tokenURI: String) -> String {
            let key: Value = [
                "type": "service_account", "project_id": "shop-app-4711", "private_key_id": "kid-0123", "private_key": .string(privateKeyPEM),
                "client_email": .string(FCMTests.email), "client_id": "1234567890", "token_uri": .string(tokenURI),
            ]
            return key.jsonText
        }
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("\(tool) \(arguments.first ?? "") failed") }
    }

    /// A started peer and an `fcm` channel using it.
    func withFCM(_ body: (CloudPeer, ConfiguredChannel, Keys, LogCapture, String) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let keys = try await offThread { try Keys.make(in: dir) }
            try await withCloudPeer(in: dir, ["--google", keys.publicKey, "--google-email", Self.email, "--fcm-project", "shop-app-4711"]) { peer in
                let logs = LogCapture()
                let fcm = try await channel(
                    "fcm", in: dir, options: ["base_url": .string(peer.url + "/fcm"), "allow_private": true, "data": ["campaign": "lifecycle"]],
                    secrets: ["service_account": keys.serviceAccountJSON(tokenURI: peer.url + "/google/token")], logger: logs)
                try await body(peer, fcm, keys, logs, dir)
            }
        }
    }

    static func message(_ device: String?, id: String = "touch-1") -> OutboundMessage {
        var message = sampleMessage(id, subject: "Your cart misses you", text: "Two items are waiting.")
        if let device { message.traits.set("fcm_token", to: .string(device)) }
        return message
    }

    @Test func sendsNotificationAndDataWithAVerifiedServiceAccountToken() async throws {
        try await withFCM { peer, fcm, _, _, _ in
            #expect(await fcm.adapter.deliver(Self.message("dev-ada")) == .sent(providerMessageID: "projects/shop-app-4711/messages/0:150041531"))
            let record = try #require(try peer.records().first)
            #expect(record["path"] as? String == "/fcm/v1/projects/shop-app-4711/messages:send")
            #expect(
                record["body"] as? String
                    == #"{"message":{"token":"dev-ada","notification":{"body":"Two items are waiting.","title":"Your cart misses you"},"data":{"touch_id":"touch-1","journey":"cart_abandonment","step":"remind","campaign":"lifecycle"}}}"#)
            #expect(await fcm.adapter.deliver(Self.message(nil)) == .deadLetter(reason: #"the user has no FCM registration token in trait "fcm_token""#))
        }
    }

    @Test func oneTokenForAHundredConcurrentDeliveriesAndOneRefreshOn401() async throws {
        try await withFCM { peer, fcm, _, _, _ in
            let adapter = fcm.adapter
            let results = await withTaskGroup(of: DeliveryResult.self) { group in
                for i in 0..<100 { group.addTask { await adapter.deliver(Self.message("dev-\(i)", id: "touch-\(i)")) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { !$0.isSent }.isEmpty, "\(results.filter { !$0.isSent }.prefix(3))")
            let fetches = try peer.stats()["token_fetches"]
            #expect(fetches == 1)
            _ = await HTTPTransport.unguarded.post(peer.url + "/fcm/_expire", headers: [], body: [], timeout: .seconds(30))
            #expect(await fcm.adapter.deliver(Self.message("dev-ada")).isSent)
            let (refetches, sent) = (try peer.stats()["token_fetches"], try peer.records().count)
            #expect(refetches == 2 && sent == 101)
        }
    }

    @Test func errorCodesMapOntoTheOutcomeTable() async throws {
        try await withFCM { peer, fcm, keys, _, dir in
            func send(_ device: String) async -> DeliveryResult { await fcm.adapter.deliver(Self.message(device)) }
            #expect(await send("dev-unregistered") == .deadLetter(reason: "unregistered device token (trait fcm_token): FCM UNREGISTERED: Requested entity was not found."))
            #expect(await send("dev-transient") == .retry(after: nil, reason: "FCM UNAVAILABLE: The service is currently unavailable."))
            #expect(await send("dev-permanent") == .deadLetter(reason: "FCM INVALID_ARGUMENT: The registration token is not a valid FCM registration token"))
            #expect(await send("dev-quota") == .throttle(for: .seconds(30), reason: "FCM QUOTA_EXCEEDED: Quota exceeded."))
            #expect(await send("dev-mismatch") == .deadLetter(reason: "FCM SENDER_ID_MISMATCH: SenderId mismatch"))

            // A key Google does not know (signed by another key): the channel is disabled.
            let other = try await offThread { () throws -> Keys in
                try FileManager.default.createDirectory(atPath: dir + "/other", withIntermediateDirectories: true)
                return try Keys.make(in: dir + "/other")
            }
            let stranger = try await channel(
                "fcm", in: dir, options: ["base_url": .string(peer.url + "/fcm"), "allow_private": true],
                secrets: ["service_account": other.serviceAccountJSON(tokenURI: peer.url + "/google/token")])
            #expect(await stranger.adapter.deliver(Self.message("dev-ada")) == .disable(reason: "fetching the OAuth2 token: invalid_grant: Invalid JWT Signature."))
            _ = keys
        }
    }

    @Test func conformance() async throws {
        try await withFCM { peer, fcm, keys, logs, _ in
            let devices: [PeerBehavior: String] = [.accept: "dev-ada", .transient: "dev-transient", .permanent: "dev-permanent", .hang: "dev-hang"]
            let harness = ConformanceHarness(
                adapter: fcm.adapter, logs: logs, supports: Set(PeerBehavior.allCases), message: { Self.message(devices[$0]!) },
                waitUntilHanging: { try await Task.sleep(for: .milliseconds(300)) }, accepted: { try peer.records().count })
            let pemBody = keys.privateKeyPEM.split(separator: "\n").dropFirst().first.map(String.init) ?? "?"
            try await ChannelConformance.check(harness, secrets: ["ya29.c.1-tttttttt", pemBody])
        }
    }

    @Test func optionsAndKeyFilesAreChecked() async throws {
        try await withTemporaryDirectory { dir in
            try write(#"{"type":"authorized_user","client_id":"x"}"#, to: dir + "/user.json")
            try write(#"{"type":"service_account","project_id":"p","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#, to: dir + "/bad.json")
            let context = ChannelContext(stateDirectory: dir, configurationDirectory: dir)
            let user = problems(type: "fcm", options: ["service_account_file": "user.json", "token_triat": "x"], context: context)
            #expect(user.contains { $0.contains("channels[2].service_account_file") && $0.contains("type \"authorized_user\"") })
            #expect(user.contains { $0.contains("channels[2].token_triat") && $0.contains("did you mean \"token_trait\"") })
            let bad = problems(type: "fcm", options: ["service_account_file": "bad.json", "data": ["google.x": "1"]], context: context)
            #expect(bad.contains { $0.contains("not an RSA key") && !$0.contains("AAAA") })
            #expect(bad.contains { $0.contains("channels[2].data.google.x") && $0.contains("reserves") })
        }
    }
}
