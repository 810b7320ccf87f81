import Foundation
import Glibc
import JourneyCore
import NIOCore
import Testing

@testable import JourneyChannels

/// The channel types that send over HTTP (and take the `timeout` option).
let httpChannelTypes: Set<String> = [
    "webhook", "sms", "slack", "feishu", "wecom", "dingtalk", "aliyun_sms", "tencent_sms", "wechat_template", "wechat_subscribe", "fcm", "apns",
]

/// Builds a channel whose secret options are written to files in `dir` first.
func channel(
    _ type: String, in dir: String, options: Value, secrets: [String: String] = [:], logger: LogCapture? = nil
) async throws -> ConfiguredChannel {
    var options = options
    // A loopback peer can be slow to answer while the machine is busy (the whole suite runs in parallel
    // on two cores): HTTP channels get a generous timeout unless the test sets one, as tests about
    // timeouts do.
    if httpChannelTypes.contains(type), options["timeout"] == nil { options.set("timeout", to: "2m") }
    for (name, value) in secrets {
        try write(value, to: "\(dir)/\(name).secret")
        options.set("\(name)_file", to: .string("\(dir)/\(name).secret"))
    }
    var context = ChannelContext(stateDirectory: dir, configurationDirectory: dir)
    if let logger { context.logger = logger.logger }
    return try await buildChannel(type: type, options: options, context: context)
}

@Suite struct WebhookTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test func postsTheMessageSignedTheStandardWebhooksWay() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ _ in .ok(status: 204) }) { server in
                let webhook = try await channel(
                    "webhook", in: dir, options: ["url": .string(server.url + "/hooks/journeys"), "allow_private": true, "headers": ["X-Team": "growth"]],
                    secrets: ["secret": Self.secret])
                let result = await webhook.adapter.deliver(sampleMessage(html: "<p>Hi</p>"))
                #expect(result == .sent(providerMessageID: nil))

                let request = try #require(server.requests.first)
                #expect(request.method == "POST" && request.path == "/hooks/journeys")
                #expect(request.header("content-type") == "application/json")
                #expect(request.header("webhook-id") == "0123456789abcdef")
                #expect(request.header("idempotency-key") == "0123456789abcdef")
                #expect(request.header("x-team") == "growth")
                let timestamp = try #require(request.header("webhook-timestamp").flatMap { Int64($0) })
                #expect(abs(timestamp - Int64(Date().timeIntervalSince1970)) < 300)
                let expected = Signatures.standardWebhooks(secret: Self.secret, id: "0123456789abcdef", timestamp: timestamp, body: request.body)
                #expect(request.header("webhook-signature") == expected)

