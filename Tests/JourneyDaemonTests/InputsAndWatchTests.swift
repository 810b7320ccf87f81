import Foundation
import JourneyCore
import JourneyDaemon
import JourneyRules
import JourneyStore
import JourneyTesting
import Testing

/// Sends `lines` to a TCP address on loopback, closes the sending side, and returns every answer line.
func exchangeTCP(_ lines: [String], port: UInt16) throws -> [String] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw CocoaError(.fileNoSuchFile) }
    // Write and read at once: the daemon reads a batch at a time and answers after each commit.
    let payload = Array((lines.joined(separator: "\n") + "\n").utf8)
    let writer = Thread {
        sendAll(payload, to: fd)
        shutdown(fd, Int32(SHUT_WR))
    }
    writer.start()
    return String(decoding: readToEnd(fd), as: UTF8.self).split(separator: "\n").map(String.init)
}

/// A free TCP port on loopback (bound, then released, for the daemon to take).
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

@Suite("Daemon inputs agree", .serialized)
struct InputAgreementTests {
    /// The event-clock daemon stopped after its input, then run on to the fixture's end with nothing more
    /// to read: timers fire and every touch is delivered.
    func finish(_ fixture: DaemonFixture, _ daemon: ChildProcess) async throws {
        #expect(await daemon.stop() == 0)
        #expect(try await fixture.runToCompletion(until: DaemonFixture.end) == 0)
    }

    @Test func theTCPSocketGivesExactlyTheTouchesOfReplay() async throws {
        let fixture = try DaemonFixture(events: 4000, files: 0, seed: 11)
        defer { fixture.remove() }
        let lines = try fixture.eventLines()
        let port = freePort()
        let daemon = try fixture.startLiveDaemon(extra: ["--listen", "127.0.0.1:\(port)", "--clock", "event", "--batch", "256"])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running") })
        let answers = try await offThread { try exchangeTCP(lines, port: port) }
        #expect(answers.count == lines.count)
        #expect(answers.allSatisfy { $0.hasPrefix("ok ") })
        try await finish(fixture, daemon)
        #expect(try fixture.deliveredTouches().sorted() == fixture.expectedTouches())
    }

    @Test func theTailedFileGivesExactlyTheTouchesOfReplay() async throws {
        let fixture = try DaemonFixture(events: 4000, files: 0, seed: 11)
        defer { fixture.remove() }
        let tail = fixture.root + "/events.log"
        FileManager.default.createFile(atPath: tail, contents: nil)
        let daemon = try fixture.startLiveDaemon(extra: ["--tail", tail, "--clock", "event", "--batch", "256"])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running") })
        // Appended in pieces, as a producer writes: some cut in the middle of a line.
        let all = try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/all.jsonl"))
        let handle = try #require(FileHandle(forWritingAtPath: tail))
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + 97_001)
            handle.write(all[offset..<end])
            offset = end
        }
        try handle.close()
        let expectedEvents = all.split(separator: 10).count
        #expect(await eventually { await statusEvents(fixture) == expectedEvents })
        try await finish(fixture, daemon)
        #expect(try fixture.deliveredTouches().sorted() == fixture.expectedTouches())
    }
}

