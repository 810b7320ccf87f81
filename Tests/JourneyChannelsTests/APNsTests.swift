import Crypto
import Foundation
import JourneyCore
import Synchronization
import Testing
import struct JourneyTesting.TestCertificates

@testable import JourneyChannels

/// APNs against `Peers/apns_peer.py`: a real HTTP/2 server on loopback (TLS with a throwaway CA, ALPN h2
/// only) that verifies the ES256 provider token with the signing key's public key and answers APNs'
/// documented reasons.
@Suite struct APNsTests {
    /// A device token whose first four hex digits steer the peer (`0bad`, `0410`, …; `aaaa` is accepted).
    static func device(_ steering: String, _ n: Int = 0) -> String {
        steering + String(format: "%060x", n)
    }

    static func message(_ device: String?, id: String = "touch-1", text: String = "Two items are waiting.") -> OutboundMessage {
        var message = sampleMessage(id, subject: "Your cart misses you", text: text)
        if let device { message.traits.set("apns_token", to: .string(device)) }
        return message
    }

    /// The claims of a JWT, after checking its ES256 signature with swift-crypto.
    static func verified(_ jwt: String, with key: P256.Signing.PublicKey) throws -> (header: [String: Any], claims: [String: Any]) {
        let parts = jwt.split(separator: ".").map(String.init)
        try #require(parts.count == 3)
        func decode(_ text: String) throws -> Data {
            var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            return try #require(Data(base64Encoded: base64))
        }
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: decode(parts[2]))
        #expect(key.isValidSignature(signature, for: Data((parts[0] + "." + parts[1]).utf8)), "the ES256 signature verifies")
        let header = try #require(try JSONSerialization.jsonObject(with: decode(parts[0])) as? [String: Any])
        let claims = try #require(try JSONSerialization.jsonObject(with: decode(parts[1])) as? [String: Any])
        return (header, claims)
    }

    @Test func sendsAnAlertOverHTTP2WithAVerifiedProviderToken() async throws {
        try await APNsPeer.with { setup in
            let push = try await setup.channel(["sound": "default", "data": ["campaign": "lifecycle"]])
            let device = Self.device("aaaa")
            let sent = await push.adapter.deliver(Self.message(device))
            let record = try #require(try setup.peer.records().first)
            #expect(sent == .sent(providerMessageID: record["expected_apns_id"] as? String))
            #expect(record["path"] as? String == "/3/device/\(device)")
            let headers = try #require(record["headers"] as? [String: String])
            #expect(headers[":method"] == "POST" && headers[":scheme"] == "https")
            #expect(headers["apns-topic"] == APNsPeer.topic && headers["apns-push-type"] == "alert" && headers["apns-priority"] == "10")
            #expect(headers["apns-collapse-id"] == "touch-1")
            #expect(headers["apns-id"] == record["expected_apns_id"] as? String, "a UUID v5 of the touch id, computed by the peer")
            let expiration = try #require(headers["apns-expiration"].flatMap { Int64($0) })
            #expect(abs(expiration - (Int64(Date().timeIntervalSince1970) + 86_400)) < 300, "a day from now")
            #expect(
                record["body"] as? String
                    == #"{"aps":{"alert":{"title":"Your cart misses you","body":"Two items are waiting."},"sound":"default"},"touch_id":"touch-1","journey":"cart_abandonment","step":"remind","campaign":"lifecycle"}"#
            )
            // The peer verified the token with the public key (Python's cryptography); so does swift-crypto.
            let (header, claims) = try Self.verified(try #require(record["jwt"] as? String), with: try setup.keys.publicKey)
            #expect(header.count == 2 && header["alg"] as? String == "ES256" && header["kid"] as? String == APNsPeer.keyID)
            #expect(claims.count == 2 && claims["iss"] as? String == APNsPeer.teamID)
            #expect(try setup.peer.stats()["not_http2"] == 0)

            #expect(await push.adapter.deliver(Self.message(nil)) == .deadLetter(reason: #"the user has no APNs device token in trait "apns_token""#))
            #expect(
                await push.adapter.deliver(Self.message("../../admin"))
                    == .deadLetter(reason: #"the device token in trait "apns_token" is not hexadecimal, as APNs tokens are"#))
            let large = await push.adapter.deliver(Self.message(device, text: String(repeating: "x", count: 5000)))
            #expect(large.reason?.hasPrefix("APNs PayloadTooLarge: the payload has 5") == true && kind(large) == "dead letter")

            let background = try await setup.channel(["push_type": "background"])
            #expect(await background.adapter.deliver(Self.message(device, id: "touch-2")).isSent)
            let quiet = try #require(try setup.peer.records().last)
            #expect((quiet["headers"] as? [String: String])?["apns-priority"] == "5")
            #expect(quiet["body"] as? String == #"{"aps":{"content-available":1},"touch_id":"touch-2","journey":"cart_abandonment","step":"remind"}"#)
        }
    }

    @Test func oneTokenForAHundredConcurrentDeliveriesReusedForFiftyMinutes() async throws {
        try await APNsPeer.with { setup in
            // Fifty-two minutes ago, so that every token the test makes is one APNs still takes (under an hour old).
            let offset = Mutex<TimeInterval>(-52 * 60)
            let adapter = try setup.adapter(clock: { Date().addingTimeInterval(offset.withLock { $0 }) })
            let started = ContinuousClock.now
            let results = await withTaskGroup(of: DeliveryResult.self) { group in
                for i in 0..<100 { group.addTask { await adapter.deliver(Self.message(Self.device("aaaa", i), id: "touch-\(i)")) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            #expect(results.filter { !$0.isSent }.isEmpty, "\(results.filter { !$0.isSent }.prefix(3))")
            let stats = try setup.peer.stats()
            #expect(stats["tokens"] == 1 && stats["sent"] == 100)
            #expect(stats["connections"].map { $0 <= 4 } == true, "HTTP/2 multiplexes: \(stats["connections"] ?? 0) connections")
            print("apns: 100 concurrent pushes in \(elapsed) over \(stats["connections"] ?? 0) HTTP/2 connection(s), \(stats["tokens"] ?? 0) provider token")

            offset.withLock { $0 = -3 * 60 }  // 49 minutes later: the same token
            #expect(await adapter.deliver(Self.message(Self.device("aaaa"), id: "touch-late")).isSent)
            #expect(try setup.peer.stats()["tokens"] == 1)
            offset.withLock { $0 = 0 }  // 52 minutes later: a new one
            #expect(await adapter.deliver(Self.message(Self.device("aaaa"), id: "touch-later")).isSent)
            let records = try setup.peer.records()
            #expect(try setup.peer.stats()["tokens"] == 2)
            let iats = records.compactMap { ($0["iat"] as? NSNumber)?.int64Value }
            let now = Int64(Date().timeIntervalSince1970)
            #expect(abs(iats[100] - (now - 52 * 60)) < 300 && abs(iats[101] - now) < 300, "\(iats.suffix(2))")
        }
    }

    @Test func anExpiredProviderTokenIsReplacedOnceAndTheTouchResent() async throws {
        try await APNsPeer.with { setup in
            let push = try await setup.channel()
            #expect(await push.adapter.deliver(Self.message(Self.device("aaaa"))).isSent)
            // APNs says the token expired: one new token, the touch resent and accepted.
            #expect(await push.adapter.deliver(Self.message(Self.device("0e40"), id: "touch-2")).isSent)
            let records = try setup.peer.records()
            #expect(records.count == 2 && records[0]["jwt"] as? String != records[1]["jwt"] as? String)
            #expect(try setup.peer.stats()["tokens"] == 2)
            // Refused again with the fresh token: the clock is wrong for every touch.
            #expect(
                await push.adapter.deliver(Self.message(Self.device("0e41"), id: "touch-3"))
                    == .disable(reason: "APNs 403 ExpiredProviderToken"))
            #expect(try setup.peer.stats()["tokens"] == 3, "one refresh, not a loop")
        }
    }

    @Test func reasonsMapOntoTheOutcomeTable() async throws {
        try await APNsPeer.with { setup in
            let push = try await setup.channel()
            func send(_ steering: String) async -> DeliveryResult { await push.adapter.deliver(Self.message(Self.device(steering))) }
            #expect(await send("0bad") == .deadLetter(reason: "APNs 400 BadDeviceToken"))
            let gone = await send("0410")
            #expect(gone == .deadLetter(reason: "unregistered device token (trait apns_token): APNs 410 Unregistered (the token is invalid since 2024-12-05T12:00:00.000Z)"), "\(gone)")
            #expect(await send("0429") == .retry(after: nil, reason: "APNs 429 TooManyRequests"))
            #expect(await send("0500") == .retry(after: nil, reason: "APNs 500 InternalServerError"))

            // A key APNs does not know (its signature does not verify), a topic of another app: the channel stops.
            let stranger = try await offThread { () throws -> String in
                try TestCertificates.makeP256Key(at: "\(setup.dir)/Other.p8")
                return "\(setup.dir)/Other.p8"
            }
            let wrongKey = try await setup.channel(["auth_key_file": .string(stranger)])
            #expect(await wrongKey.adapter.deliver(Self.message(Self.device("aaaa"))) == .disable(reason: "APNs 403 InvalidProviderToken"))
            let wrongTopic = try await setup.channel(["topic": "com.example.other"])
            #expect(await wrongTopic.adapter.deliver(Self.message(Self.device("aaaa"))) == .disable(reason: "APNs 400 BadTopic"))
            // Without allow_private, loopback is refused before a byte is sent (the HTTP/2 connection checked too).
            let guarded = try await setup.channel(["allow_private": false])
            let refused = await guarded.adapter.deliver(Self.message(Self.device("aaaa")))
            #expect(kind(refused) == "disable" && refused.reason?.hasPrefix("destination refused") == true, "\(refused)")
            #expect(try setup.peer.records().isEmpty)
        }
    }

    @Test func thePipelineRecordsAnUnregisteredTokenAndResendsAfterAnExpiredProviderToken() async throws {
        try await APNsPeer.with { setup in
            let clock = ManualClock(Timestamp(iso8601: "2025-01-06T10:00:00Z")!)
            let push = try await setup.channel()
            let pipeline = DeliveryPipeline(channels: ChannelSet([ConfiguredChannel(name: "test", type: "apns", adapter: push.adapter, policy: push.policy)]), clock: clock)
            let batch = [("t-gone", "0410"), ("t-expired", "0e40"), ("t-down", "0500"), ("t-ok", "aaaa")].map {
                PendingDelivery(message: Self.message(Self.device($0.1), id: $0.0))
            }
            let reports = Dictionary(uniqueKeysWithValues: await pipeline.deliver(batch).map { ($0.touchID, $0.decision) })
            guard case .deadLetter(let reason)? = reports["t-gone"] else { throw TestFailure("t-gone: \(String(describing: reports["t-gone"]))") }
            #expect(RecipientFeedback(reason: reason) == .deviceTokenUnregistered(trait: "apns_token"), "the daemon removes the token from the user")
            #expect(reports["t-expired"]?.description.hasPrefix("sent") == true && reports["t-ok"]?.description.hasPrefix("sent") == true)
            guard case .retry(let at, _)? = reports["t-down"] else { throw TestFailure("t-down: \(String(describing: reports["t-down"]))") }
            #expect(at > clock.now)
            #expect(await pipeline.status(of: "test")?.disabledReason == nil)
        }
    }

    @Test func conformance() async throws {
        try await APNsPeer.with { setup in
            let logs = LogCapture()
            let push = try await setup.channel(logs: logs)
            let adapter = try #require(push.adapter as? APNsAdapter)
            let devices: [PeerBehavior: String] = [
                .accept: Self.device("aaaa"), .transient: Self.device("0500"), .permanent: Self.device("0bad"), .hang: Self.device("0ded"),
            ]
            let harness = ConformanceHarness(
                adapter: adapter, logs: logs, supports: Set(PeerBehavior.allCases), message: { Self.message(devices[$0]!) },
                waitUntilHanging: { try await Task.sleep(for: .milliseconds(300)) }, accepted: { try setup.peer.records().count })
            guard case .success(let token) = await adapter.tokens.token() else { throw TestFailure("no provider token") }
            let pemLine = setup.keys.p8.split(separator: "\n").dropFirst().first.map(String.init) ?? "?"
            try await ChannelConformance.check(harness, secrets: [token.reveal, pemLine])
        }
    }

    @Test func optionsAndKeyFilesAreChecked() async throws {
        try await withTemporaryDirectory { dir in
            try await offThread {
                try TestCertificates.makeP256Key(at: "\(dir)/AuthKey.p8")
                try TestCertificates.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(dir)/rsa.pem"])
            }
            let context = ChannelContext(stateDirectory: dir, configurationDirectory: dir)
            let base: Value = ["auth_key_file": "AuthKey.p8", "key_id": .string(APNsPeer.keyID), "team_id": .string(APNsPeer.teamID), "topic": .string(APNsPeer.topic)]
            #expect(problems(type: "apns", options: base, context: context).isEmpty)
            func with(_ extra: Value) -> [String] { problems(type: "apns", options: base.merging(extra), context: context) }
            let typos = with(["topik": "x", "environment": "producton", "key_id": "abc"])
            #expect(typos.contains { $0.contains("channels[2].topik") && $0.contains("did you mean \"topic\"") })
            #expect(typos.contains { $0.contains("channels[2].environment") && $0.contains("did you mean \"production\"") })
            #expect(typos.contains { $0.contains("channels[2].key_id") && $0.contains("10 capital letters and digits") })
            let rsa = with(["auth_key_file": "rsa.pem"])
            #expect(rsa.contains { $0.contains("channels[2].auth_key_file") && $0.contains("not a P-256") && !$0.contains("BEGIN") })
            #expect(with(["auth_key": "-----BEGIN PRIVATE KEY-----"]).contains { $0.contains("channels[2].auth_key") && $0.contains("not accepted inline") && !$0.contains("BEGIN") })
            #expect(with(["push_type": "background", "priority": 10]).contains { $0.contains("channels[2].priority") && $0.contains("priority 5") })
            #expect(with(["base_url": "http://127.0.0.1:1", "allow_private": true]).contains { $0.contains("channels[2].base_url") && $0.contains("HTTP/2 over TLS") })
            #expect(with(["ca_file": "missing.pem"]).contains { $0.contains("channels[2].ca_file") && $0.contains("not a readable file") })
            #expect(with(["data": ["aps": "x"]]).contains { $0.contains("channels[2].data.aps") })
            #expect(with(["expiration": "60d"]).contains { $0.contains("channels[2].expiration") })

            let sandbox = ChannelOptions(channel: "push", path: "channels[0]", options: base.merging(["environment": "sandbox"]), context: context)
            #expect(APNsAdapter.configure(sandbox)?.baseURL == "https://api.sandbox.push.apple.com")
            let production = ChannelOptions(channel: "push", path: "channels[0]", options: base, context: context)
            #expect(APNsAdapter.configure(production)?.baseURL == "https://api.push.apple.com")
        }
    }

    @Test func theIdsComeFromTheTouchId() {
        #expect(APNsAdapter.apnsID("touch-1") == APNsAdapter.apnsID("touch-1") && APNsAdapter.apnsID("touch-1") != APNsAdapter.apnsID("touch-2"))
        // Python: str(uuid.uuid5(uuid.UUID("6F1C4A52-8F0E-4B1D-9A57-3C2E0D9B7A41"), "t1"))
        #expect(APNsAdapter.apnsID("t1") == "5fc9cb30-e68f-57bd-9bfe-06ed7409db6c")
        #expect(APNsAdapter.collapseID("0123456789abcdef") == "0123456789abcdef")
        let long = String(repeating: "t", count: 80)
        #expect(APNsAdapter.collapseID(long).utf8.count == 64 && APNsAdapter.collapseID(long) != APNsAdapter.collapseID(long + "x"))
    }
}
