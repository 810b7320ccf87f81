import Foundation
import Glibc
import JourneyCore

/// Issue 9's yardstick for the durable path: each way into `journeyd run` as a share of `journeyd replay`
/// of the same events with the same rules, measured in the same run (this machine's speed moves by more
/// than 2× from day to day; a ratio measured side by side does not), `runs` times, with the median and
/// the spread. All three are the real binary and include its start-up.
extension Stages {
    struct DurableRun {
        var replay: Double
        var spool: Double
        /// Events/s up to the spool's acknowledgement of the last event (the end of the back-fill left out).
        var spoolAcknowledged: Double
        var socket: Double
        /// CPU (user + system) per event, µs: replay's and the spool daemon's.
        var replayCPU: Double
        var spoolCPU: Double
    }

    func durableShare(_ eventsFile: String, rules: String, runs: Int, into report: inout Report) throws {
        report.line("### the durable path as a share of `journeyd replay` of the same \(events) events (same run)")
        report.line("")
        report.line(
            "| run | replay events/s | spool `FULL` events/s (share) | spool, up to the last event acknowledged: events/s (share) | socket, 4 clients, events/s (share) | CPU per event: replay / spool (ratio) | load average |")
        report.line("|---|---|---|---|---|---|---|")
        var results: [DurableRun] = []
        for run in 1...runs {
            let replayStarted = childrenCPUSeconds()
            let replay = Double(events) / (try replaySeconds(eventsFile, rules: rules))
            let replayCPU = (childrenCPUSeconds() - replayStarted) / Double(events) * 1e6
            let spoolStarted = childrenCPUSeconds()
            let spoolRun = try spoolRun(eventsFile, rules: rules, durability: "full")
            let spool = Double(events) / spoolRun.seconds
            let acknowledged = Double(events) / spoolRun.acknowledged
            let spoolCPU = (childrenCPUSeconds() - spoolStarted) / Double(events) * 1e6
            let socket = Double(events) / (try socketClients(eventsFile, rules: rules, clients: 4)).seconds
            results.append(
                DurableRun(replay: replay, spool: spool, spoolAcknowledged: acknowledged, socket: socket, replayCPU: replayCPU, spoolCPU: spoolCPU))
            report.line(
                "| \(run) | \(rate(replay)) | \(rate(spool)) (\(percent(spool / replay))) | \(rate(acknowledged)) (\(percent(acknowledged / replay))) | "
                    + "\(rate(socket)) (\(percent(socket / replay))) | "
                    + "\(fmt(replayCPU)) / \(fmt(spoolCPU)) µs (\(fmt(spoolCPU / replayCPU))×) | \(loadAverage()) |")
        }
        func summary(_ shares: [Double]) -> String {
            let sorted = shares.sorted()
            return "median **\(percent(sorted[sorted.count / 2]))**, spread \(percent(sorted.first!))–\(percent(sorted.last!))"
        }
        report.line("")
        report.line("- spool, `synchronous=FULL`, timers to the end, delivery through the fsynced file channel: "
            + summary(results.map { $0.spool / $0.replay }) + " of replay (target ≥ 50 %)")
        report.line("- the same runs up to the spool's acknowledgement of the last event (a diagnostic, not the target: "
            + "the rest is the end of the back-fill — timers run to `--until`, their delivery, the last checkpoint): "
            + summary(results.map { $0.spoolAcknowledged / $0.replay }) + " of replay")
        report.line("- spool CPU per event over replay's (the figure other work on the machine moves least): "
            + "median \(fmt(results.map { $0.spoolCPU / $0.replayCPU }.sorted()[results.count / 2]))×")
        report.line("- Unix socket, 4 concurrent clients as fast as they can (each answer after its event is in a synced log segment): "
            + summary(results.map { $0.socket / $0.replay }) + " of replay (target ≥ 50 %)")
        report.line("")
    }

