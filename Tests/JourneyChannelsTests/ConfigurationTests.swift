import Foundation
import JourneyCore
import Testing

@testable import JourneyChannels

@Suite struct ConfigurationTests {
    @Test func everyBuiltinTypeIsRegistered() {
        #expect(ChannelRegistry.builtin.typeNames == [
            "aliyun_sms", "apns", "dingtalk", "email", "exec", "fcm", "feishu", "file", "log", "slack", "sms", "tencent_sms", "webhook",
            "wechat_subscribe", "wechat_template", "wecom",
        ])
    }

    @Test func unknownTypesGetADidYouMean() {
        #expect(problems(type: "webhok", options: [:]) == [
            #"channels[2].type: unknown channel type "webhok"; did you mean "webhook"? (known: aliyun_sms, apns, dingtalk, email, exec, fcm, feishu, file, log, slack, sms, tencent_sms, webhook, wechat_subscribe, wechat_template, wecom)"#
        ])
    }

    @Test func unknownOptionsGetADidYouMean() {
        let found = problems(type: "webhook", options: ["urll": "https://example.com/hook"])
        #expect(found.contains("channels[2].url: missing (required)"))
        #expect(found.contains { $0.hasPrefix(#"channels[2].urll: unknown option; did you mean "url"?"#) })
    }

    @Test func nestedOptionsAreCheckedToo() {
        let found = problems(type: "log", options: ["retry": ["max_attempt": 3], "rate_limit": ["count": 20, "per": "1 minute"]])
        #expect(found.contains { $0.hasPrefix(#"channels[2].retry.max_attempt: unknown option; did you mean "max_attempts"?"#) })
        #expect(found.contains("channels[2].rate_limit.per: expected a duration such as 1s or 1m"))
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let found = problems(type: "email", options: ["port": 70000, "tls": "sometimes", "from": "not an address"])
        #expect(found.contains("channels[2].host: missing (required)"))
        #expect(found.contains("channels[2].port: must be between 1 and 65535, found 70000"))
        #expect(found.contains { $0.hasPrefix("channels[2].tls: expected one of required, starttls, implicit, none") })
        #expect(found.contains("channels[2].from: not a plain address like news@example.com"))
    }

    @Test func webhooksMustBeHTTPSUnlessPrivateDestinationsAreAllowed() {
        #expect(problems(type: "webhook", options: ["url": "http://example.com/hook"]) == ["channels[2].url: must be https unless allow_private is true"])
        #expect(problems(type: "webhook", options: ["url": "http://127.0.0.1:8080/hook", "allow_private": true]) == [])
        #expect(problems(type: "webhook", options: ["url": "https://user:pw@example.com/hook"]).first?.contains("must not carry a user or password") == true)
    }

    @Test func duplicateNamesAreReported() {
        let found = ChannelRegistry.builtin.check(
            [ChannelSpec(name: "a", type: "log", options: [:], path: "channels[0]"), ChannelSpec(name: "a", type: "log", options: [:], path: "channels[1]")],
            context: ChannelContext())
        #expect(found.map(\.description) == [#"channels[1].name: duplicate channel name "a" (first at channels[0])"#])
    }

    @Test func policyKeysOverrideTheAdapterDefaults() async throws {
        let channel = try await buildChannel(
            type: "dingtalk",
            options: [
                "access_token_file": "/dev/null", "rate_limit": [["count": 10, "per": "1m"], ["count": 2, "per": "1s", "burst": 2]],
                "retry": ["initial": "5s", "max_attempts": 3, "max_age": "2h"], "breaker": ["failures": 2, "open_for": "1m"], "concurrency": 1,
            ], context: ChannelContext(readSecrets: false))
        #expect(channel.policy.rateLimits == [RateLimit(count: 10, per: .minutes(1)), RateLimit(count: 2, per: .seconds(1), burst: 2)])
        #expect(channel.policy.retry.initial == .seconds(5) && channel.policy.retry.maxAttempts == 3 && channel.policy.retry.maxAge == .hours(2))
        #expect(channel.policy.breaker.failureThreshold == 2 && channel.policy.breaker.openFor == .minutes(1))
        #expect(channel.policy.concurrency == 1)
        #expect(ChannelRegistry.builtin.defaultPolicy(of: "dingtalk")?.rateLimits == [RateLimit(count: 20, per: .minutes(1))])
    }

    // MARK: - Secrets

    static let canary = "whsec_Q0FOQVJZLXNlY3JldC12YWx1ZS0xMjM0NQ=="

    @Test func inlineSecretsAreRefusedWithoutEchoingThem() {
        let found = problems(type: "webhook", options: ["url": "https://example.com/hook", "secret": .string(Self.canary)])
        #expect(found == ["channels[2].secret: secrets are not accepted inline; use secret_file: PATH or secret_credential: NAME (a systemd credential)"])
        #expect(!found.joined().contains("Q0FOQVJZ"))
    }

    @Test func secretsComeFromFilesOrSystemdCredentials() async throws {
        try await withTemporaryDirectory { dir in
            try write(Self.canary + "\n", to: dir + "/hook.whsec")
            try FileManager.default.createDirectory(atPath: dir + "/credentials", withIntermediateDirectories: true)
            try write(Self.canary, to: dir + "/credentials/crm-whsec")
            let context = ChannelContext(configurationDirectory: dir, credentialsDirectory: dir + "/credentials")
            #expect(problems(type: "webhook", options: ["url": "https://example.com/h", "secret_file": "hook.whsec"], context: context) == [])
            #expect(problems(type: "webhook", options: ["url": "https://example.com/h", "secret_credential": "crm-whsec"], context: context) == [])

            let missing = problems(type: "webhook", options: ["url": "https://example.com/h", "secret_credential": "nope"], context: context)
            #expect(missing == [#"channels[2].secret_credential: credential "nope" does not exist"#])
            let both = problems(
                type: "webhook", options: ["url": "https://example.com/h", "secret_file": "hook.whsec", "secret_credential": "crm-whsec"], context: context)
            #expect(both == ["channels[2].secret_credential: give either secret_file or secret_credential, not both"])
            let noDirectory = problems(
                type: "webhook", options: ["url": "https://example.com/h", "secret_credential": "crm-whsec"],
                context: ChannelContext(credentialsDirectory: nil))
            #expect(noDirectory.first?.contains("$CREDENTIALS_DIRECTORY is not set") == true)
        }
    }

    @Test func aSecretThatIsNotWhsecBase64IsReportedWithoutItsValue() async throws {
        try await withTemporaryDirectory { dir in
            try write("CANARY-not-base64!", to: dir + "/bad")
            let found = problems(type: "webhook", options: ["url": "https://example.com/h", "secret_file": .string(dir + "/bad")])
            #expect(found == ["channels[2].secret_file: a Standard Webhooks secret is whsec_ followed by base64"])
        }
    }

    @Test func checkWithoutCredentialsValidatesTheShapeOnly() {
        let context = ChannelContext(credentialsDirectory: nil, readSecrets: false)
        #expect(problems(type: "webhook", options: ["url": "https://example.com/h", "secret_credential": "crm"], context: context) == [])
        #expect(problems(type: "sms", options: ["account_sid": "AC1", "from": "+15005550006", "auth_token_file": "/nonexistent"], context: context) == [])
    }

    @Test func secretsPrintAsRedacted() {
        let secret = Secret("CANARY-value")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("CANARY"))
        #expect(Secret.redact("token=CANARY-value&x=1", [secret]) == "token=<redacted>&x=1")
    }

    @Test func everyAdapterAcceptsAMinimalDefinition() async throws {
        try await withTemporaryDirectory { dir in
            try write("s3cr3t-value", to: dir + "/token")
            try write("whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQ=", to: dir + "/whsec")
            try write("https://hooks.slack.com/services/T0/B0/X0", to: dir + "/slack")
            let context = ChannelContext(stateDirectory: dir, configurationDirectory: dir)
            let minimal: [(String, Value)] = [
                ("log", [:]), ("file", ["path": "out.jsonl"]), ("exec", ["command": ["/bin/cat"]]),
                ("webhook", ["url": "https://example.com/hook", "secret_file": "whsec"]),
                ("email", ["host": "smtp.example.com", "from": "news@example.com"]),
                ("sms", ["account_sid": "AC123", "auth_token_file": "token", "from": "+15005550006"]),
                ("wecom", ["key_file": "token"]), ("dingtalk", ["access_token_file": "token", "secret_file": "token"]),
                ("feishu", ["token_file": "token"]), ("slack", ["url_file": "slack"]),
            ]
            let specs = minimal.enumerated().map { ChannelSpec(name: "c\($0)", type: $1.0, options: $1.1, path: "channels[\($0)]") }
            let set = try await ChannelRegistry.builtin.build(specs, context: context)
            #expect(set.channels.map(\.type) == minimal.map(\.0))
            #expect(set.channels.map(\.adapter.acceptsIdempotencyKeys) == [false, true, false, true, false, false, false, false, false, false])
            await set.shutdown()
        }
    }
}
