import Foundation
import Glibc
import JourneyCore
import JourneyDaemon
import JourneyStore
import JourneyTesting
import Testing

/// The wall clock stepped under the real binary (the fault hook `clock ±SPAN`), and the disk filling up.
@Suite("Daemon clock and disk", .serialized)
struct ClockAndDiskTests {
    /// 10,000 timers through a jump of a day forward and an hour back: none fires early, none twice,
    /// none is lost — the forward jump fires what became due (late), the backward one fires nothing
    /// until time has caught up.
    @Test func tenThousandTimersThroughClockJumpsFireOnceNeverEarly() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let waits = [2, 20, 30]  // hours
        for (n, hours) in waits.enumerated() {
            try """
            journey: nap\(n)
            trigger: { event: nap\(n) }
            limits: { late: { after: 30d, then: send } }
            steps:
              - wait: \(hours)h
              - id: wake
                send: email
                template: cart_reminder
            """.write(toFile: fixture.rules + "/journeys/nap\(n).yaml", atomically: true, encoding: .utf8)
        }
        let socketPath = fixture.root + "/events.sock"
        let daemon = try ChildProcess(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--socket", socketPath],
            output: fixture.root + "/daemon.log", environment: ["JOURNEYD_FAULT_INJECTION": "1"])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: socketPath) })
        let start = WallClock().now
        let lines = (0..<10_000).map { i in
            #"{"type":"track","userId":"u\#(i)","event":"nap\#(i % 3)","messageId":"n\#(i)","timestamp":"\#(start.iso8601)"}"#
        }
        let answers = try await offThread { try exchange(lines, at: socketPath) }
        #expect(answers.count == 10_000 && answers.allSatisfy { $0.hasPrefix("ok ") })
        let control = fixture.root + "/state/control.sock"
        func step(_ span: String) async throws {
            let answer = try await offThread { try askDaemon("clock \(span)", controlSocket: control) }
            #expect(answer.contains(#""ok":true"#), "\(answer)")
        }
        func delivered() -> [String] { (try? fixture.deliveredTouches()) ?? [] }

        try await step("+1d")  // the 2 h and 20 h timers are due now
        #expect(await eventually { delivered().count >= 6667 }, "\(delivered().count) delivered")
        try await step("-1h")  // back to +23 h: the 30 h timers are still in the future
        await pause(.seconds(2))
        #expect(delivered().count == 6667, "a timer fired early: \(delivered().count) delivered")
        try await step("+8h")  // +31 h: the rest are due
        #expect(await eventually { delivered().count >= 10_000 }, "\(delivered().count) delivered")
        await pause(.milliseconds(500))
        #expect(await daemon.stop() == 0)

        let touches = delivered()
        #expect(touches.count == 10_000, "none lost, none twice")
        #expect(Set(touches.map { $0.prefix(40) }).count == touches.count, "a touch was delivered twice")
        for line in touches {
            // Each touch's time is when its timer fired: never before the wait was over.
            let user = Int(line.split(separator: "\"user\":\"u")[1].prefix { $0.isNumber })!
            let at = Timestamp(iso8601: String(line.split(separator: "\"at\":\"")[1].prefix { $0 != "\"" }))!
            #expect(at >= start + .hours(Int64(waits[user % 3])), "u\(user) fired at \(at), before its wait ended")
        }
        #expect(fixture.log.contains("kind=clock_jump") && fixture.log.contains("jumped forward by 1d"), "\(fixture.log.suffix(2000))")
        #expect(fixture.log.contains("jumped back by 1h"))
    }

    /// On a small file system that fills up: producers are refused (never told "ok" for what was not
    /// stored), one record names the disk and the free space, journeyd exits non-zero; once space is
    /// freed a restart has every acknowledged event and the database checks clean.
    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs (root)"))
    func aFullDiskRefusesInputLosesNothingAndRestartsClean() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let stateDirectory = fixture.root + "/state"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        #expect(try await ChildProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", stateDirectory]).status == 0)
        defer { _ = umount2(stateDirectory, Int32(MNT_DETACH)) }
        let socketPath = fixture.root + "/events.sock"
        let arguments = ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--socket", socketPath]
        let daemon = try ChildProcess(journeydBinary, arguments, output: fixture.root + "/daemon.log")
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: socketPath) })

        // Identify events with a padded trait, a thousand per connection, until the answers stop being "ok".
        var acknowledged: [String] = []
        var refusals: [String] = []
        let padding = String(repeating: "x", count: 400)
        for round in 0..<200 where refusals.isEmpty && daemon.isRunning {
            let lines = (0..<1000).map { i in
                #"{"type":"identify","userId":"d\#(round)-\#(i)","messageId":"d\#(round)-\#(i)","timestamp":"2026-01-01T00:00:00Z","traits":{"pad":"\#(padding)"}}"#
            }
            let answers = (try? await offThread { try exchange(lines, at: socketPath) }) ?? []
            acknowledged += answers.filter { $0.hasPrefix("ok ") }.map { String($0.dropFirst(3)) }
            refusals += answers.filter { $0.hasPrefix("error ") }
        }
        #expect(refusals.contains { $0.contains("disk full") }, "\(refusals.prefix(3))")
        #expect(!acknowledged.isEmpty)
        let status = await daemon.exit()
        #expect(status != 0, "journeyd must exit non-zero when it cannot store input")
        #expect(fixture.log.contains("kind=disk_full") && fixture.log.contains("free"), "\(fixture.log.suffix(1500))")

        // Space freed: the restart replays the log, and everything acknowledged is there.
        #expect(try await ChildProcess.run("/bin/mount", ["-o", "remount,size=256m", stateDirectory]).status == 0)
        let restarted = try ChildProcess(journeydBinary, arguments, output: fixture.root + "/daemon-2.log")
        func restartLog() -> String { (try? String(contentsOfFile: fixture.root + "/daemon-2.log", encoding: .utf8)) ?? "" }
        #expect(await eventually { restartLog().contains("journeyd running") })
        #expect(await restarted.stop() == 0, "\(restartLog())")
        let store = try SQLiteCheckpointStore(path: fixture.state)
        #expect(try store.integrityCheck() == "ok")
        var missing = 0
        for id in acknowledged where try store.user(id) == nil { missing += 1 }
        #expect(missing == 0, "\(missing) of \(acknowledged.count) acknowledged events were lost")
    }
}
