import Foundation
import JourneyCore
import JourneyTesting
import Testing

/// The HTTP input and the admin listener on the real binary, fed by the real analytics SDKs.
@Suite("HTTP input and metrics", .serialized)
struct HTTPInputTests {
    static let peer = repositoryRoot + "/Tests/JourneyHTTPTests/Peers/sdk_client.py"

    /// Half the fixture's events through segment-analytics-python, half through rudder-sdk-python
    /// (gzip), plus a page, a screen, a group and an alias: the daemon gives exactly the touches of
    /// `journeyd replay`. A scrape of /metrics taken then passes `promtool check metrics`, and its
    /// counters are what was sent.
    @Test func theSDKsGiveTheTouchesOfReplayAndTheScrapeCountsThem() async throws {
        let fixture = try DaemonFixture(events: 2000, files: 0, seed: 23)
        defer { fixture.remove() }
        var lines = try fixture.eventLines()
        let last = #"2026-11-30T00:00:00Z"#
        lines += [
            #"{"type":"page","userId":"visitor-1","name":"Pricing","messageId":"extra-page","timestamp":"\#(last)"}"#,
            #"{"type":"screen","userId":"visitor-1","name":"Cart","messageId":"extra-screen","timestamp":"\#(last)"}"#,
            #"{"type":"group","userId":"visitor-1","groupId":"acme","traits":{"plan":"pro"},"messageId":"extra-group","timestamp":"\#(last)"}"#,
            #"{"type":"alias","userId":"visitor-1","previousId":"anon-1","messageId":"extra-alias","timestamp":"\#(last)"}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: fixture.root + "/all.jsonl", atomically: true, encoding: .utf8)
        let half = lines.count / 2
        try (lines[..<half].joined(separator: "\n") + "\n").write(toFile: fixture.root + "/first.jsonl", atomically: true, encoding: .utf8)
        try (lines[half...].joined(separator: "\n") + "\n").write(toFile: fixture.root + "/second.jsonl", atomically: true, encoding: .utf8)
        try "wk-site\n".write(toFile: fixture.rules + "/site.key", atomically: true, encoding: .utf8)
        try """
        inputs:
          http:
            sources:
              - { name: site, key_file: site.key }
        """.write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)

        let port = freePort()
        let admin = freePort()
        let daemon = try fixture.startLiveDaemon(extra: [
            "--http", "127.0.0.1:\(port)", "--admin", "127.0.0.1:\(admin)", "--clock", "event", "--batch", "256",
        ])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running") })
        #expect(fixture.log.contains("inputs.http.listen 127.0.0.1:\(port): listening on 127.0.0.1:\(port)"))
        for (sdk, file, gzip) in [("segment", "first", false), ("rudder", "second", true)] {
            let result = try await ChildProcess.run(
                "/usr/bin/env",
                ["python3", Self.peer, "--sdk", sdk, "--url", "http://127.0.0.1:\(port)", "--key", "wk-site", "--events", fixture.root + "/\(file).jsonl"]
                    + (gzip ? ["--gzip"] : []))
            #expect(result.status == 0, "\(sdk): \(result.output)")
        }
        // One event the daemon must quarantine, with its reason in the answer.
        let bad = try await HTTPExchange.send(
            "POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-site")], body: Array(#"{"event":"e","messageId":"x"}"#.utf8))
        #expect(bad.status == 400 && bad.body.contains(#""reason":"missing \"userId\" or \"anonymousId\"""#), "\(bad.body)")
        #expect(await eventually { await statusEvents(fixture) == lines.count })

        #expect(try await HTTPExchange.send("GET", "/healthz", port: admin).status == 200)
        let ready = try await HTTPExchange.send("GET", "/readyz", port: admin)
        #expect(ready.status == 200 && ready.body == "ready\n")
        let scrape = try await HTTPExchange.send("GET", "/metrics", port: admin)
        #expect(scrape.status == 200)
        #expect(scrape.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let promtool = try await ChildProcess.run("/usr/bin/env", ["promtool", "check", "metrics"], input: scrape.body)
        #expect(promtool.status == 0 && promtool.output.isEmpty, "promtool: \(promtool.output)")
        let samples = Self.samples(scrape.body)
        #expect(samples[#"journeyd_events_received_total{source="http"}"#] == Double(lines.count), "the rejected one is counted apart")
        #expect(samples[#"journeyd_events_rejected_total{source="http",reason="missing_field"}"#] == 1)
        #expect((samples[#"journeyd_http_requests_total{endpoint="batch",status="200"}"#] ?? 0) >= 2)
        #expect(samples[#"journeyd_http_requests_total{endpoint="track",status="400"}"#] == 1)
        #expect(samples.keys.contains { $0.hasPrefix("journeyd_log_sync_duration_seconds_bucket") })
        // Each decision about a touch is counted once and its attempt timed once, per channel (the
        // processor finds both handles in its own thread's cache): once the deliveries settle, the
        // histogram's count is the counter's.
        #expect(
            await eventually {
                guard let body = try? await HTTPExchange.send("GET", "/metrics", port: admin).body else { return false }
                let now = Self.samples(body)
                let decided = now.filter { $0.key.hasPrefix(#"journeyd_deliveries_total{channel="email""#) }.values.reduce(0, +)
                return decided > 0 && now[#"journeyd_delivery_duration_seconds_count{channel="email"}"#] == decided
            }, "journeyd_delivery_duration_seconds_count{channel=\"email\"} never matched journeyd_deliveries_total")
        #expect(!scrape.body.contains("visitor-1") && !scrape.body.contains(#"userId"#), "no user ids in labels")
        // Every input's trouble series is there before any trouble, at 0 (alerts and `absent()` work from the start).
        for source in ["spool", "http", "admin"] {
            #expect(samples[#"journeyd_input_blocked{source="\#(source)"}"#] == 0, "\(source)")
            #expect(samples[#"journeyd_input_problems_total{source="\#(source)"}"#] == 0, "\(source)")
        }
        // `journeyd status` shows the same registry's counters, by the same labels.
        let status = try await ChildProcess.run(journeydBinary, ["status", "--rules", fixture.rules, "--state", fixture.state])
        #expect(status.status == 0)
        #expect(status.output.contains(#"journeyd_events_received_total{source="http"} \#(lines.count)"#), "\(status.output)")
        #expect(status.output.contains(#"journeyd_events_rejected_total{source="http",reason="missing_field"} 1"#))
        #expect(status.output.contains(#"journeyd_http_requests_total{endpoint="track",status="400"} 1"#))

        #expect(await daemon.stop() == 0)
        #expect(try await fixture.runToCompletion(until: DaemonFixture.end) == 0)
        let expected = try fixture.expectedTouches()
        #expect(expected.count > 100)
        #expect(try fixture.deliveredTouches().sorted() == expected)
    }

    /// Socket activation (journeyd-http.socket, `FileDescriptorName=http`, and journeyd-admin.socket,
    /// `FileDescriptorName=admin`): the daemon serves the sockets systemd bound — here `systemd-socket-activate`, which binds, then execs journeyd with `LISTEN_FDS`
    /// — and binds nothing itself.
    @Test func aSocketHandedOverAsHTTPServesTheTrackingAPI() async throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try #require(FileManager.default.isExecutableFile(atPath: activate), "systemd-socket-activate (package systemd) is missing")
        let fixture = try DaemonFixture(events: 10, files: 0, seed: 3)
        defer { fixture.remove() }
        try "wk-activated\n".write(toFile: fixture.rules + "/site.key", atomically: true, encoding: .utf8)
        // inputs.http.listen names another port: the handed-over socket wins.
        try "inputs:\n  http:\n    listen: 127.0.0.1:1\n    sources:\n      - { name: site, key_file: site.key }\n"
            .write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let port = freePort()
        let admin = freePort()
        let daemon = try ChildProcess(
            activate,
            ["-l", "127.0.0.1:\(port)", "-l", "127.0.0.1:\(admin)", "--fdname=http:admin", journeydBinary, "run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool],
            output: fixture.root + "/daemon.log")
        defer { daemon.signal(SIGKILL) }
        // Once systemd-socket-activate has bound, the request waits in the backlog while journeyd starts.
        var answered: HTTPExchange?
        for _ in 0..<600 where answered == nil {
            answered = try? await HTTPExchange.send(
                "POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-activated")],
                body: Array(#"{"userId":"u-1","event":"Signed Up","messageId":"activated-1","timestamp":"2026-11-01T00:00:00Z"}"#.utf8))
            if answered == nil { await pause(.milliseconds(100)) }
        }
        let answer = try #require(answered, "nothing listened on 127.0.0.1:\(port)")
        #expect(answer.status == 200 && answer.body == #"{"success":true}"#, "\(answer.status) \(answer.body)")
        #expect(answer.headers["server"] == "journeyd")
        #expect(await eventually { fixture.log.contains("journeyd running") })
        #expect(fixture.log.contains(#"inputs.http (the socket systemd passed as "http", fd 3): listening on 127.0.0.1:\#(port)"#), "\(fixture.log)")
        #expect(await eventually { await statusEvents(fixture) == 1 })
        // The second socket, named "admin" (journeyd-admin.socket), serves /readyz and /metrics.
        #expect(fixture.log.contains(#"admin (the socket systemd passed as "admin", fd 4): listening on 127.0.0.1:\#(admin)"#), "\(fixture.log)")
        let ready = try await HTTPExchange.send("GET", "/readyz", port: admin)
        #expect(ready.status == 200 && ready.body == "ready\n")
        let scrape = try await HTTPExchange.send("GET", "/metrics", port: admin)
        #expect(Self.samples(scrape.body)[#"journeyd_events_received_total{source="http"}"#] == 1, "\(scrape.body.prefix(400))")
        #expect(await daemon.stop() == 0)
    }

    /// `name{labels} value` lines of an exposition, by series.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Mistakes in the HTTP input's settings are found where they are: by `check` at their line, and at
    /// start as a configuration error (exit 78, so systemd does not restart into the same mistake).
    /// `inputs.http.idle_timeout`: a connection kept open between requests, or opened and never used,
    /// is closed once idle that long — it no longer holds one of the descriptors the inputs share.
    @Test func idleConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try fixture.enableHTTPInput(settings: ["idle_timeout: 1s"])
        let port = freePort()
        let daemon = try fixture.startLiveDaemon(extra: ["--http", "127.0.0.1:\(port)"])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")

        let unused = try HTTPExchange.connect(port: port, timeout: 120)
        defer { close(unused) }
        let used = try HTTPExchange.connect(port: port, timeout: 120)
        defer { close(used) }
        // A keep-alive request: answered, and the connection stays open for the next one.
        let body = Array(#"{"userId":"u1","event":"app_open","messageId":"idle-1"}"#.utf8)
        let request = HTTPExchange.request("POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-site")], body: body)
        let keepAlive = String(decoding: request, as: UTF8.self).replacingOccurrences(of: "Connection: close\r\n", with: "")
        let started = MonotonicClock.nanoseconds
        #expect(sendAll(Array(keepAlive.utf8), to: used))
        // Both end with the server closing them, not before the second of idleness.
        let (usedAnswer, unusedAnswer) = await offThread { (readToEnd(used), readToEnd(unused)) }
        let seconds = Double(MonotonicClock.nanoseconds - started) / 1e9
        #expect(String(decoding: usedAnswer, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK"), "\(String(decoding: usedAnswer, as: UTF8.self))")
        #expect(unusedAnswer.isEmpty)
        #expect(seconds >= 0.9 && seconds < 110, "closed after \(seconds) s (a read timing out at 120 s is not a close)")
        #expect(await daemon.stop() == 0)
    }

