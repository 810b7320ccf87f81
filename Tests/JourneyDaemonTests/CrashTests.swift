import Foundation
import JourneyCore
import JourneyDaemon
import JourneyRules
import JourneySimulation
import JourneyStore
import JourneyTesting
import Testing

/// The real `journeyd` binary, built next to the test bundle by `swift build --build-tests`.
let journeydBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("journeyd").path
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A work directory with the three reference journeys delivering to a `file` channel, and a spool.
struct DaemonFixture {
    let root: String
    var rules: String { root + "/rules" }
    var state: String { root + "/state/state.sqlite" }
    var spool: String { root + "/spool" }
    var touchesFile: String { root + "/state/touches.jsonl" }
    static let end = "2026-12-01T00:00:00Z"

    init(events: Int, files: Int, seed: UInt64) throws {
        root = try TemporaryDirectory(prefix: "journeyd-daemon").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: rules + "/journeys", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: rules + "/templates", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: spool + "/incoming", withIntermediateDirectories: true)
        for sub in ["journeys", "templates"] {
            for name in try fm.contentsOfDirectory(atPath: repositoryRoot + "/bench/rules/" + sub) {
                try fm.copyItem(atPath: repositoryRoot + "/bench/rules/\(sub)/\(name)", toPath: rules + "/\(sub)/\(name)")
            }
        }
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
        """.write(toFile: rules + "/channels.yaml", atomically: true, encoding: .utf8)
        // The stream, split into files renamed into the spool the way producers must.
        let all = Array(EventGenerator(.init(users: max(events / 20, 1), events: events, span: .days(90), seed: seed)))
        try (all.map { $0.jsonValue.jsonText }.joined(separator: "\n") + "\n")
            .write(toFile: root + "/all.jsonl", atomically: true, encoding: .utf8)
        guard files > 0 else { return }
        let perFile = (all.count + files - 1) / files
        for f in 0..<files {
            let lines = all[(f * perFile)..<min(all.count, (f + 1) * perFile)].map { $0.jsonValue.jsonText }
            let staging = root + "/staging-\(f)"
            try (lines.joined(separator: "\n") + "\n").write(toFile: staging, atomically: true, encoding: .utf8)
            try fm.moveItem(atPath: staging, toPath: spool + String(format: "/incoming/%04d.jsonl", f))
        }
    }

    /// What `journeyd replay` says these events produce, as sorted touch lines.
    func expectedTouches() throws -> [String] {
        let out = root + "/replay.jsonl"
        let sink = try OutputFile(path: out)
        _ = try Replay.run(
            path: root + "/all.jsonl", rules: try RuleLoader.load(directory: rules),
            options: .init(until: Timestamp(iso8601: Self.end)), touches: sink, reject: { _ in })
        try sink.close()
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init).sorted()
    }

    /// Removes everything the fixture made.
    func remove() { try? FileManager.default.removeItem(atPath: root) }

    func startDaemon(batch: Int) throws -> ChildProcess {
        try ChildProcess(
            journeydBinary,
            [
                "run", "--rules", rules, "--state", state, "--spool", spool, "--clock", "event", "--until", Self.end,
                "--batch", String(batch),
            ])
    }

    /// Turns on the HTTP input in journeyd.yaml with one source, `site`, whose write key is `key`;
    /// `settings` are more lines of `inputs.http`, like `idle_timeout: 1s`.
    func enableHTTPInput(key: String = "wk-site", settings: [String] = []) throws {
        try (key + "\n").write(toFile: rules + "/site.key", atomically: true, encoding: .utf8)
        let more = settings.map { "    \($0)\n" }.joined()
        try ("inputs:\n  http:\n" + more + "    sources:\n      - { name: site, key_file: site.key }\n")
            .write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
    }

    /// The daemon on the wall clock, logging to `root/daemon.log`, until stopped.
    func startLiveDaemon(extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(journeydBinary, ["run", "--rules", rules, "--state", state, "--spool", spool] + extra, output: root + "/daemon.log")
    }

    var log: String { (try? String(contentsOfFile: root + "/daemon.log", encoding: .utf8)) ?? "" }

    /// The fixture's events, one JSON line each, in the order they are sent (`all.jsonl`).
    func eventLines() throws -> [String] {
        try String(contentsOfFile: root + "/all.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Adds `yaml` (top-level keys, each line ending in a newline) to the rules' journeyd.yaml.
    func appendSettings(_ yaml: String) throws {
        let current = (try? String(contentsOfFile: rules + "/journeyd.yaml", encoding: .utf8)) ?? ""
        try (current + yaml).write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
    }

    /// Replaces a file the way editors and deploy tools should: write aside, rename over.
    func install(_ text: String, at relative: String) throws {
        let staging = root + "/staging-\(UUID().uuidString)"
        try text.write(toFile: staging, atomically: false, encoding: .utf8)
        _ = try? FileManager.default.removeItem(atPath: rules + "/" + relative)
        try FileManager.default.moveItem(atPath: staging, toPath: rules + "/" + relative)
    }

    /// Runs the daemon on event time until the spool is empty and the clock has reached `until`.
    func runToCompletion(until: String) async throws -> Int32 {
        try await ChildProcess(
            journeydBinary, ["run", "--rules", rules, "--state", state, "--spool", spool, "--clock", "event", "--until", until]
        ).exit()
    }

    func spoolEvent(_ json: String, named name: String) throws {
        try (json + "\n").write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
        try FileManager.default.moveItem(atPath: root + "/" + name, toPath: spool + "/incoming/" + name)
    }

    func deliveredTouches() throws -> [String] {
        guard FileManager.default.fileExists(atPath: touchesFile) else { return [] }
        return try String(contentsOfFile: touchesFile, encoding: .utf8).split(separator: "\n").map(String.init)
    }
}

@Suite("Daemon", .serialized)
struct DaemonTests {
    @Test func theSpoolThroughTheDaemonGivesExactlyTheTouchesOfReplay() async throws {
        let fixture = try DaemonFixture(events: 6000, files: 3, seed: 11)
        defer { fixture.remove() }
        let process = try fixture.startDaemon(batch: 500)
        #expect(await process.exit() == 0)
        #expect(try fixture.deliveredTouches().sorted() == fixture.expectedTouches())
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.spool + "/incoming").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.spool + "/done").count == 3)
    }

    /// The short version of the crash test; `scripts/crash-test.sh` runs the long one
    /// (`JOURNEYD_CRASH_TEST_LONG=1`: 100,000 events, up to 200 kills).
    @Test func killedAtRandomMomentsItLosesNothingAndSendsNothingTwice() async throws {
        let long = ProcessInfo.processInfo.environment["JOURNEYD_CRASH_TEST_LONG"] == "1"
        let events = long ? 100_000 : 20_000
        let maximumKills = long ? 200 : 60
        let fixture = try DaemonFixture(events: events, files: long ? 20 : 8, seed: 7)
        defer { fixture.remove() }
        let expected = try fixture.expectedTouches()
        var random = SplitMix(seed: 2024)
        var kills = 0
        var finished = false
        for _ in 0..<maximumKills where !finished {
            let process = try fixture.startDaemon(batch: 128)
            // The kill comes from a thread of its own: a pause on the test's task lasts as long as the
            // cooperative pool is busy with other tests (seconds under load, long enough for the daemon
            // to finish before the first kill).
            let delay = useconds_t(20_000 + random.next() % 250_000)
            Thread.detachNewThread {
                usleep(delay)
                process.signal(SIGKILL)
            }
            let status = await process.exit()
            if status == SIGKILL && process.process.terminationReason == .uncaughtSignal {
                kills += 1
            } else {
                #expect(status == 0)
                finished = true
            }
        }
        if !finished {
            let process = try fixture.startDaemon(batch: 128)
            #expect(await process.exit() == 0)
        }
        let delivered = try fixture.deliveredTouches()
        #expect(kills >= 5, "the daemon finished before it could be killed often enough (\(kills) kills)")
        #expect(Set(delivered).count == delivered.count, "a touch was delivered twice")
        #expect(delivered.sorted() == expected, "delivered \(delivered.count) touches, replay says \(expected.count)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.spool + "/incoming").isEmpty)
        let store = try SQLiteCheckpointStore(path: fixture.state)
        #expect(try store.integrityCheck() == "ok")
        let counts = try store.outboxCounts()
        #expect(counts[.sent] == expected.count && counts[.inDoubt] == nil && counts[.pending] == nil)
        print("crash test: \(kills) SIGKILLs over \(events) events; \(delivered.count) touches, none lost or doubled")
    }
}

@Suite("Daemon reload")
struct DaemonReloadTests {
    @Test func sighupSwapsInValidRulesAndRefusesBrokenOnesWithoutStopping() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running: 3 journeys") })

        try fixture.install(
            """
            journey: ping_back
            trigger: { event: ping }
            steps:
              - send: emial
                template: cart_reminder
            """, at: "journeys/ping_back.yaml")
        daemon.signal(SIGHUP)
        #expect(await eventually { fixture.log.contains("rules reload refused: 1 error") })
        #expect(fixture.log.contains(#"journeys/ping_back.yaml:4:11: steps[0].send: unknown channel "emial""#))
        #expect(daemon.isRunning)

        try fixture.install(
            """
            journey: ping_back
            trigger: { event: ping }
            steps:
              - id: pong
                send: email
                template: cart_reminder
            """, at: "journeys/ping_back.yaml")
        daemon.signal(SIGHUP)
        #expect(await eventually { fixture.log.contains("rules reloaded: 4 journeys (added 1, changed 0, removed 0, unchanged 3)") })

        let event = #"{"type":"track","userId":"u1","event":"ping","messageId":"p1","timestamp":"2025-01-01T00:00:00Z"}"#
        try (event + "\n").write(toFile: fixture.root + "/ping", atomically: true, encoding: .utf8)
        try FileManager.default.moveItem(atPath: fixture.root + "/ping", toPath: fixture.spool + "/incoming/ping.jsonl")
        #expect(await eventually { ((try? fixture.deliveredTouches()) ?? []).contains { $0.contains(#""step":"pong""#) } })

        daemon.signal()  // SIGTERM: stops after the batch in hand
        #expect(await daemon.exit() == 0)
        #expect(fixture.log.contains("journeyd stopped"))
    }
}

extension DaemonReloadTests {
    /// `journeyd reload` (what systemd's ExecReload= runs) with its exit status and output.
    func reloadCommand(_ fixture: DaemonFixture) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(journeydBinary, ["reload", "--rules", fixture.rules, "--state", fixture.state])
    }

    @Test func journeydReloadWaitsForTheOutcomeAndSaysWhy() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running") })

        try fixture.install("journey: broken\ntrigger: { event: ping }\nsteps:\n  - wait: forever\n", at: "journeys/broken.yaml")
        let refused = try await reloadCommand(fixture)
        #expect(refused.status == 1)
        #expect(refused.output.contains("journeys/broken.yaml:4:11: steps[0].wait: expected a duration"))
        #expect(daemon.isRunning)

        try FileManager.default.removeItem(atPath: fixture.rules + "/journeys/broken.yaml")
        let accepted = try await reloadCommand(fixture)
        #expect(accepted.status == 0)
        #expect(accepted.output.contains("rules reloaded: 3 journeys"))
        #expect(!accepted.output.contains("warning"))

        // journeyd.yaml changes a setting read only at start and one a reload takes: the reload is
        // live, and says which change waits for a restart rather than let it look applied.
        try "state: { checkpoint: { every: 5m } }\ndelivery: { expire_after: 2d }\n".write(
            toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let pending = try await reloadCommand(fixture)
        #expect(pending.status == 0)
        #expect(pending.output.contains("rules reloaded: 3 journeys"))
        let warning =
            "journeyd.yaml: warning: state.checkpoint.every changed: read only at start, it takes effect at the next restart "
            + "(systemctl restart journeyd); the rest of this reload is live"
        #expect(pending.output.contains(warning), "\(pending.output)")
        #expect(fixture.log.contains("outcome=restart_needed"), "\(fixture.log.suffix(1000))")
        daemon.signal()
        #expect(await daemon.exit() == 0)
    }
}

extension DaemonReloadTests {
    @Test func twentyReloadsHalfOfThemInvalidWhileEventsFlowLoseNothing() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running") })
        // A user who will wait (wall clock: one hour) in an unchanged journey through all the reloads.
        try fixture.spoolEvent(
            #"{"type":"track","userId":"waiter","event":"cart_add","messageId":"w1","timestamp":"2025-01-01T00:00:00Z","properties":{"price":80,"cart_id":"c1"}}"#,
            named: "0000-waiter.jsonl")
        #expect(await eventually { !FileManager.default.fileExists(atPath: fixture.spool + "/incoming/0000-waiter.jsonl") })

        var sent = 1
        for round in 1...20 {
            let lines = EventGenerator(.init(users: 200, events: 500, seed: UInt64(round))).map { $0.jsonValue.jsonText }
            try fixture.spoolEvent(lines.joined(separator: "\n"), named: String(format: "%04d.jsonl", round))
            sent += lines.count
            let valid = round % 2 == 0
            try fixture.install(
                """
                journey: extra
                description: round \(round)
                trigger: { event: app_open }
                steps:
                  - \(valid ? "wait: 2h" : "wait: two hours")
                  - send: email
                    template: cart_reminder
                """, at: "journeys/extra.yaml")
            let result = try await reloadCommand(fixture)
            #expect(result.status == (valid ? 0 : 1), "round \(round): \(result.output)")
            if !valid { #expect(result.output.contains("journeys/extra.yaml:5:11: steps[0].wait")) }
        }
        #expect(await eventually { (try? FileManager.default.contentsOfDirectory(atPath: fixture.spool + "/incoming"))?.isEmpty == true })
        daemon.signal()
        #expect(await daemon.exit() == 0)
        #expect(fixture.log.contains("journeyd stopped: \(sent) events"), "\(fixture.log.split(separator: "\n").last ?? "")")
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/state/quarantine"))

        let store = try SQLiteCheckpointStore(path: fixture.state)
        let waiter = try #require(try store.user("waiter"))
        let enrollment = try #require(waiter.enrollments.first { $0.journey == "cart_abandonment" })
        #expect(enrollment.phase == .waitingForEvent)
        #expect(enrollment.timer != 0)
        #expect(store.timerCount > 0)
    }
}

@Suite("Daemon versions")
struct DaemonVersionTests {
    @Test func usersPinnedToAnOlderVersionKeepRunningItAcrossARestart() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        func series(second template: String) -> String {
            """
            journey: series
            on_change: pin
            trigger: { event: ping }
            steps:
              - id: first
                send: email
                template: repurchase_30
              - wait: 1d
              - id: second
                send: email
                template: \(template)
            """
        }
        try fixture.install(series(second: "repurchase_60"), at: "journeys/series.yaml")
        try fixture.spoolEvent(#"{"type":"track","userId":"old","event":"ping","messageId":"p1","timestamp":"2025-01-01T00:00:00Z"}"#, named: "1.jsonl")
        #expect(try await fixture.runToCompletion(until: "2025-01-01T01:00:00Z") == 0)

        // The file changes while "old" waits; the daemon restarts on the new version.
        try fixture.install(series(second: "vip_thanks"), at: "journeys/series.yaml")
        try fixture.spoolEvent(#"{"type":"track","userId":"new","event":"ping","messageId":"p2","timestamp":"2025-01-01T02:00:00Z"}"#, named: "2.jsonl")
        #expect(try await fixture.runToCompletion(until: "2025-01-03T00:00:00Z") == 0)

        let seconds = try fixture.deliveredTouches().filter { $0.contains(#""step":"second""#) }
        #expect(seconds.count == 2)
        #expect(seconds.contains { $0.contains(#""user":"old""#) && $0.contains(#""template":"repurchase_60""#) })
        #expect(seconds.contains { $0.contains(#""user":"new""#) && $0.contains(#""template":"vip_thanks""#) })
    }
}

/// A connected stream socket to the Unix socket at `path`.
func connectUnixSocket(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
    }
    return fd
}

/// Writes all of `bytes` to the stream socket `fd`; false if the peer went away first (`MSG_NOSIGNAL`:
/// a failed write, never a SIGPIPE).
@discardableResult
func sendAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL)) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        written += n
    }
    return true
}

/// Everything `fd` gives until its end (or an error, or its receive timeout).
func readToEnd(_ fd: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return bytes }
        bytes += buffer[0..<n]
    }
}

/// Sends `lines` to a Unix socket, closes the sending side, and returns every answer line.
func exchange(_ lines: [String], at path: String) throws -> [String] {
    let fd = try connectUnixSocket(path)
    defer { close(fd) }
    sendAll(Array((lines.joined(separator: "\n") + "\n").utf8), to: fd)
    shutdown(fd, Int32(SHUT_WR))
    return String(decoding: readToEnd(fd), as: UTF8.self).split(separator: "\n").map(String.init)
}

@Suite("Daemon input")
struct DaemonInputTests {
    /// `--tail` naming a directory is a configuration mistake: exit 78 (systemd does not restart into
    /// it) with the path and why, before anything starts — it used to start, then stop with 74 and
    /// "read failed: Is a directory", naming no path, as a store failure.
    @Test func aTailOrSpoolPathOfTheWrongKindStopsTheStartWithItsReason() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let run = try await ChildProcess.run(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--tail", fixture.root])
        #expect(run.status == 78, "\(run.output)")
        #expect(run.output.contains("tail \(fixture.root): a directory, not a file: --tail (inputs.tail.path) names the JSON-lines file to follow"), "\(run.output)")
        #expect(!run.output.contains("kind=ready"))

        // --spool naming a file: the same, with words rather than a Foundation error's dump.
        let file = fixture.root + "/spool-file"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let spool = try await ChildProcess.run(journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", file])
        #expect(spool.status == 78, "\(spool.output)")
        #expect(spool.output.contains("spool \(file): a file, not a directory: --spool (inputs.spool.directory) names"), "\(spool.output)")
    }

    @Test func theTailedFileIsFollowedAcrossRotationTruncationAndRestart() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let tail = fixture.root + "/events.log"
        var counter = 0
        func lines(_ n: Int) -> String {
            (0..<n).map { _ -> String in
                counter += 1
                return #"{"type":"track","userId":"u\#(counter % 7)","event":"app_open","messageId":"t\#(counter)","timestamp":"2025-01-01T00:00:00Z"}"#
            }.joined(separator: "\n") + "\n"
        }
        func append(_ text: String, to path: String) throws {
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try #require(FileHandle(forWritingAtPath: path))
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try handle.close()
        }
        func events() async -> Int { await statusEvents(fixture) }

        var daemon = try fixture.startLiveDaemon(extra: ["--tail", tail])
        defer { daemon.signal(SIGKILL) }
        try append(lines(100), to: tail)
        try append(#"{"type":"track","userId":"u1","event":"app_open","messageId":"partial","#, to: tail)  // no newline yet
        #expect(await eventually { await events() == 100 })
        try append(#""timestamp":"2025-01-01T00:00:00Z"}"# + "\n", to: tail)
        #expect(await eventually { await events() == 101 })

        // Rotation: more lines land in the old file, which is renamed away; a new file takes the path.
        try append(lines(50), to: tail)
        try FileManager.default.moveItem(atPath: tail, toPath: tail + ".1")
        try append(lines(30), to: tail)
        #expect(await eventually { await events() == 181 })

        // Truncation in place.
        try Data().write(to: URL(fileURLWithPath: tail))
        try append(lines(20), to: tail)
        #expect(await eventually { await events() == 201 })

        // A restart resumes after the last committed line.
        daemon.signal()
        await daemon.exit()
        try append(lines(10), to: tail)
        daemon = try fixture.startLiveDaemon(extra: ["--tail", tail])
        #expect(await eventually { await events() == 10 })
        daemon.signal()
        #expect(await daemon.exit() == 0)
    }

    @Test func everySocketLineIsAnsweredAfterItsCommit() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let socketPath = fixture.root + "/events.sock"
        let daemon = try fixture.startLiveDaemon(extra: ["--socket", socketPath])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: socketPath) })
        let events = EventGenerator(.init(users: 100, events: 3000, seed: 3)).map { $0.jsonValue.jsonText }
        var lines = events
        lines.insert("{not json", at: 10)
        lines.insert(String(repeating: "x", count: 40_000), at: 20)
        let sent = lines
        let answers = try await offThread { try exchange(sent, at: socketPath) }
        #expect(answers.count == lines.count)
        #expect(answers.filter { $0.hasPrefix("ok ") }.count == events.count)
        #expect(answers[10].hasPrefix("error $"))
        #expect(answers[20].hasPrefix("error $:") && answers[20].contains("exceeds 32768 bytes"))
        #expect(answers[0] == "ok m-3-0")
        daemon.signal()
        await daemon.exit()
        #expect(fixture.log.contains("journeyd stopped: \(events.count) events"))
        // What was answered "ok" is in the database.
        let store = try SQLiteCheckpointStore(path: fixture.state)
        #expect(try store.user("u0") != nil && store.user("u99") != nil)
    }

    @Test func hostileLinesAreQuarantinedWithTheirReasonAndTheNextLineIsProcessed() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        func good(_ n: Int) -> [UInt8] {
            Array(#"{"type":"track","userId":"u\#(n)","event":"purchase","messageId":"g\#(n)","timestamp":"2025-01-01T00:0\#(n):00Z","properties":{"price":150}}"#.utf8)
        }
        var lines: [[UInt8]] = [
            good(1),
            [],  // an empty line
            Array(repeating: UInt8(ascii: "x"), count: 64 * 1024 + 1),
            [0x7B, 0xFF, 0xFE, 0x7D],  // invalid UTF-8
            Array(#"{"type":"track","userId":"u9","event":"a\#u{0}b","messageId":"n","timestamp":"2025-01-01T00:00:00Z"}"#.utf8),
            Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8),
            Array(#"{"type":"track","userId":"u9","event":"x","messageId":"big","timestamp":"2025-01-01T00:00:00Z","properties":{"n":1e400}}"#.utf8),
            Array(#"{"type":"track","userId":"u9","userId":"u8","event":"x","messageId":"dup","timestamp":"2025-01-01T00:00:00Z"}"#.utf8),
            Array(#"{"type":"track","event":"x","messageId":"nouser","timestamp":"2025-01-01T00:00:00Z"}"#.utf8),
            good(2),
            good(2),  // a duplicate messageId: ignored and counted, not quarantined
        ]
        lines.append(Array(#"{"type":"track","userId":"u3","event":"purcha"#.utf8))  // truncated, no newline
        var bytes: [UInt8] = []
        for (i, line) in lines.enumerated() {
            bytes += line
            if i < lines.count - 1 { bytes.append(10) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: fixture.root + "/staging"))
        try FileManager.default.moveItem(atPath: fixture.root + "/staging", toPath: fixture.spool + "/incoming/hostile.jsonl")
        let process = try fixture.startDaemon(batch: 4)
        #expect(await process.exit() == 0)

        let quarantine = try String(contentsOfFile: fixture.root + "/state/quarantine/hostile.jsonl.rejected.jsonl", encoding: .utf8)
            .split(separator: "\n").map { String($0) }
        #expect(quarantine.count == 9)
        for reason in ["empty line", "exceeds", "UTF-8", "duplicate key", "out of range", "userId"] {
            #expect(quarantine.contains { $0.contains(reason) }, "no quarantined line says \(reason)")
        }
        // Both good purchases went through (the VIP journey is not involved: no gold tier), and the store
        // took every good event exactly once.
        let store = try SQLiteCheckpointStore(path: fixture.state)
        #expect(try store.user("u1") != nil && store.user("u2") != nil)
        #expect(try store.user("u3") == nil)
        #expect(try store.integrityCheck() == "ok")
    }
}
