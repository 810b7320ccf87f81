import Foundation
import Glibc
import JourneyTesting
import Testing

/// The real `journeyd` binary, built next to the test bundle by `swift build --build-tests`.
private let journeyd = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("journeyd").path
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A scratch directory with a copy of the bundled rules, without quiet hours or caps (so a welcome touch
/// goes out whatever the time of day), and the daemon's state, spool and sockets inside it.
private struct Scratch {
    let root: String
    var rules: String { root + "/rules" }

    init() throws {
        root = try TemporaryDirectory(prefix: "journeyd-systemd").path
        try FileManager.default.copyItem(atPath: repositoryRoot + "/rules", toPath: rules)
        try ("timezone: UTC\nlogging: { level: debug }\n" + BundledRules.stagesSection())
            .write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    var runArguments: [String] {
        [
            "run", "--rules", rules, "--state", root + "/state/state.sqlite", "--spool", root + "/spool", "--control",
            root + "/control.sock",
        ]
    }
}


private func connectUnix(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    let result = withSockaddr(path) { connect(fd, $0, $1) }
    if result != 0 {
        close(fd)
        return -1
    }
    return fd
}





/// Sends `text` on a connected stream socket and reads one answer line (on a thread of its own).
private func exchange(_ fd: Int32, _ text: String) async -> String {
    await offThread {
        _ = text.withCString { write(fd, $0, strlen($0)) }
        setReceiveTimeout(fd, milliseconds: 120_000)
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != 10 { answer.append(byte) }
        return String(decoding: answer, as: UTF8.self)
    }
}

/// Connects to the Unix socket at `path` once the daemon has bound it (nil if it never does).
private func connectWhenBound(_ path: String) async -> Int32? {
    var fd: Int32 = -1
    _ = await eventually {
        fd = connectUnix(path)
        return fd >= 0
    }
    return fd >= 0 ? fd : nil
}

private func identifyLine(user: String) -> String {
    let now = ISO8601DateFormatter().string(from: Date())
    return
        #"{"type":"identify","userId":"\#(user)","messageId":"m-\#(user)","timestamp":"\#(now)","traits":{"signup_at":"\#(now)"}}"#
        + "\n"
}

/// The notify protocol and socket activation as the real binary speaks them to a supervisor, and its
/// log lines from a terminal. Each test gives the child its own environment; the test process's own
/// environment is never changed (other suites start daemons concurrently).
@Suite(.serialized) struct ServiceProtocolTests {
    @Test func theDaemonTellsItsSupervisorReadyWatchdogReloadingAndStopping() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let notifyPath = scratch.root + "/notify.sock"
        let listener = NotifyListener(fd: unixSocket(Int32(SOCK_DGRAM.rawValue), path: notifyPath))
        defer { listener.close() }

        // WATCHDOG_PID unset: the watchdog is meant for whoever reads WATCHDOG_USEC.
        let daemon = try ChildProcess(
            journeyd, scratch.runArguments,
            environment: ["NOTIFY_SOCKET": notifyPath, "WATCHDOG_USEC": "400000", "PATH": "/usr/bin:/bin"])
        defer { daemon.signal(SIGKILL) }

        let ready = try #require(await listener.next(within: 90) { $0.hasPrefix("READY=1") })
        let status = try #require(ready.split(separator: "\n").first { $0.hasPrefix("STATUS=") })
        #expect(status.contains("journeys") && status.contains("events"))

        // Pings from the loop, no more often than every half interval (200 ms): counted against the time
        // since READY on the receiving thread's clock, so a test task that is slow to look (a busy machine)
        // sees a backlog of pings but never more than the time allows.
        let readyAt = try #require(listener.received.last).at
        let pingStart = listener.received.count
        _ = await listener.next(within: 1.5) { _ in false }
        let pings = listener.received[pingStart...].filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 2, "\(pings.count) watchdog pings in 1.5 s with WATCHDOG_USEC=400000")
        let span = Double((pings.last ?? readyAt) - readyAt)
        #expect(Double(pings.count) <= span / 200_000 + 2, "\(pings.count) watchdog pings within \(Int(span / 1000)) ms of READY")

        // A reload: RELOADING=1 with MONOTONIC_USEC near our own clock, then READY=1 again.
        let before = monotonicMicroseconds()
        let reload = try ChildProcess(journeyd, ["reload", "--rules", scratch.rules, "--control", scratch.root + "/control.sock"])
        let reloading = try #require(await listener.next(within: 90) { $0.hasPrefix("RELOADING=1") })
        let usec = try #require(
            reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap {
                UInt64($0.dropFirst(15))
            }
        )
        #expect(usec >= before && usec <= monotonicMicroseconds())
        #expect(await listener.next(within: 90) { $0.hasPrefix("READY=1") } != nil)
        #expect(await reload.exit() == 0)

        // SIGTERM: STOPPING=1, then a clean exit.
        daemon.signal(SIGTERM)
        #expect(await listener.next(within: 90) { $0.hasPrefix("STOPPING=1") } != nil)
        #expect(await daemon.exit() == 0 && daemon.process.terminationReason == .exit)
        // Everything said was one of the protocol's messages.
        for (_, text) in listener.received {
            let known = ["READY=1", "STATUS=", "WATCHDOG=1", "RELOADING=1", "MONOTONIC_USEC=", "STOPPING=1", "EXTEND_TIMEOUT_USEC="]
            for line in text.split(separator: "\n") { #expect(known.contains { line.hasPrefix($0) }, "\(line)") }
        }
    }

    @Test func anAbstractNotifySocketWorksToo() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let name = "journeyd-test-\(UUID().uuidString)"
        // An abstract address: a NUL byte, then the name (systemd writes it as "@name").
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [0] + Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0)
        let listener = NotifyListener(fd: fd)
        defer { listener.close() }

        let daemon = try ChildProcess(journeyd, scratch.runArguments, environment: ["NOTIFY_SOCKET": "@" + name, "PATH": "/usr/bin:/bin"])
        defer { daemon.signal(SIGKILL) }
        #expect(await listener.next(within: 90) { $0.hasPrefix("READY=1") } != nil)
        // No WATCHDOG_USEC: no pings.
        _ = await listener.next(within: 0.5) { _ in false }
        #expect(!listener.received.contains { $0.text.contains("WATCHDOG=1") })
        daemon.signal(SIGTERM)
        #expect(await listener.next(within: 90) { $0.hasPrefix("STOPPING=1") } != nil)
        #expect(await daemon.exit() == 0)
    }

    @Test func descriptorsMeantForAnotherProcessAreIgnored() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let events = scratch.root + "/events.sock"
        // LISTEN_PID names another process: journeyd must not take fd 3 as its event socket, and binds
        // the configured path instead.
        let daemon = try ChildProcess(
            journeyd, scratch.runArguments + ["--socket", events],
            environment: ["LISTEN_FDS": "1", "LISTEN_PID": "1", "LISTEN_FDNAMES": "events", "PATH": "/usr/bin:/bin"])
        defer { daemon.signal(SIGKILL) }
        let fd = try #require(await connectWhenBound(events), "journeyd did not bind \(events)")
        defer { close(fd) }
        #expect(await exchange(fd, identifyLine(user: "not-activated-1")) == "ok m-not-activated-1")
        #expect(await daemon.stop() == 0)
    }

    @Test func aSocketHandedOverBySystemdServesEvents() async throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try #require(
            FileManager.default.isExecutableFile(atPath: activate),
            "systemd-socket-activate (package systemd) is missing"
        )
        let scratch = try Scratch()
        defer { scratch.remove() }
        let events = scratch.root + "/events.sock"
        // Without --accept it binds, then execs journeyd with LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=events.
        let daemon = try ChildProcess(
            activate, ["-l", events, "--fdname=events", journeyd] + scratch.runArguments, environment: ["PATH": "/usr/bin:/bin"])
        defer { daemon.signal(SIGKILL) }
        let fd = try #require(await connectWhenBound(events), "could not connect to \(events)")
        defer { close(fd) }
        #expect(await exchange(fd, identifyLine(user: "activated-1")) == "ok m-activated-1")
        #expect(await exchange(fd, "{not json\n").hasPrefix("error "))
        #expect(await daemon.stop() == 0)
        // The daemon did not bind the path itself: the socket systemd-socket-activate made is still there.
        #expect(FileManager.default.fileExists(atPath: events))
    }

    @Test func fromATerminalItLogsReadableLinesToStandardError() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let events = scratch.root + "/events.sock"
        let stderrPath = scratch.root + "/stderr.log"
        // No NOTIFY_SOCKET, no JOURNAL_STREAM.
        let daemon = try ChildProcess(
            journeyd, scratch.runArguments + ["--socket", events], output: stderrPath, environment: ["PATH": "/usr/bin:/bin"])
        defer { daemon.signal(SIGKILL) }
        let fd = try #require(await connectWhenBound(events))
        #expect(await exchange(fd, identifyLine(user: "terminal-1")) == "ok m-terminal-1")
        close(fd)
        func log() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        #expect(await eventually { log().contains("kind=touch_sent") })
        await daemon.stop()
        let text = log()

        let time = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#
        let lines = text.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.wholeMatch(of: try! Regex(time + " notice kind=ready journeyd running: .*")) != nil },
            "\(text)"
        )
        #expect(
            lines.contains {
                $0.wholeMatch(
                    of: try! Regex(
                        time
                            + " debug kind=touch_sent journey=welcome journey_version=\\S+ step=hello user_id=terminal-1 "
                            + "touch_id=[0-9a-f]+ channel=email outcome=sent touch .*"
                    )
                ) != nil
            },
            "\(text)"
        )
        #expect(
            lines.contains { $0.wholeMatch(of: try! Regex(time + " notice kind=stopped journeyd stopped: .*")) != nil },
            "\(text)"
        )
    }
}
