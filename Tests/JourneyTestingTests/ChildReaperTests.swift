import Foundation
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
            #expect(await child.exit() == SIGTERM)
            #expect(await reaper.watcher.exit() == 0)
            #expect(try String(contentsOfFile: dir + "/reaper.log", encoding: .utf8) == "ending \(child.pid)\n")
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
