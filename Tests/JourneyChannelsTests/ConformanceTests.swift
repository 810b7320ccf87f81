import Foundation
import Glibc
import JourneyCore
import Synchronization
import Testing
import struct JourneyTesting.TestCertificates

@testable import JourneyChannels

/// Every adapter passes the same conformance kit against a real peer.
@Suite struct ConformanceTests {
    /// Answers for an HTTP peer: each behaviour's response, where error bodies echo the request's URI and
    /// Authorization header (so that a reason that quoted them unredacted would leak a secret).
    struct HTTPScript: Sendable {
        var accept: TestHTTPServer.Response
        var transient: TestHTTPServer.Response = .init(status: 503, body: "")
        var permanent: TestHTTPServer.Response = .init(status: 400, body: "")
        var echoInErrors = true
    }

    /// Runs the kit on an HTTP adapter of `type` against a ``TestHTTPServer`` scripted by `script`.
    func checkHTTP(
        _ type: String, options: @escaping (TestHTTPServer) -> Value, secrets: @escaping (TestHTTPServer) -> [String: String],
        canaries: [String], script: HTTPScript
    ) async throws {
        let behavior = Mutex(PeerBehavior.accept)
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                let echo = "uri=\(request.uri) auth=\(request.header("authorization") ?? "")"
                switch behavior.withLock({ $0 }) {
                case .accept: return script.accept
                case .hang: return .hanging
                case .transient:
                    var r = script.transient
                    r.body = r.body.isEmpty ? echo : r.body.replacingOccurrences(of: "ECHO", with: echo)
                    return r
                case .permanent:
                    var r = script.permanent
                    r.body = r.body.isEmpty ? echo : r.body.replacingOccurrences(of: "ECHO", with: echo)
                    return r
                }
            }) { server in
                let logs = LogCapture()
                // A generous timeout: the peer is on loopback, but a loaded machine can starve this process for
                // seconds (the hang case is ended by cancellation, not by the timeout).
                var configured = options(server)
                if case .object(var members) = configured, !members.contains(where: { $0.key == "timeout" }) {
                    members.append(.init("timeout", "5m"))
                    configured = .object(members)
                }
                let built = try await channel(type, in: dir, options: configured, secrets: secrets(server), logger: logs)
                let accepted = Mutex(0)
                let harness = ConformanceHarness(
                    adapter: built.adapter, logs: logs, supports: Set(PeerBehavior.allCases),
                    setBehavior: { b in
                        behavior.withLock { $0 = b }
                        if b == .accept { accepted.withLock { $0 = server.requests.count } }
                    },
                    waitUntilHanging: { [count = server.requests.count] in _ = try await server.waitForRequests(count + 1) },
                    accepted: { server.requests.count - accepted.withLock { $0 } })
                try await ChannelConformance.check(harness, secrets: canaries)
            }
        }
    }

    @Test func webhook() async throws {
        let canary = "whsec_Q0FOQVJZLXdlYmhvb2stc2VjcmV0LTAx"
        try await checkHTTP(
            "webhook", options: { ["url": .string($0.url + "/hook"), "allow_private": true] }, secrets: { _ in ["secret": canary] },
            canaries: [canary, "Q0FOQVJZLXdlYmhvb2stc2VjcmV0LTAx"], script: .init(accept: .ok(status: 204)))
    }

    @Test func slack() async throws {
        try await checkHTTP(
            "slack", options: { _ in ["allow_private": true] }, secrets: { ["url": $0.url + "/services/T0CANARY1/B0CANARY2/XCANARYSLACK3"] },
            canaries: ["XCANARYSLACK3"],
            script: .init(accept: .ok("ok"), transient: .init(status: 500, body: "rollup_error ECHO"), permanent: .init(status: 400, body: "invalid_payload ECHO")))
    }

    @Test func wecom() async throws {
        try await checkHTTP(
            "wecom", options: { ["base_url": .string($0.url), "allow_private": true] }, secrets: { _ in ["key": "CANARY-wecom-key-7731"] },
            canaries: ["CANARY-wecom-key-7731"],
            script: .init(
                accept: .ok(#"{"errcode":0,"errmsg":"ok"}"#), transient: .init(status: 502, body: "bad gateway ECHO"),
                permanent: .ok(#"{"errcode":40008,"errmsg":"invalid message type ECHO"}"#)))
    }

    @Test func dingtalk() async throws {
        try await checkHTTP(
            "dingtalk", options: { ["base_url": .string($0.url), "allow_private": true] },
            secrets: { _ in ["access_token": "CANARY-ding-token-5521", "secret": "SECCANARYdingsecret9932"] },
            canaries: ["CANARY-ding-token-5521", "SECCANARYdingsecret9932"],
            script: .init(
                accept: .ok(#"{"errcode":0,"errmsg":"ok"}"#), transient: .init(status: 503, body: "ECHO"),
                permanent: .ok(#"{"errcode":40035,"errmsg":"bad param ECHO"}"#)))
    }

    @Test func feishu() async throws {
        try await checkHTTP(
            "feishu", options: { ["base_url": .string($0.url), "allow_private": true] },
            secrets: { _ in ["token": "CANARY-feishu-hook-1187", "secret": "CANARY-feishu-secret-2209"] },
            canaries: ["CANARY-feishu-hook-1187", "CANARY-feishu-secret-2209"],
            script: .init(accept: .ok(#"{"code":0,"msg":"success"}"#), permanent: .ok(#"{"code":9499,"msg":"Bad Request ECHO"}"#)))
    }

    @Test func sms() async throws {
        let token = "CANARYtwiliotoken4417"
        try await checkHTTP(
            "sms", options: { ["base_url": .string($0.url), "allow_private": true, "account_sid": "AC123", "from": "+15005550006"] },
            secrets: { _ in ["auth_token": token] },
            canaries: [token, Data("AC123:\(token)".utf8).base64EncodedString(), "+4915112345678"],
            script: .init(
                accept: .init(status: 201, body: #"{"sid":"SM1"}"#),
                permanent: .init(status: 400, body: #"{"code":21211,"message":"ECHO to +4915112345678"}"#)))
    }

    @Test func email() async throws {
        try await withTemporaryDirectory { dir in
            let certs = try await offThread { try TestCertificates.make(in: dir) }
            try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
            let password = "CANARY-smtp-password-6650"
            try await withPythonPeer(
                "smtp_peer.py",
                ["--out", dir + "/out", "--cert", certs.certificateFile, "--key", certs.keyFile, "--require-starttls", "--auth", "journeys:\(password)"]
            ) { peer in
                let logs = LogCapture()
                let email = try await channel(
                    "email", in: dir,
                    options: [
                        "host": "127.0.0.1", "port": .number(Double(peer.port)), "tls_server_name": "localhost", "ca_file": .string(certs.caFile),
                        "from": "news@example.com", "username": "journeys",
                    ], secrets: ["password": password], logger: logs)
                let recipients: [PeerBehavior: String] = [
                    .accept: "ada@example.com", .transient: "tempfail@example.com", .permanent: "reject@example.com", .hang: "hang@example.com",
                ]
                let harness = ConformanceHarness(
                    adapter: email.adapter, logs: logs, supports: Set(PeerBehavior.allCases),
                    message: { sampleMessage(email: recipients[$0]!) },
                    accepted: { (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out"))?.filter { $0.hasSuffix(".json") }.count ?? 0 })
                try await ChannelConformance.check(harness, secrets: [password, Data("\0journeys\0\(password)".utf8).base64EncodedString()])
            }
        }
    }

    @Test func exec() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/adapter.sh"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
            let script = """
                #!/bin/sh
                input=$(cat)
                case "$input" in
                  *'"mode":"transient"'*) echo "busy" >&2; exit 75 ;;
                  *'"mode":"permanent"'*) echo "no such device" >&2; exit 1 ;;
                  *'"mode":"hang"'*) touch "$0.hanging"; exec sleep 60 ;;
                esac
                echo "$input" >> "$0.accepted"
                echo ok-1

                """
            _ = Array(script.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
            let logs = LogCapture()
            let exec = try await channel("exec", in: dir, options: ["command": [.string(path)], "timeout": "2m"], logger: logs)
            let harness = ConformanceHarness(
                adapter: exec.adapter, logs: logs, supports: Set(PeerBehavior.allCases),
                message: { sampleMessage(data: ["mode": .string($0.rawValue)]) },
                waitUntilHanging: { _ = try await eventually { FileManager.default.fileExists(atPath: path + ".hanging") } },
                accepted: { ((try? String(contentsOfFile: path + ".accepted", encoding: .utf8)) ?? "").split(separator: "\n").count })
            try await ChannelConformance.check(harness, secrets: [])
        }
    }

    @Test func file() async throws {
        try await withTemporaryDirectory { dir in
            let logs = LogCapture()
            let file = try await channel("file", in: dir, options: ["path": "touches.jsonl"], logger: logs)
            let harness = ConformanceHarness(
                adapter: file.adapter, logs: logs, supports: [.accept],
                accepted: { ((try? String(contentsOfFile: dir + "/touches.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").count })
            try await ChannelConformance.check(harness, secrets: [])
        }
    }

    @Test func log() async throws {
        try await withTemporaryDirectory { dir in
            let logs = LogCapture()
            let log = try await channel("log", in: dir, options: [:], logger: logs)
            let harness = ConformanceHarness(adapter: log.adapter, logs: logs, supports: [.accept], accepted: { logs.all.count })
            try await ChannelConformance.check(harness, secrets: [])
        }
    }
}