                let json = try #require(request.json)
                #expect(json["touch_id"] as? String == "0123456789abcdef")
                #expect(json["journey"] as? String == "cart_abandonment")
                #expect(json["subject"] as? String == "Your cart misses you")
                #expect(json["html"] as? String == "<p>Hi</p>")
                #expect((json["data"] as? [String: Any])?["cart_id"] as? String == "c-1")
                #expect((json["traits"] as? [String: Any])?["email"] as? String == "ada@example.com")
                #expect(webhook.adapter.acceptsIdempotencyKeys)
            }
        }
    }

    @Test func rotatingKeysSignWithEach() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer { server in
                let old = "whsec_b2xkLWtleS1vbGQta2V5LW9sZC1rZXk="
                let webhook = try await channel(
                    "webhook", in: dir, options: ["url": .string(server.url), "allow_private": true], secrets: ["secret": "\(Self.secret)\n\(old)\n"])
                _ = await webhook.adapter.deliver(sampleMessage())
                let request = try #require(server.requests.first)
                let timestamp = Int64(request.header("webhook-timestamp")!)!
                let signatures = request.header("webhook-signature")!.split(separator: " ").map(String.init)
                #expect(signatures == [Self.secret, old].map { Signatures.standardWebhooks(secret: $0, id: "0123456789abcdef", timestamp: timestamp, body: request.body)! })
            }
        }
    }

    @Test func githubAndStripeStyleSignatures() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer { server in
                let github = try await channel(
                    "webhook", in: dir, options: ["url": .string(server.url), "allow_private": true, "signature": "github"],
                    secrets: ["secret": "It's a Secret to Everybody"])
                _ = await github.adapter.deliver(sampleMessage())
                let stripe = try await channel(
                    "webhook", in: dir, options: ["url": .string(server.url), "allow_private": true, "signature": "stripe"],
                    secrets: ["secret": "whsec_test"])
                _ = await stripe.adapter.deliver(sampleMessage())
                let requests = try await server.waitForRequests(2)
                #expect(requests[0].header("x-hub-signature-256") == Signatures.github(secret: "It's a Secret to Everybody", body: requests[0].body))
                let timestamp = Int64(requests[1].header("webhook-timestamp")!)!
                #expect(requests[1].header("stripe-signature") == Signatures.stripe(secret: "whsec_test", timestamp: timestamp, body: requests[1].body))
            }
        }
    }

    @Test func redirectsAreAnOutcomeNeverFollowed() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                request.path == "/temporary"
                    ? .init(status: 302, headers: [("Location", "/elsewhere")]) : .init(status: 301, headers: [("Location", "/moved")])
            }) { server in
                let temporary = try await channel("webhook", in: dir, options: ["url": .string(server.url + "/temporary"), "allow_private": true])
                #expect(await temporary.adapter.deliver(sampleMessage()) == .retry(after: nil, reason: "HTTP 302 Found"))
                let permanent = try await channel("webhook", in: dir, options: ["url": .string(server.url + "/permanent"), "allow_private": true])
                #expect(await permanent.adapter.deliver(sampleMessage()) == .disable(reason: "HTTP 301 Moved Permanently"))
                #expect(server.requests.map(\.path) == ["/temporary", "/permanent"], "nothing followed the Location")
            }
        }
    }

    @Test func statusesAreClassifiedWithRetryAfterAndABodyExcerpt() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                switch request.path {
                case "/gone": return .init(status: 410, body: "endpoint deleted")
                case "/busy": return .init(status: 429, headers: [("Retry-After", "7")])
                case "/down": return .init(status: 503, headers: [("Retry-After", "120")], body: "maintenance\nuntil noon")
                default: return .init(status: 400, body: #"{"error":"unknown field"}"#)
                }
            }) { server async throws in
                func deliver(_ path: String) async throws -> DeliveryResult {
                    let webhook = try await channel("webhook", in: dir, options: ["url": .string(server.url + path), "allow_private": true])
                    return await webhook.adapter.deliver(sampleMessage())
                }
                #expect(try await deliver("/gone") == .disable(reason: "HTTP 410 Gone: endpoint deleted"))
                #expect(try await deliver("/busy") == .throttle(for: .seconds(7), reason: "HTTP 429 Too Many Requests"))
                #expect(try await deliver("/down") == .retry(after: .seconds(120), reason: "HTTP 503 Service Unavailable: maintenance"))
                #expect(try await deliver("/bad") == .deadLetter(reason: #"HTTP 400 Bad Request: {"error":"unknown field"}"#))
            }
        }
    }

    @Test func privateDestinationsAreRefusedBeforeAnyByteIsSent() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer { server in
                let literal = try await channel("webhook", in: dir, options: ["url": .string("https://127.0.0.1:\(server.port)/hook")])
                #expect(await literal.adapter.deliver(sampleMessage()) == .disable(reason: "destination refused: 127.0.0.1 is a loopback address"))
                // A name is judged by what it resolves to, not by how it looks.
                let named = try await channel("webhook", in: dir, options: ["url": .string("https://localhost:\(server.port)/hook")])
                let result = await named.adapter.deliver(sampleMessage())
                #expect(kind(result) == "disable" && result.reason?.contains("loopback") == true, "\(result)")
                #expect(server.requests.isEmpty)
            }
        }
    }

    /// DNS rebinding: the name looked public when checked, then resolved to loopback when connecting.
    /// The address the connection reached is checked too, and the request is never written.
    @Test func theAddressActuallyConnectedToIsCheckedToo() async throws {
        try await withTestHTTPServer { server in
            let lying = HTTPTransport(allowPrivate: false) { host, port in [try SocketAddress(ipAddress: "93.184.216.34", port: port)] }
            let exchange = await lying.post("http://localhost:\(server.port)/hook", headers: [], body: Array("{}".utf8), timeout: .seconds(30))
            guard case .failed(let outcome) = exchange else {
                Issue.record("expected a refusal, got a response")
                await lying.shutdown()
                return
            }
            #expect(kind(outcome.classification) == "disable")
            #expect(outcome.description.contains("loopback"), "\(outcome)")
            #expect(server.requests.isEmpty)
            await lying.shutdown()
        }
    }

    @Test func addressPolicyCoversTheSpecialRanges() {
        let refused = [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
            "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
        ]
        for ip in refused { #expect(AddressPolicy.refusal(ip: ip) != nil, "\(ip)") }
        for ip in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            #expect(AddressPolicy.refusal(ip: ip) == nil, "\(ip)")
        }
    }

    /// The timeout covers the whole exchange: a receiver that never answers, and one that sends its head
    /// and part of its body and then nothing, both time out at the channel's `timeout` (1 s here; the
    /// client's own read timeout is 5 minutes, which the bound below tells apart on any machine).
    @Test(arguments: ["never answers", "stalls in its body"])
    func aReceiverThatDoesNotFinishTimesOut(_ receiver: String) async throws {
        let response: TestHTTPServer.Response = receiver == "never answers" ? .hanging : .stallingInBody
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ _ in response }) { server in
                let webhook = try await channel("webhook", in: dir, options: ["url": .string(server.url), "allow_private": true, "timeout": "1s"])
                let start = ContinuousClock.now
                #expect(await webhook.adapter.deliver(sampleMessage()) == .retry(after: nil, reason: "timed out"))
                #expect(ContinuousClock.now - start < .seconds(60))
            }
        }
    }

    @Test func aRefusedConnectionIsRetried() async throws {
        try await withTemporaryDirectory { dir in
            // A port bound but not listening refuses connections, and no other test can take it meanwhile.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let port = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int in
                    guard bind(fd, raw, length) == 0, getsockname(fd, raw, &length) == 0 else { return 0 }
                    return Int(UInt16(bigEndian: pointer.pointee.sin_port))
                }
            }
            #expect(port > 0)
            let webhook = try await channel("webhook", in: dir, options: ["url": .string("http://127.0.0.1:\(port)/"), "allow_private": true])
            let result = await webhook.adapter.deliver(sampleMessage())
            #expect(kind(result) == "retry" && result.reason?.hasPrefix("connection refused") == true, "\(result)")
        }
    }

    @Test func aFailedNameLookupIsRetried() async throws {
        let failing = HTTPTransport(allowPrivate: false) { host, _ in throw AddressPolicy.ResolutionError(host: host, message: "Name or service not known") }
        let exchange = await failing.post("https://hooks.example.invalid/x", headers: [], body: [], timeout: .seconds(5))
        guard case .failed(let outcome) = exchange else {
            Issue.record("expected a failure")
            await failing.shutdown()
            return
        }
        #expect(outcome == .dnsFailure("cannot resolve hooks.example.invalid: Name or service not known"))
        #expect(kind(outcome.classification) == "retry")
        await failing.shutdown()
    }

    @Test func tlsToAServerThatDoesNotSpeakItIsRetried() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer { server in
                let webhook = try await channel("webhook", in: dir, options: ["url": .string("https://127.0.0.1:\(server.port)/"), "allow_private": true, "timeout": "10s"])
                let result = await webhook.adapter.deliver(sampleMessage())
                #expect(kind(result) == "retry", "\(result)")
            }
        }
    }
}
