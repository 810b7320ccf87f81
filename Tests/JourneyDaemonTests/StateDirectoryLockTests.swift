import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Testing

/// One daemon per state directory: a second one would write the same log segments and database and
/// send every touch again.
@Suite("Daemon state directory lock")
struct StateDirectoryLockTests {
    @Test func aSecondDaemonOnTheSameStateIsRefusedAndAKilledOneLeavesNoStaleLock() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let first = try fixture.startLiveDaemon()
        defer { first.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")

        let second = try await ChildProcess.run(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool])
        #expect(second.status == 78, "\(second.output)")
        #expect(second.output.contains("is in use by another journeyd (pid \(first.pid)): one daemon per state directory"), "\(second.output)")
        #expect(first.isRunning, "the first goes on")

        // The kernel lets go of the lock with the process, however it ends: after a kill -9 the next
        // daemon starts at once.
        #expect(await first.stop(SIGKILL) == SIGKILL)
        let third = try ChildProcess(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool],
            output: fixture.root + "/third.log")
        defer { third.signal(SIGKILL) }
        let thirdLog = { (try? String(contentsOfFile: fixture.root + "/third.log", encoding: .utf8)) ?? "" }
        #expect(await eventually(timeout: .seconds(120)) { thirdLog().contains("kind=ready") || !third.isRunning }, "\(thirdLog().suffix(2000))")
        #expect(third.isRunning, "\(thirdLog().suffix(2000))")
        #expect(await third.stop() == 0)
    }

    /// Two daemons on different state directories but one event socket path: the second is refused
    /// instead of taking the path from under the first (whose exit would then have unlinked it).
    @Test func aSecondDaemonOnALiveEventSocketIsRefused() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let socketPath = fixture.root + "/events.sock"
        let first = try fixture.startLiveDaemon(extra: ["--socket", socketPath])
        defer { first.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")
        let second = try await ChildProcess.run(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.root + "/other/state.sqlite", "--socket", socketPath])
        #expect(second.status == 78, "\(second.output)")
        #expect(second.output.contains("event socket \(socketPath): another process listens on it"), "\(second.output)")
        let line = #"{"type":"track","userId":"u1","event":"app_open","messageId":"s-1","timestamp":"\#(WallClock().now.iso8601)"}"#
        let answers = try await offThread { try exchange([line], at: socketPath) }
        #expect(answers == ["ok s-1"], "the first still has it")
        #expect(await first.stop() == 0)
    }
}
