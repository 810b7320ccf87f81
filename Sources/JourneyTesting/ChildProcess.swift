import Foundation
import Synchronization

/// A program a test starts (the `journeyd` binary, a Python peer, `journalctl`), awaited without
/// blocking a thread.
///
/// Swift Testing runs every test on the few threads of the cooperative pool (two on a two-core
/// machine). A test that blocks one of them in `waitUntilExit()` or `usleep` starves every other test's
/// tasks — a loopback HTTP peer then looks like it timed out. So waiting for a child's exit is an
/// `await` on its termination handler, and nothing here sleeps on a thread.
public final class ChildProcess: Sendable {
    public let process: Process
    private final class Exit: Sendable {
        let state = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))
    }
    private let exited = Exit()

    /// Starts `executable` with `arguments`; standard output and error go to `output` (a file that is
    /// appended to, or nil for /dev/null) — standard error to `errors` instead when given —, standard
    /// input is closed unless `input` is given; it runs in `directory` (default: the test's). `reaper`
    /// ends it should the test process end without stopping it (``ChildReaper``).
    public init(
        _ executable: String, _ arguments: [String], output: String? = nil, errors: String? = nil,
        input: FileHandle? = nil, environment: [String: String]? = nil, directory: String? = nil,
        reaper: ChildReaper? = ChildReaper.shared
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        func sink(_ path: String?) throws -> FileHandle {
            guard let path else { return FileHandle(forWritingAtPath: "/dev/null")! }
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            handle.seekToEndOfFile()
            return handle
        }
        let standardOutput = try sink(output)
        process.standardOutput = standardOutput
        process.standardError = errors == nil ? standardOutput : try sink(errors)
        process.standardInput = input ?? FileHandle(forReadingAtPath: "/dev/null")!
        self.process = process
        process.terminationHandler = { [exited] process in
            let waiters = exited.state.withLock { state in
                state.status = process.terminationStatus
                reaper?.release(process.processIdentifier)
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: process.terminationStatus) }
        }
        try Self.runWithSignalsUnblocked(process)
        // Under the lock the handler takes: a child that has already exited is not listed, so that the
        // reaper never holds a pid the system may give to another process.
        exited.state.withLock { state in
            if state.status == nil { reaper?.watch(process.processIdentifier) }
        }
    }

    /// Starts `process` with no signal blocked, as a shell would. A child inherits the mask of the
    /// thread that spawns it, and the threads tests run on (Dispatch's) block nearly every signal: a
    /// program that does not reset its mask (`sleep`, a shell script) would not answer `SIGTERM` or
    /// `SIGINT` at all.
    static func runWithSignalsUnblocked(_ process: Process) throws {
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { exited.state.withLock { $0.status == nil } }
    /// The exit status once it has exited (the signal number when a signal ended it).
    public var status: Int32? { exited.state.withLock { $0.status } }

    /// Waits for the process to exit and returns its status.
    @discardableResult
    public func exit() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = exited.state.withLock { state -> Int32? in
                if state.status == nil { state.waiters.append(continuation) }
                return state.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Sends `signal` (SIGTERM by default) if it is still running.
    public func signal(_ signal: Int32 = SIGTERM) {
        if isRunning { kill(pid, signal) }
    }

    /// Sends `signal` and waits for the exit; returns the status.
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM) async -> Int32 {
        self.signal(signal)
        return await exit()
    }

    /// Runs `executable` to completion and returns its status and everything it printed.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil
    ) async throws -> (status: Int32, output: String) {
        let directory = try TemporaryDirectory(prefix: "journeyd-run")
        defer { directory.remove() }
        let output = directory.path + "/output"
        var stdin: FileHandle?
        if let input {
            try input.write(toFile: directory.path + "/input", atomically: false, encoding: .utf8)
            stdin = FileHandle(forReadingAtPath: directory.path + "/input")
        }
        let child = try ChildProcess(executable, arguments, output: output, input: stdin, environment: environment)
        let status = await child.exit()
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
