import Foundation
import Glibc
import JourneyCore
import JourneyStore
import JourneyTesting
import Testing

/// Rate-limit windows and breakers are delivery state the daemon keeps in its log and checkpoints: a
/// reload that leaves a channel as it was, or a restart, must not forget them.
@Suite("Daemon delivery state", .serialized)
struct DeliveryStateTests {
    func requests(_ fixture: DaemonFixture, path: String) -> Int {
        ((try? String(contentsOfFile: fixture.root + "/received.jsonl", encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { $0.contains(#""path": "\#(path)"#) }.count
    }

    func spoolPings(_ fixture: DaemonFixture, count: Int, name: String) throws {
        let now = WallClock().now.iso8601
        let lines = (0..<count).map { #"{"type":"track","userId":"\#(name)-\#($0)","event":"ping","messageId":"\#(name)-\#($0)","timestamp":"\#(now)"}"# }
        try fixture.spoolEvent(lines.joined(separator: "\n"), named: name)
    }

    /// DingTalk robots take 20 messages a minute: the 21st waits — through a reload that leaves the
    /// channel as it was, and through a restart.
    @Test func aRobotAtItsLimitStaysThereThroughAReloadAndARestart() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let (receiver, port) = try await DeliveryTests.startReceiver(fixture)
        defer { receiver.signal(SIGKILL) }
        try "tok-1".write(toFile: fixture.rules + "/dingtalk.token", atomically: true, encoding: .utf8)
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
          - { name: robot, type: dingtalk, base_url: "http://127.0.0.1:\(port)", allow_private: true, access_token_file: dingtalk.token }
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "journey: ping\ntrigger: { event: ping }\nsteps:\n  - send: robot\n    template: cart_reminder\n"
            .write(toFile: fixture.rules + "/journeys/ping.yaml", atomically: true, encoding: .utf8)
        var daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        let started = ContinuousClock.now
        try spoolPings(fixture, count: 25, name: "1.jsonl")
        #expect(await eventually { requests(fixture, path: "/robot/send") >= 20 })
        await pause(.seconds(1))
        #expect(requests(fixture, path: "/robot/send") == 20, "the robot's limit is 20 a minute")

        let reload = try await ChildProcess.run(journeydBinary, ["reload", "--rules", fixture.rules, "--state", fixture.state])
        #expect(reload.status == 0, "\(reload.output)")
        try spoolPings(fixture, count: 2, name: "1b.jsonl")
        #expect(await eventually { !FileManager.default.fileExists(atPath: fixture.spool + "/incoming/1b.jsonl") })
        await pause(.seconds(1))
        if ContinuousClock.now - started < .seconds(50) {
            #expect(requests(fixture, path: "/robot/send") == 20, "a reload that kept the channel forgot its limit")
        }
        #expect(await daemon.stop() == 0)
        daemon = try fixture.startLiveDaemon()
        #expect(await eventually { fixture.log.components(separatedBy: "journeyd running").count >= 3 })
        // The held touches wait for their own retry time anyway; new ones show whether the limit was kept.
        try spoolPings(fixture, count: 3, name: "2.jsonl")
        #expect(await eventually { !FileManager.default.fileExists(atPath: fixture.spool + "/incoming/2.jsonl") })
        await pause(.seconds(2))
        let elapsed = ContinuousClock.now - started
        if elapsed < .seconds(50) {  // still inside the minute: nothing more may have gone
            #expect(requests(fixture, path: "/robot/send") == 20, "after a reload and a restart the 21st message went within the minute")
        }
        #expect(await daemon.stop() == 0)
        let held = try SQLiteCheckpointStore(path: fixture.state).outbox(in: .retry, limit: 100)
        #expect(held.count == 10 && held.allSatisfy { $0.reason?.contains("rate limit 20/1m") == true }, "\(held.map(\.reason))")
    }

    /// A breaker opened by failures stays open across a restart: the touches waiting for it are not sent
    /// to a failing endpoint the moment journeyd comes back.
    @Test func anOpenBreakerStaysOpenAcrossARestart() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let (receiver, port) = try await DeliveryTests.startReceiver(fixture)
        defer { receiver.signal(SIGKILL) }
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
          - name: hook
            type: webhook
            url: "http://127.0.0.1:\(port)/broken"
            allow_private: true
            retry: { initial: 200ms, multiplier: 1, jitter: 0, max_attempts: 100 }
            breaker: { failures: 2, open_for: 10m }
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "journey: ping\ntrigger: { event: ping }\nsteps:\n  - send: hook\n    template: cart_reminder\n"
            .write(toFile: fixture.rules + "/journeys/ping.yaml", atomically: true, encoding: .utf8)
        var daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        try spoolPings(fixture, count: 3, name: "1.jsonl")
        #expect(await eventually { requests(fixture, path: "/broken") >= 2 })
        await pause(.seconds(1))
        // Two failures open it (the touches of one batch all went out before their failures came back).
        let before = requests(fixture, path: "/broken")
        #expect(before >= 2 && before <= 3)
        #expect(await daemon.stop() == 0)
        daemon = try fixture.startLiveDaemon()
        #expect(await eventually { fixture.log.components(separatedBy: "journeyd running").count >= 3 })
        // A new touch for the channel finds the breaker open too.
        try spoolPings(fixture, count: 1, name: "2.jsonl")
        #expect(await eventually { !FileManager.default.fileExists(atPath: fixture.spool + "/incoming/2.jsonl") })
        await pause(.seconds(2))
        #expect(requests(fixture, path: "/broken") == before, "the breaker was forgotten: a request went out right after the restart")
        #expect(await daemon.stop() == 0)
    }
}