    /// CPU seconds (user + system) of this process's children that have ended: taken before and after
    /// a child runs, the difference is that child's CPU.
    func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The 1-minute load average, as /proc/loadavg shows it.
    func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
    }

    /// `journeyd replay` of the file, touches to a file: the engine's own speed, the yardstick.
    func replaySeconds(_ eventsFile: String, rules: String) throws -> Double {
        let started = monotonicSeconds()
        let process = try launch(["replay", eventsFile, "--rules", rules, "--output", work + "/replay-touches.jsonl", "--no-progress",
                                  "--until", "2100-01-01T00:00:00Z"])
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("journeyd replay exited \(process.terminationStatus)") }
        return monotonicSeconds() - started
    }

    /// `journeyd run` over the spool until the file is done and event time has run to the end.
    ///
    /// `acknowledged`: from the start to the moment the spool archived the file — its last event in a synced
    /// log segment (the file's change time in `done/`). What follows is the end of a back-fill: every timer
    /// run to `--until`, their touches delivered, the last checkpoint.
    func spoolRun(_ eventsFile: String, rules: String, durability: String) throws -> (seconds: Double, acknowledged: Double, touches: Int) {
        let state = work + "/daemon-\(durability)-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let spool = state + "/spool"
        try FileManager.default.createDirectory(atPath: spool + "/incoming", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: eventsFile, toPath: spool + "/incoming/events.jsonl")
        let started = monotonicSeconds()
        let startedWall = wallSeconds()
        let process = try launch(
            ["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", spool, "--clock", "event",
             "--until", "2100-01-01T00:00:00Z", "--durability", durability])
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("journeyd run exited \(process.terminationStatus)") }
        let seconds = monotonicSeconds() - started
        var archived = stat()
        guard stat(spool + "/done/events.jsonl", &archived) == 0 else { throw BenchError("the spool did not archive events.jsonl") }
        let acknowledged = Double(archived.st_ctim.tv_sec) + Double(archived.st_ctim.tv_nsec) / 1e9 - startedWall
        let touches = (try? String(contentsOfFile: state + "/touches.jsonl", encoding: .utf8))?.split(separator: "\n").count ?? 0
        return (seconds, acknowledged, touches)
    }

    /// The wall clock (`CLOCK_REALTIME`, the clock of file times), in seconds.
    func wallSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// `clients` connections to the event socket, each sending its share of the users' events (one
    /// user's events stay on one connection, in order) as fast as the socket takes them: the time from
    /// the daemon's start to the last answer.
    func socketClients(_ eventsFile: String, rules: String, clients: Int, window: Int? = nil, clock: String = "event") throws -> ClientsRun {
        let state = work + "/daemon-socket-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var shares = [[UInt8]](repeating: [], count: clients)
        var counts = [Int](repeating: 0, count: clients)
        let text = try String(contentsOfFile: eventsFile, encoding: .utf8)
        for line in text.split(separator: "\n") {
            let user = line.range(of: "\"userId\":\"").map { line[$0.upperBound...].prefix { $0 != "\"" } } ?? ""
            var hash = StableHash()
            hash.combine(bytes: user.utf8)
            let client = Int(hash.value % UInt64(clients))
            shares[client] += Array(line.utf8) + [10]
            counts[client] += 1
        }
        let socketPath = state + "/events.sock"
        let (payloads, lineCounts) = (shares, counts)
        let started = monotonicSeconds()
        let process = try launch(["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool",
                                  "--socket", socketPath, "--clock", clock])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        for _ in 0..<1200 where !FileManager.default.fileExists(atPath: socketPath) { usleep(10_000) }
        let refused = Tally(0)
        let done = DispatchGroup()
        let generatorStarted = cpuSeconds()
        for client in 0..<clients {
            done.enter()
            Thread.detachNewThread {
                refused.add(Self.sendAll(payloads[client], lines: lineCounts[client], to: socketPath, window: window))
                done.leave()
            }
        }
        done.wait()
        let seconds = monotonicSeconds() - started
        let cpu = cpuSeconds(of: process.processIdentifier)
        let generator = cpuSeconds() - generatorStarted
        guard refused.value == 0 else { throw BenchError("the socket refused \(refused.value) events") }
        return ClientsRun(seconds: seconds, daemonCPU: cpu, generatorCPU: generator, status: daemonStatus(rules: rules, state: state))
    }

    /// Writes `payload` on one connection from its own thread and reads answers until `lines` came back;
    /// returns how many were not `ok`. With a `window`, sends that many lines at a time and waits for
    /// their answers before the next ones (as an HTTP client waits for its batch's `200`).
    static func sendAll(_ payload: [UInt8], lines: Int, to socketPath: String, window: Int? = nil) -> Int {
        guard let fd = try? connectUnix(socketPath) else { return lines }
        defer { close(fd) }
        if let window { return sendWindowed(payload, lines: lines, fd: fd, window: window) }
        Thread.detachNewThread {
            var written = 0
            while written < payload.count {
                let n = payload.withUnsafeBytes { write(fd, $0.baseAddress! + written, min(1 << 16, $0.count - written)) }
                guard n > 0 else { return }
                written += n
            }
        }
        var answered = 0
        var refused = 0
        var atLineStart = true
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while answered < lines {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { return refused + lines - answered }
            for byte in buffer[0..<n] {
                if atLineStart && byte != UInt8(ascii: "o") { refused += 1 }
                atLineStart = byte == 10
                if byte == 10 { answered += 1 }
            }
        }
        return refused
    }

    /// `window` lines written, then their answers read, and so on; returns how many were not `ok`.
    static func sendWindowed(_ payload: [UInt8], lines: Int, fd: Int32, window: Int) -> Int {
        var ends: [Int] = []
        var count = 0
        for (offset, byte) in payload.enumerated() where byte == 10 {
            count += 1
            if count % window == 0 || count == lines { ends.append(offset + 1) }
        }
        var refused = 0
        var start = 0
        var answered = 0
        var atLineStart = true
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for end in ends {
            var written = start
            while written < end {
                let n = payload.withUnsafeBytes { write(fd, $0.baseAddress! + written, end - written) }
                guard n > 0 else { return refused + lines - answered }
                written += n
            }
            let due = min(lines, answered + window)
            while answered < due {
                let n = read(fd, &buffer, buffer.count)
                guard n > 0 else { return refused + lines - answered }
                for byte in buffer[0..<n] {
                    if atLineStart && byte != UInt8(ascii: "o") { refused += 1 }
                    atLineStart = byte == 10
                    if byte == 10 { answered += 1 }
                }
            }
            start = end
        }
        return refused
    }
}

/// A counter several threads add to.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var count: Int
    init(_ count: Int) { self.count = count }
    func add(_ n: Int) { lock.withLock { count += n } }
    var value: Int { lock.withLock { count } }
}

func connectUnix(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: Array(path.utf8))
        raw[path.utf8.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw BenchError("cannot connect to \(path)")
    }
    return fd
}

func percent(_ share: Double) -> String { "\(Int((share * 100).rounded())) %" }
