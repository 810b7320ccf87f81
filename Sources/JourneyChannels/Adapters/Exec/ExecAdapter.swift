import Foundation
import Glibc
import JourneyCore
import Synchronization

/// Runs a program for each touch, with the message as one JSON object on its standard input
/// (``OutboundMessage/jsonValue`` and a newline): an adapter in any language. No shell is involved.
///
/// The exit status is the outcome: 0 sent (the first line of standard output, if any, is the provider's
/// message id); 75 (`EX_TEMPFAIL`) retry later; anything else dead letter, with the last line of standard
/// error as the reason. A program still running at the timeout is stopped (SIGTERM, then SIGKILL) and the
/// touch is retried.
///
/// Options:
/// - `command` (required): the program and its arguments, as a list (`[/usr/local/bin/push, --fast]`);
///   a program without a `/` is looked up in `PATH`.
/// - `timeout` (default 30s)
/// - `env`: extra environment variables (the program otherwise gets only `PATH`, `LANG` and
///   `JOURNEYD_CHANNEL`)
/// - `idempotent` (bool, default false): whether the program deduplicates by `touch_id`
public struct ExecAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var command: [String]
        public var timeout: TimeSpan
        public var environment: [(String, String)]
        public var idempotent: Bool
    }

    public static let type = "exec"
    public static let defaultPolicy = ChannelPolicy(concurrency: 4)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { configuration.idempotent }
    private let configuration: Configuration
    private let executable: String

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let command: [String]?
        switch options.value("command") {
        case nil, .null?:
            options.problem("command", "missing (required): the program and its arguments, as a list")
            command = nil
        case .string(let s)? where s.contains(" "):
            options.problem("command", "give the program and its arguments as a list, e.g. [\"/usr/bin/env\", \"python3\", \"push.py\"]; no shell is used")
            command = nil
        default:
            command = options.strings("command")
        }
        if let command, command.isEmpty || command[0].isEmpty { options.problem("command", "must name a program") }
        let timeout = options.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.minutes(30)))
        var environment: [(String, String)] = []
        for (key, value) in options.stringPairs("env") ?? [] {
            if key.isEmpty || key.contains("=") || key.contains("\0") || value.contains("\0") {
                options.problem("env.\(key)", "not a valid environment variable")
            } else {
                environment.append((key, value))
            }
        }
        let idempotent = options.bool("idempotent", default: false)
        guard let command, !command.isEmpty, !command[0].isEmpty else { return nil }
        return Configuration(command: command, timeout: timeout, environment: environment, idempotent: idempotent)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) throws {
        self.name = name
        self.configuration = configuration
        let program = configuration.command[0]
        guard let executable = Self.locate(program) else {
            throw ChannelProblem(channel: name, path: "command", message: "no executable program \"\(program)\"\(program.contains("/") ? "" : " in PATH")")
        }
        self.executable = executable
    }

    static func locate(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        if Task.isCancelled { return .retry(after: nil, reason: "cancelled") }
        var input = message.jsonBytes
        input.append(UInt8(ascii: "\n"))
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8", "JOURNEYD_CHANNEL": name,
        ]
        for (key, value) in configuration.environment { environment[key] = value }
        let run = ChildRun(executable: executable, arguments: Array(configuration.command.dropFirst()), environment: environment)
        let ended = await run.run(input: input, timeout: configuration.timeout)
        switch ended {
        case .failedToStart(let code):
            let reason = "cannot run \(configuration.command[0]): \(String(cString: strerror(code)))"
            switch code {
            case ETXTBSY, EAGAIN, ENOMEM, EMFILE, ENFILE, EINTR:
                return .retry(after: nil, reason: reason)  // being replaced, or out of resources for now
            default:
                return .disable(reason: reason)  // gone, not executable, not allowed: an operator must act
            }
        case .cancelled:
            return .retry(after: nil, reason: "cancelled")
        case .timedOut:
            return .retry(after: nil, reason: "\(configuration.command[0]) did not finish within \(configuration.timeout)")
        case .signalled(let signal):
            return .retry(after: nil, reason: "\(configuration.command[0]) was killed by signal \(signal)")
        case .exited(let status, let stdout, let stderr):
            let detail = Self.lastLine(stderr)
            switch status {
            case 0:
                let id = Self.firstLine(stdout)
                return .sent(providerMessageID: id.isEmpty ? nil : String(id.prefix(200)))
            case 75:
                return .retry(after: nil, reason: detail.isEmpty ? "exit 75 (EX_TEMPFAIL)" : "exit 75: \(detail)")
            default:
                return .deadLetter(reason: detail.isEmpty ? "exit \(status)" : "exit \(status): \(detail)")
            }
        }
    }

    static func lastLine(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }).map(String.init) ?? ""
        return String(line.trimmingCharacters(in: .whitespaces).prefix(300))
    }

    static func firstLine(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return (text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
    }
}

/// One run of a child process: input written to its stdin, stdout and stderr collected (the last 64 KiB),
/// stopped at a timeout or on cancellation.
final class ChildRun: Sendable {
    enum Ended: Sendable {
        case exited(status: Int32, stdout: [UInt8], stderr: [UInt8])
        case signalled(Int32)
        case timedOut
        case cancelled
        case failedToStart(errno: Int32)
    }

