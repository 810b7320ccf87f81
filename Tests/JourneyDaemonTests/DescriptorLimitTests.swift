import Foundation
import Glibc
import JourneyCore
import JourneyDaemon
import JourneyTesting
import Testing

/// The event socket when more producers connect than the open files limit (`LimitNOFILE=`) allows:
/// before, the daemon accepted until `accept` failed, and a listener whose `accept` fails stays
/// readable — polling it again at once spun a core at 100 % while serving nobody, silently, and the
/// daemon's own files had no descriptor left.
@Suite("Daemon out of file descriptors")
struct DescriptorLimitTests {
    @Test func theEventSocketStopsAtTheLimitTellsWhyAndServesTheBacklogOnceProducersLeave() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let socketPath = fixture.root + "/events.sock"
        // prlimit sets the limit and executes journeyd in its place: the pid is the daemon's.
        let daemon = try ChildProcess(
            "/usr/bin/prlimit",
            ["--nofile=96:96", "--", journeydBinary, "run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--socket", socketPath],
            output: fixture.root + "/daemon.log")
        defer { daemon.signal(SIGKILL) }
        // Ready, so that every descriptor the daemon needs of its own is open (the control socket is
        // bound after the event socket).
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")

        // Idle producers hold one descriptor each, up to the cap the limit leaves room for (96 less a
        // reserve of 48 for the daemon's own files, which are about 25); the rest wait in the listen
        // backlog (128).
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<90 { held.append(try connectUnixSocket(socketPath)) }
        let warned = await eventually(timeout: .seconds(120)) {
            fixture.log.contains("event socket: 48 connections, as many as the open files limit (96) leaves room for")
        }
        #expect(warned, "\(fixture.log.suffix(2000))")
        #expect(fixture.log.contains("kind=input_failure"))

        // It waits rather than spins: two seconds at the limit cost it little CPU (spinning, it used a
        // core — whatever else runs, the daemon alone takes far more than this).
        let before = try cpuSeconds(of: daemon.pid)
        await pause(.seconds(2))
        let spent = try cpuSeconds(of: daemon.pid) - before
        #expect(spent < 0.5, "the daemon used \(spent) s of CPU in 2 s at the limit")
        #expect(fixture.log.components(separatedBy: "as many as the open files limit").count == 2, "told once, not once per attempt")
        // With descriptors to spare, its own work goes on: a status request is answered.
        let status = try await offThread { try askDaemon("status", controlSocket: fixture.root + "/state/control.sock") }
        #expect(status.contains(#""ok":true"#), "\(status)")

        // A producer still in the backlog writes its event; once the others hang up, it is accepted,
        // served and answered.
        let waiting = held.removeLast()
        let now = WallClock().now.iso8601
        let line = Array((#"{"type":"track","userId":"u1","event":"app_open","messageId":"fd-1","timestamp":"\#(now)"}"# + "\n").utf8)
        #expect(sendAll(line, to: waiting))
        shutdown(waiting, Int32(SHUT_WR))
        for fd in held { close(fd) }
        held = [waiting]
        let answer = await offThread { () -> String in
            var timeout = timeval(tv_sec: 120, tv_usec: 0)
            setsockopt(waiting, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return String(decoding: readToEnd(waiting), as: UTF8.self)
        }
        #expect(answer == "ok fd-1\n", "\(answer)")
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("event socket: every waiting connection accepted, after") }, "\(fixture.log.suffix(2000))")
        #expect(await daemon.stop() == 0)
    }

    /// User plus system CPU time of process `pid` so far, from /proc.
    func cpuSeconds(of pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command (which is in parentheses and may hold spaces): utime is the 14th
        // field of the line, the 12th after the closing parenthesis.
        let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (Double(fields[11])! + Double(fields[12])!) / ticks
    }
}
