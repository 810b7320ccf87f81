import Foundation
import Glibc

/// A program run to its end as a child process, with what the kernel counted for it (`wait4`): wall time,
/// CPU time and peak resident memory. The benchmark compares `journeyd replay` with the Python reference
/// this way — two processes measured alike — rather than the in-process replay, whose peak RSS also holds
/// the benchmark's own generation of the events.
struct ChildRun {
    var seconds: Double
    var cpu: Double
    /// Peak resident set size (`ru_maxrss`), MB.
    var peakRSSMegabytes: Int

    /// Runs `executable` with `arguments`, its standard output and error to /dev/null; throws when it
    /// cannot start or does not exit 0.
    static func run(_ executable: String, _ arguments: [String]) throws -> ChildRun {
        let started = Date()
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError("\(executable) could not be started: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchError("waiting for \(executable): \(String(cString: strerror(errno)))") }
        }
        let seconds = Date().timeIntervalSince(started)
        // WIFEXITED and WEXITSTATUS, spelled out (macros Swift does not import).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) failed (wait status \(status))")
        }
        func time(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
        return ChildRun(seconds: seconds, cpu: time(usage.ru_utime) + time(usage.ru_stime), peakRSSMegabytes: usage.ru_maxrss / 1024)
    }
}