    private static let spawnLock = NSLock()

    let executable: String
    let arguments: [String]
    let environment: [String: String]
    private let stop = Mutex<StopReason?>(nil)
    private let pid = Mutex<pid_t>(0)

    private enum StopReason { case timeout, cancel }

    init(executable: String, arguments: [String], environment: [String: String]) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    func run(input: [UInt8], timeout: TimeSpan) async -> Ended {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Ended, Never>) in
                // Blocking work (spawn, pipe I/O, waitpid) runs on its own thread, never on the
                // cooperative pool.
                let thread = Thread { continuation.resume(returning: self.runBlocking(input: input, timeout: timeout)) }
                thread.start()
            }
        } onCancel: {
            self.requestStop(.cancel)
        }
    }

    private func requestStop(_ reason: StopReason) {
        let first = stop.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        guard first else { return }
        let pid = pid.withLock { $0 }
        if pid > 0 {
            // The child leads its own process group: stop whatever it started too.
            kill(-pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { kill(-pid, SIGKILL) }
        }
    }

    private func runBlocking(input: [UInt8], timeout: TimeSpan) -> Ended {
        // A child that exits without reading its input makes our write fail with EPIPE; block SIGPIPE on
        // this (our own, short-lived) thread so that it does not end the daemon.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        // Pipes are made close-on-exec in two steps (Swift cannot call pipe2); the lock keeps our own
        // concurrent spawns from inheriting each other's pipe ends in between.
        Self.spawnLock.lock()
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
            let code = errno
            Self.spawnLock.unlock()
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
            return .failedToStart(errno: code)
        }
        for fd in stdinPipe + stdoutPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling and no blocked signals, in its own process group.
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        Self.spawnLock.unlock()
        guard status == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            return .failedToStart(errno: status)
        }
        pid.withLock { $0 = child }
        if stop.withLock({ $0 }) != nil { kill(-child, SIGKILL) }  // cancelled before the pid was known
        let timer = DispatchWorkItem { self.requestStop(.timeout) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.milliseconds)), execute: timer)
        defer { timer.cancel() }

        // Feed stdin and drain both outputs with poll, so that no pipe fills up and blocks the child.
        let writeEnd = stdinPipe[1]
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        var written = 0
        var inputOpen = true
        var stdout = Tail(limit: 64 * 1024)
        var stderr = Tail(limit: 64 * 1024)
        var open: [Int32: Bool] = [stdoutPipe[0]: true, stderrPipe[0]: true]
        if input.isEmpty {
            close(writeEnd)
            inputOpen = false
        }
        for fd in open.keys { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var waitStatus: Int32 = 0
        var reaped = false
        var drainRounds = 0
        while open.values.contains(true) || inputOpen {
            // Once the child has exited, what is left in the pipes is read and the loop ends, even if
            // something the child started still holds them open.
            if !reaped, waitpid(child, &waitStatus, WNOHANG) == child { reaped = true }
            if reaped {
                drainRounds += 1
                if drainRounds > 1000 { break }
            }
            var fds: [pollfd] = []
            if inputOpen { fds.append(pollfd(fd: writeEnd, events: Int16(POLLOUT), revents: 0)) }
            for (fd, isOpen) in open where isOpen { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), reaped ? 0 : 100)
            if ready < 0 && errno != EINTR { break }
            if reaped && ready == 0 { break }
            for entry in fds where entry.revents != 0 {
                if entry.fd == writeEnd {
                    let n = input.withUnsafeBytes { write(writeEnd, $0.baseAddress! + written, $0.count - written) }
                    if n > 0 { written += n }
                    if n < 0 && errno != EAGAIN && errno != EINTR || written == input.count {
                        close(writeEnd)  // done, or the child closed its stdin (EPIPE): it read what it wanted
                        inputOpen = false
                    }
                } else {
                    let n = read(entry.fd, &buffer, buffer.count)
                    if n > 0 {
                        if entry.fd == stdoutPipe[0] { stdout.append(buffer[0..<n]) } else { stderr.append(buffer[0..<n]) }
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        open[entry.fd] = false
                    }
                }
            }
        }
        if inputOpen { close(writeEnd) }
        close(stdoutPipe[0])
        close(stderrPipe[0])
        if !reaped { while waitpid(child, &waitStatus, 0) < 0 && errno == EINTR {} }
        pid.withLock { $0 = 0 }
        switch stop.withLock({ $0 }) {
        case .timeout?: return .timedOut
        case .cancel?: return .cancelled
        case nil: break
        }
        if waitStatus & 0x7f == 0 {
            return .exited(status: (waitStatus >> 8) & 0xff, stdout: stdout.bytes, stderr: stderr.bytes)
        }
        return .signalled(waitStatus & 0x7f)
    }

    /// The last `limit` bytes written to a stream.
    private struct Tail {
        let limit: Int
        var bytes: [UInt8] = []
        mutating func append(_ chunk: ArraySlice<UInt8>) {
            bytes.append(contentsOf: chunk)
            if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
        }
    }
}
