import Foundation
import Glibc
import JourneyTesting
import Testing

/// The watcher that ends a test process's children when the test process ends first. Closing a
/// reaper's end is what the test process's exit does; the children here are `sleep`s that would
/// otherwise run for ten minutes.
@Suite struct ChildReaperTests {
    @Test func aListedChildIsEndedWhenTheTestProcessEnds() async throws {
        try await withTemporaryDirectory { dir in
            let reaper = try ChildReaper(log: dir + "/reaper.log")
            let child = try ChildProcess("/bin/sleep", ["600"], reaper: reaper)
            #expect(child.isRunning)
            reaper.close()
            // The watcher is done once the child ended, whether or not it was waited for yet (a zombie
            // answers kill -0: counting it as running, the watcher waited out its grace and logged a
            // SIGKILL whenever the test process was slow to wait — as under the whole suite).
            #expect(await reaper.watcher.exit() == 0)
            #expect(await child.exit() == SIGTERM)
            #expect(try String(contentsOfFile: dir + "/reaper.log", encoding: .utf8) == "ending \(child.pid)\n")
        }
    }

    /// A child that ended is a zombie until its parent waits for it, and a zombie answers `kill -0`.
    /// Here nobody waits for the child until the watcher is done: the watcher must count it as ended
    /// (with a minute's grace it would otherwise wait the minute and log a SIGKILL).
    @Test func aChildThatEndedButWasNotWaitedForYetCountsAsEnded() async throws {
        try await withTemporaryDirectory { dir in
            let reaper = try ChildReaper(grace: .seconds(60), log: dir + "/reaper.log")
            var pid: pid_t = 0
            let arguments: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("600"), nil]
            defer { for argument in arguments { free(argument) } }
            // Not a Process: nobody reaps it. With an empty signal mask (this thread's blocks SIGTERM).
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
            #expect(posix_spawn(&pid, "/bin/sleep", nil, &attributes, arguments, environ) == 0)
            reaper.watch(pid)
            reaper.close()
            #expect(await reaper.watcher.exit() == 0)
            #expect(try String(contentsOfFile: dir + "/reaper.log", encoding: .utf8) == "ending \(pid)\n")
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect(status & 0x7f == SIGTERM)
        }
    }

    @Test func aChildNotListedIsLeftAlone() async throws {
        let reaper = try ChildReaper()
        let listed = try ChildProcess("/bin/sleep", ["600"], reaper: reaper)
        let other = try ChildProcess("/bin/sleep", ["600"], reaper: nil)
        reaper.close()
        #expect(await listed.exit() == SIGTERM)
        #expect(await reaper.watcher.exit() == 0)  // its work is done: the other was never its to end
        #expect(other.isRunning)
        #expect(await other.stop() == SIGTERM)
    }

    @Test func aChildThatExitedIsTakenOffTheList() async throws {
        try await withTemporaryDirectory { dir in
            let reaper = try ChildReaper(log: dir + "/reaper.log")
            let done = try ChildProcess("/bin/sleep", ["600"], reaper: reaper)
            let quick = try ChildProcess("/bin/true", [], reaper: reaper)  // may exit before it could be listed
            #expect(await done.stop(SIGINT) == SIGINT)
            #expect(await quick.exit() == 0)
            reaper.close()
            #expect(await reaper.watcher.exit() == 0)
            // No pid of an exited child is signalled: the system may have given it to another process.
            #expect(try String(contentsOfFile: dir + "/reaper.log", encoding: .utf8) == "nothing to end\n")
        }
    }

    @Test func aChildThatIgnoresSIGTERMIsKilledAfterTheGrace() async throws {
        try await withTemporaryDirectory { dir in
            let reaper = try ChildReaper(grace: .milliseconds(200), log: dir + "/reaper.log")
            // An ignored signal stays ignored across exec: this `sleep` does not answer SIGTERM.
            let stubborn = try ChildProcess("/bin/bash", ["-c", "trap '' TERM; exec sleep 600"], reaper: reaper)
            let ignoring = await eventually(timeout: .seconds(120), interval: .milliseconds(10)) {
                (try? String(contentsOfFile: "/proc/\(stubborn.pid)/comm", encoding: .utf8)) == "sleep\n"
            }
            try #require(ignoring)
            reaper.close()
            #expect(await stubborn.exit() == SIGKILL)
            #expect(await reaper.watcher.exit() == 0)
            #expect(try String(contentsOfFile: dir + "/reaper.log", encoding: .utf8) == "ending \(stubborn.pid)\nkilling \(stubborn.pid)\n")
        }
    }
}
