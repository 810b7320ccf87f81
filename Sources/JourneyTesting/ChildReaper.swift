import Foundation
import Synchronization

/// Ends the programs a test process started (journeyd, nats-server, PostgreSQL) when the test process
/// itself ends without stopping them: a trap in a test, a crash, a `SIGKILL` from a CI timeout.
///
/// A test stops what it starts, but a process that dies does not run its `defer`s, and its children
/// live on, holding ports, CPU and data directories. So the first ``ChildProcess`` starts a small
/// watcher, `bash` reading one end of a socket pair whose other end only the test process holds
/// (close-on-exec, and Foundation closes other descriptors in a child anyway: no child inherits it). Each started child's pid is sent to it (`+ PID`), and again
/// when it has exited (`- PID`). However the test process ends, the kernel closes its end, the watcher
/// reads end-of-file and sends `SIGTERM` to every child still listed, then `SIGKILL` to those still
/// running after ``grace``. A test process that stopped all its children leaves the watcher nothing to
/// do; it exits.
///
/// Written as a shell loop rather than a thread in the test process because that process is the one
/// that may be gone; `prctl(PR_SET_PDEATHSIG)` is not used because Foundation's `Process` cannot set
/// it, and it fires when the *thread* that started the child exits, which a pool thread may do early.
public final class ChildReaper: Sendable {
    /// The test process's watcher, started on first use; nil if it could not be started (then children
    /// are only stopped by their tests, as before).
    public static let shared: ChildReaper? = try? ChildReaper()

    /// How long a listed child gets between `SIGTERM` and `SIGKILL`.
    public let grace: Duration
    /// The watcher's own process (it exits once it has done its work).
    public let watcher: ChildProcess
    private let socket: Mutex<Int32?>

    /// Starts a watcher of its own (tests of this type; others use ``shared``), which writes what it
    /// does to `log` when given.
    public init(grace: Duration = .seconds(5), log: String? = nil) throws {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw ConformanceFailure("ChildReaper: socketpair failed: \(String(cString: strerror(errno)))")
        }
        let theirs = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        defer { try? theirs.close() }
        do {
            watcher = try ChildProcess(
                "/bin/bash", ["-c", Self.script, "journeyd-test-reaper", String(Self.milliseconds(grace))],
                output: log, input: theirs, reaper: nil)
        } catch {
            Glibc.close(ends[0])
            throw error
        }
        self.grace = grace
        socket = Mutex(ends[0])
    }

    /// Lists `pid` to be ended if the test process ends first. Call it only while the child has not
    /// been waited for (so that its pid cannot have been given to another process).
    public func watch(_ pid: Int32) { send("+ \(pid)\n") }

    /// Takes `pid` off the list: it has exited.
    public func release(_ pid: Int32) { send("- \(pid)\n") }

    deinit { close() }

    /// Closes the test process's end, as its exit would: the watcher ends what is still listed and exits.
    public func close() {
        socket.withLock { socket in
            if let fd = socket { Glibc.close(fd) }
            socket = nil
        }
    }

    private func send(_ line: String) {
        socket.withLock { socket in
            guard let fd = socket else { return }
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                // MSG_NOSIGNAL: a watcher killed by someone else must not take the test process with it.
                let sent = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { return }
                offset += sent
            }
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// `$1`: the grace in milliseconds. Signals that a terminal or a CI runner sends to the whole process
    /// group are ignored, so that the watcher still does its work after the test process is gone.
    static let script = #"""
        trap '' INT TERM HUP
        # Running, not a zombie: a child that ended stays one (and answers kill -0) until the test
        # process, if it still runs, waits for it.
        alive() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }
        declare -A live
        while read -r op pid; do
          case "$op" in
            +) live[$pid]=1 ;;
            -) unset "live[$pid]" ;;
          esac
        done
        if [ ${#live[@]} -eq 0 ]; then echo "nothing to end"; exit 0; fi
        echo "ending ${!live[*]}"
        kill -TERM "${!live[@]}" 2>/dev/null
        for (( waited = 0; waited < $1; waited += 50 )); do
          running=0
          for pid in "${!live[@]}"; do alive "$pid" && running=1; done
          [ "$running" -eq 0 ] && exit 0
          sleep 0.05
        done
        echo "killing ${!live[*]}"
        kill -KILL "${!live[@]}" 2>/dev/null
        exit 0
        """#
}
