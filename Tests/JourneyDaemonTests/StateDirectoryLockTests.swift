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

    /// `--state` names the database: a bare file name means the current directory (it used to stop the
    /// start with 74 and a Foundation error about the path ""), a directory or a path under a file is
    /// a configuration mistake said in words (78, so systemd does not restart into it).
    @Test func theStatePathIsTheDatabaseAndMistakesAboutItAreSaidInWords() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let bare = try ChildProcess(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", "here.sqlite", "--spool", "spool"], output: fixture.root + "/bare.log",
            directory: fixture.root)
        defer { bare.signal(SIGKILL) }
        let bareLog = { (try? String(contentsOfFile: fixture.root + "/bare.log", encoding: .utf8)) ?? "" }
        #expect(await eventually(timeout: .seconds(120)) { bareLog().contains("kind=ready") || !bare.isRunning }, "\(bareLog().suffix(2000))")
        #expect(await bare.stop() == 0, "\(bareLog().suffix(2000))")
        #expect(FileManager.default.fileExists(atPath: fixture.root + "/here.sqlite"))
        #expect(FileManager.default.fileExists(atPath: fixture.root + "/journeyd.lock"))

        let directory = try await ChildProcess.run(journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.root, "--spool", fixture.spool])
        #expect(directory.status == 78, "\(directory.output)")
        #expect(directory.output.contains("--state \(fixture.root): a directory; --state (state.path) names the state database"), "\(directory.output)")

        #expect(FileManager.default.createFile(atPath: fixture.root + "/a-file", contents: nil))
        let underFile = try await ChildProcess.run(
            journeydBinary, ["run", "--rules", fixture.rules, "--state", fixture.root + "/a-file/state/db.sqlite", "--spool", fixture.spool])
        #expect(underFile.status == 78, "\(underFile.output)")
        // (The directory as NSString gives it: TMPDIR's doubled slashes made single.)
        #expect(underFile.output.contains("/a-file/state: cannot create: Not a directory"), "\(underFile.output)")
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