/// The `events` figure of `journeyd status`, or -1 when the daemon does not answer.
func statusEvents(_ fixture: DaemonFixture) async -> Int {
    let control = fixture.root + "/state/control.sock"
    guard let answer = await offThread({ try? askDaemon("status", controlSocket: control) }),
        let range = answer.range(of: #""events":"#)
    else { return -1 }
    return Int(answer[range.upperBound...].prefix { $0.isNumber }) ?? -1
}

@Suite("Daemon settings and rule watch", .serialized)
struct SettingsAndWatchTests {
    @Test func aTypoInTheInputsIsReportedAtItsLineAndColumn() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try """
        inputs:
          spool: { directory: /tmp/x, done: keep }
          socket:
            lisen: 127.0.0.1:5170
        state: { durability: maybe }
        """.write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let (_, diagnostics) = RuleLoader.loadReportingAll(directory: fixture.rules)
        let text = diagnostics.map(\.description)
        #expect(text.contains { $0.hasPrefix("journeyd.yaml:2:37: inputs.spool.done: expected archive or delete") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("journeyd.yaml:4:5: inputs.socket.lisen: unknown key \"lisen\"; did you mean \"listen\"?") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("journeyd.yaml:5:22: state.durability: expected full or normal") }, "\(text)")
    }

    @Test func finishedSpoolFilesAreDeletedWhenConfiguredSo() async throws {
        let fixture = try DaemonFixture(events: 500, files: 2, seed: 5)
        defer { fixture.remove() }
        try "inputs: { spool: { done: delete } }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        #expect(try await fixture.runToCompletion(until: DaemonFixture.end) == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.spool + "/incoming").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.spool + "/done").isEmpty)
        #expect(try fixture.deliveredTouches().sorted() == fixture.expectedTouches())
    }

    @Test func editsToTheRuleDirectoryReloadOnceAfterItGoesQuiet() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        // A debounce far longer than the writes below take, even on a loaded machine.
        try "reload: { watch: true, debounce: 1500ms }\n".write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { fixture.log.contains("journeyd running: 3 journeys") })
        func count(_ text: String) -> Int { fixture.log.components(separatedBy: text).count - 1 }

        // An editor's swap file alone changes nothing.
        try "garbage: [".write(toFile: fixture.rules + "/journeys/.extra.yaml.swp", atomically: false, encoding: .utf8)
        await pause(.milliseconds(2500))
        #expect(count("rules reload") == 0)

        // A broken journey is refused, with its position; the old rules keep serving.
        try fixture.install("journey: extra\ntrigger: { event: ping }\nsteps:\n  - wait: soon\n", at: "journeys/extra.yaml")
        #expect(await eventually { count("rules reload refused") == 1 })
        #expect(fixture.log.contains("journeys/extra.yaml:4:11: steps[0].wait"))

        // Five quick writes (a git pull) make one reload, after the last one.
        for round in 1...5 {
            try fixture.install(
                "journey: extra\ndescription: round \(round)\ntrigger: { event: ping }\nsteps:\n  - send: email\n    template: cart_reminder\n",
                at: "journeys/extra.yaml")
        }
        #expect(await eventually { count("rules reloaded") == 1 })
        await pause(.milliseconds(2500))
        #expect(count("rules reloaded") == 1)
        #expect(fixture.log.contains("rules reloaded: 4 journeys (added 1"))

        // Deploy tools switch releases by swapping a symlink (`ln -s … tmp && mv -T tmp journeys`): followed.
        func release(_ name: String, dropping dropped: String?) throws -> String {
            let folder = fixture.root + "/" + name
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for file in try FileManager.default.contentsOfDirectory(atPath: fixture.rules + "/journeys") where file.hasSuffix(".yaml") && file != dropped {
                try FileManager.default.copyItem(atPath: fixture.rules + "/journeys/" + file, toPath: folder + "/" + file)
            }
            return folder
        }
        func swap(to folder: String) throws {
            try FileManager.default.createSymbolicLink(atPath: fixture.root + "/journeys-link", withDestinationPath: folder)
            #expect(rename(fixture.root + "/journeys-link", fixture.rules + "/journeys") == 0)
        }
        let first = try release("release-1", dropping: nil)
        let second = try release("release-2", dropping: "extra.yaml")
        try FileManager.default.removeItem(atPath: fixture.rules + "/journeys")
        try swap(to: first)
        #expect(await eventually { count("rules reloaded") == 2 })
        try swap(to: second)
        #expect(await eventually { fixture.log.contains("rules reloaded: 3 journeys (added 0, changed 0, removed 1") })
        daemon.signal()
        #expect(await daemon.exit() == 0)
    }
}
