import Foundation
import Glibc
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
        root =
            FileManager.default.temporaryDirectory.appendingPathComponent("journeyd-systemd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repositoryRoot + "/rules", toPath: rules)
        try "timezone: UTC\n".write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    var runArguments: [String] {
        [
            "run", "--rules", rules, "--state", root + "/state/state.sqlite", "--spool", root + "/spool", "--control",
            root + "/control.sock",
        ]
    }
}

/// Binds a Unix socket (datagram for the notify socket, stream for clients) at `path`.
private func unixSocket(_ type: Int32, path: String) -> Int32 {
    let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    withSockaddr(path) { bind(fd, $0, $1) }
    return fd
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

@discardableResult
private func withSockaddr(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

private func setReceiveTimeout(_ fd: Int32, milliseconds: Int) {
    var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
}

/// Datagrams from the notify socket, with the CLOCK_MONOTONIC µs at which each arrived.
private struct NotifyListener {
    let fd: Int32
    var received: [(at: UInt64, text: String)] = []

    /// Receives until `predicate` holds for a datagram (returned) or `seconds` pass (nil).
    mutating func next(within seconds: Double, where predicate: (String) -> Bool) -> String? {
        let deadline = monotonicMicroseconds() + UInt64(seconds * 1e6)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while monotonicMicroseconds() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { continue }
            let text = String(decoding: buffer[0..<n], as: UTF8.self)
            received.append((monotonicMicroseconds(), text))
            if predicate(text) { return text }
        }
        return nil
    }
}

private func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}

/// Sends `text` on a connected stream socket and reads one answer line.
private func exchange(_ fd: Int32, _ text: String) -> String {
    _ = text.withCString { write(fd, $0, strlen($0)) }
    setReceiveTimeout(fd, milliseconds: 20_000)
    var answer: [UInt8] = []
    var byte: UInt8 = 0
    while read(fd, &byte, 1) == 1, byte != 10 { answer.append(byte) }
    return String(decoding: answer, as: UTF8.self)
}

private func identifyLine(user: String) -> String {
    let now = ISO8601DateFormatter().string(from: Date())
    return
        #"{"type":"identify","userId":"\#(user)","messageId":"m-\#(user)","timestamp":"\#(now)","traits":{"signup_at":"\#(now)"}}"#
        + "\n"
}

private func waitForExit(_ process: Process, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    return !process.isRunning
}