    /// The admin listener holds 16 connections of its own budget: idle ones past that wait in its
    /// backlog (and the journal says so), while the ingest listener, on the daemon's budget, still answers.
    @Test func theAdminListenerKeepsABudgetOfItsOwn() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try fixture.enableHTTPInput()
        let port = freePort()
        let admin = freePort()
        let daemon = try fixture.startLiveDaemon(extra: ["--http", "127.0.0.1:\(port)", "--admin", "127.0.0.1:\(admin)"])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")

        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<20 { idle.append(try HTTPExchange.connect(port: admin, timeout: 120)) }
        // 16 held — or up to 3 more, which NIO may accept in the read that reaches the cap when clients
        // arrive together (a loaded run saw 17; the ingest listener's test allows the same).
        let held = /admin: (\d+) connections, as many as it holds; more wait in the listen backlog/
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.firstMatch(of: held) != nil }, "\(fixture.log.suffix(2000))")
        let count = fixture.log.firstMatch(of: held).flatMap { Int($0.1) } ?? 0
        #expect((16...19).contains(count), "\(count) held: \(fixture.log.suffix(2000))")
        let ingest = try await HTTPExchange.send(
            "POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-site")], body: Array(#"{"userId":"u1","event":"e","messageId":"a1"}"#.utf8))
        #expect(ingest.status == 200)

        let waiting = idle.removeLast()
        #expect(sendAll(HTTPExchange.request("GET", "/healthz", port: admin), to: waiting))
        for fd in idle { close(fd) }
        idle = [waiting]
        let health = try await offThread { try HTTPExchange.parse(readToEnd(waiting)) }
        #expect(health.status == 200 && health.body == "ok\n", "\(health)")
        #expect(await daemon.stop() == 0)
    }

    @Test func aMisconfiguredHTTPInputStopsTheStartWithItsReason() async throws {
        let fixture = try DaemonFixture(events: 10, files: 0, seed: 1)
        defer { fixture.remove() }
        try """
        inputs:
          http:
            listen: "127.0.0.1:99999"
            idle_timeout: 500ms
            sources:
              - { name: web }
              - { name: app, key_file: app.key, key_credential: app }
        """.write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let checked = try await ChildProcess.run(journeydBinary, ["check", fixture.rules])
        #expect(checked.status != 0)
        #expect(checked.output.contains("journeyd.yaml:3:13: inputs.http.listen: expected host:port"), "\(checked.output)")
        #expect(checked.output.contains("journeyd.yaml:4:19: inputs.http.idle_timeout: between 1s and 1d"), "\(checked.output)")
        #expect(checked.output.contains("journeyd.yaml:6:9: inputs.http.sources[0]: needs key_file: PATH or key_credential: NAME"), "\(checked.output)")
        #expect(checked.output.contains("inputs.http.sources[1]: give either key_file or key_credential, not both"), "\(checked.output)")

        try "inputs:\n  http:\n    sources:\n      - { name: web, key_file: missing.key }\n".write(
            toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let port = freePort()
        var run = try await ChildProcess.run(journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--http", "127.0.0.1:\(port)"])
        #expect(run.status == 78)
        #expect(run.output.contains("inputs.http.sources: the key of stream \"web\": cannot read \(fixture.rules)/missing.key"), "\(run.output)")

        // The address taken by another listener: the daemon says which and exits 78.
        try "wk\n".write(toFile: fixture.rules + "/missing.key", atomically: true, encoding: .utf8)
        let taken = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(taken) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(taken, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(taken, 1)
        run = try await ChildProcess.run(journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--http", "127.0.0.1:\(port)"])
        #expect(run.status == 78)
        #expect(run.output.contains("inputs.http.listen 127.0.0.1:\(port): cannot listen"), "\(run.output)")
        #expect(!run.output.contains("journeyd running"))
    }
}