/// The notify protocol and socket activation as the real binary speaks them to a supervisor, and its
/// log lines from a terminal. Each test gives the child its own environment; the test process's own
/// environment is never changed (other suites start daemons concurrently).
@Suite(.serialized) struct ServiceProtocolTests {
    @Test func theDaemonTellsItsSupervisorReadyWatchdogReloadingAndStopping() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let notifyPath = scratch.root + "/notify.sock"
        var listener = NotifyListener(fd: unixSocket(Int32(SOCK_DGRAM.rawValue), path: notifyPath))
        defer { close(listener.fd) }
        setReceiveTimeout(listener.fd, milliseconds: 100)

        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: journeyd)
        daemon.arguments = scratch.runArguments
        // WATCHDOG_PID unset: the watchdog is meant for whoever reads WATCHDOG_USEC.
        daemon.environment = ["NOTIFY_SOCKET": notifyPath, "WATCHDOG_USEC": "400000", "PATH": "/usr/bin:/bin"]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        let ready = try #require(listener.next(within: 60) { $0.hasPrefix("READY=1") })
        let status = try #require(ready.split(separator: "\n").first { $0.hasPrefix("STATUS=") })
        #expect(status.contains("journeys") && status.contains("events"))

        // Pings from the loop, no more often than every half interval (200 ms).
        let pingStart = listener.received.count
        _ = listener.next(within: 1.5) { _ in false }
        let pings = listener.received[pingStart...].filter { $0.text == "WATCHDOG=1" }.map(\.at)
        #expect(pings.count >= 4, "\(pings.count) watchdog pings in 1.5 s with WATCHDOG_USEC=400000")
        for (earlier, later) in zip(pings, pings.dropFirst()) {
            #expect(later - earlier >= 190_000, "pings \(later - earlier) µs apart")
        }

        // A reload: RELOADING=1 with MONOTONIC_USEC near our own clock, then READY=1 again.
        let reload = Process()
        reload.executableURL = URL(fileURLWithPath: journeyd)
        reload.arguments = ["reload", "--rules", scratch.rules, "--control", scratch.root + "/control.sock"]
        reload.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let before = monotonicMicroseconds()
        try reload.run()
        let reloading = try #require(listener.next(within: 30) { $0.hasPrefix("RELOADING=1") })
        let usec = try #require(
            reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap {
                UInt64($0.dropFirst(15))
            }
        )
        #expect(usec >= before && usec <= monotonicMicroseconds())
        #expect(listener.next(within: 30) { $0.hasPrefix("READY=1") } != nil)
        reload.waitUntilExit()
        #expect(reload.terminationStatus == 0)

        // SIGTERM: STOPPING=1, then a clean exit.
        kill(daemon.processIdentifier, SIGTERM)
        #expect(listener.next(within: 30) { $0.hasPrefix("STOPPING=1") } != nil)
        #expect(waitForExit(daemon, seconds: 30))
        #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
        // Everything said was one of the protocol's messages.
        for (_, text) in listener.received {
            let known = ["READY=1", "STATUS=", "WATCHDOG=1", "RELOADING=1", "MONOTONIC_USEC=", "STOPPING=1", "EXTEND_TIMEOUT_USEC="]
            for line in text.split(separator: "\n") { #expect(known.contains { line.hasPrefix($0) }, "\(line)") }
        }
    }

    @Test func anAbstractNotifySocketWorksToo() throws {
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
        var listener = NotifyListener(fd: fd)
        defer { close(fd) }
        setReceiveTimeout(fd, milliseconds: 100)

        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: journeyd)
        daemon.arguments = scratch.runArguments
        daemon.environment = ["NOTIFY_SOCKET": "@" + name, "PATH": "/usr/bin:/bin"]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        #expect(listener.next(within: 60) { $0.hasPrefix("READY=1") } != nil)
        // No WATCHDOG_USEC: no pings.
        _ = listener.next(within: 0.5) { _ in false }
        #expect(!listener.received.contains { $0.text.contains("WATCHDOG=1") })
        kill(daemon.processIdentifier, SIGTERM)
        #expect(listener.next(within: 30) { $0.hasPrefix("STOPPING=1") } != nil)
        #expect(waitForExit(daemon, seconds: 30) && daemon.terminationStatus == 0)
    }

    @Test func descriptorsMeantForAnotherProcessAreIgnored() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let events = scratch.root + "/events.sock"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: journeyd)
        daemon.arguments = scratch.runArguments + ["--socket", events]
        // LISTEN_PID names another process: journeyd must not take fd 3 as its event socket, and binds
        // the configured path instead.
        daemon.environment = [
            "LISTEN_FDS": "1", "LISTEN_PID": "1", "LISTEN_FDNAMES": "events", "PATH": "/usr/bin:/bin",
        ]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        var fd: Int32 = -1
        for _ in 0..<600 where fd < 0 {
            fd = connectUnix(events)
            if fd < 0 { usleep(50_000) }
        }
        try #require(fd >= 0, "journeyd did not bind \(events)")
        defer { close(fd) }
        #expect(exchange(fd, identifyLine(user: "not-activated-1")) == "ok m-not-activated-1")
        kill(daemon.processIdentifier, SIGTERM)
        #expect(waitForExit(daemon, seconds: 30) && daemon.terminationStatus == 0)
    }

    @Test func aSocketHandedOverBySystemdServesEvents() throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try #require(
            FileManager.default.isExecutableFile(atPath: activate),
            "systemd-socket-activate (package systemd) is missing"
        )
        let scratch = try Scratch()
        defer { scratch.remove() }
        let events = scratch.root + "/events.sock"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: activate)
        // Without --accept it binds, then execs journeyd with LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=events.
        daemon.arguments = ["-l", events, "--fdname=events", journeyd] + scratch.runArguments
        daemon.environment = ["PATH": "/usr/bin:/bin"]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        daemon.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        var fd: Int32 = -1
        for _ in 0..<600 where fd < 0 {
            fd = connectUnix(events)
            if fd < 0 { usleep(50_000) }
        }
        try #require(fd >= 0, "could not connect to \(events)")
        defer { close(fd) }
        #expect(exchange(fd, identifyLine(user: "activated-1")) == "ok m-activated-1")
        #expect(exchange(fd, "{not json\n").hasPrefix("error "))
        kill(daemon.processIdentifier, SIGTERM)
        #expect(waitForExit(daemon, seconds: 30) && daemon.terminationStatus == 0)
        // The daemon did not bind the path itself: the socket systemd-socket-activate made is still there.
        #expect(FileManager.default.fileExists(atPath: events))
    }

    @Test func fromATerminalItLogsReadableLinesToStandardError() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let events = scratch.root + "/events.sock"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: journeyd)
        daemon.arguments = scratch.runArguments + ["--socket", events]
        daemon.environment = ["PATH": "/usr/bin:/bin"]  // no NOTIFY_SOCKET, no JOURNAL_STREAM
        let stderrPath = scratch.root + "/stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        daemon.standardError = FileHandle(forWritingAtPath: stderrPath)
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        var fd: Int32 = -1
        for _ in 0..<600 where fd < 0 {
            fd = connectUnix(events)
            if fd < 0 { usleep(50_000) }
        }
        try #require(fd >= 0)
        #expect(exchange(fd, identifyLine(user: "terminal-1")) == "ok m-terminal-1")
        close(fd)
        var log = ""
        for _ in 0..<200 where !log.contains("kind=touch_sent") {
            usleep(50_000)
            log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        }
        kill(daemon.processIdentifier, SIGTERM)
        #expect(waitForExit(daemon, seconds: 30))
        log = try String(contentsOfFile: stderrPath, encoding: .utf8)

        let time = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#
        let lines = log.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.wholeMatch(of: try! Regex(time + " notice kind=ready journeyd running: .*")) != nil },
            "\(log)"
        )
        #expect(
            lines.contains {
                $0.wholeMatch(
                    of: try! Regex(
                        time
                            + " info kind=touch_sent journey=welcome journey_version=\\S+ step=hello user_id=terminal-1 "
                            + "touch_id=[0-9a-f]+ channel=email outcome=sent touch .*"
                    )
                ) != nil
            },
            "\(log)"
        )
        #expect(
            lines.contains { $0.wholeMatch(of: try! Regex(time + " notice kind=stopped journeyd stopped: .*")) != nil },
            "\(log)"
        )
    }
}
