import Foundation
import Glibc
import JourneyCore
import JourneySimulation

/// The end-to-end daemon figures of DESIGN §11, measured on the real `journeyd` binary (the one built
/// next to this benchmark): events/s through the spool with `synchronous=FULL`, latency from an event's
/// arrival to the commit that puts its touches in the outbox at a paced 10,000 events/s, and RAM per
/// waiting enrollment with 1,000,000 of them.
extension Stages {
    var journeyd: String {
        // JOURNEYD_BENCH_BINARY: another build of journeyd (to compare two builds in the same minutes).
        ProcessInfo.processInfo.environment["JOURNEYD_BENCH_BINARY"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("journeyd").path
    }

    /// A rule directory: bench/rules' journeys and templates, channels delivering to a file (or, with
    /// `dryRun`, to the log channel).
    func daemonRules(_ name: String, journeyd yaml: String = "", dryRun: Bool = false) throws -> String {
        let directory = work + "/" + name
        let fm = FileManager.default
        for sub in ["journeys", "templates"] {
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
            for file in try fm.contentsOfDirectory(atPath: root + "/bench/rules/" + sub) {
                try fm.copyItem(atPath: root + "/bench/rules/\(sub)/\(file)", toPath: directory + "/\(sub)/\(file)")
            }
        }
        let channels =
            dryRun
            ? "channels:\n  - { name: email, type: log }\n  - { name: wecom, type: log }\n"
            : "channels:\n  - { name: email, type: file, path: touches.jsonl }\n  - { name: wecom, type: file, path: touches.jsonl }\n"
        try channels.write(toFile: directory + "/channels.yaml", atomically: true, encoding: .utf8)
        try yaml.write(toFile: directory + "/journeyd.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    func daemon(_ eventsFile: String, into report: inout Report) throws {
        report.line("## daemon: `journeyd run`, end to end (real binary, real SQLite, fsynced file channel)")
        report.line("")
        let rules = try daemonRules("daemon-rules")
        try durableShare(eventsFile, rules: rules, runs: runs, into: &report)
        let normal = try spoolRun(eventsFile, rules: rules, durability: "normal")
        report.line(
            "- spool, `synchronous=NORMAL`: \(events) events in \(fmt(normal.seconds)) s → \(rate(Double(events) / normal.seconds)) events/s "
                + "(\(normal.touches) touches delivered; start-up, timers to the end and delivery included)")
        report.line("")
        try latency(rules: rules, channels: "the fsynced file channel", into: &report)
        try latency(rules: try daemonRules("daemon-rules-dry", dryRun: true), channels: "the log (dry-run) channel", into: &report)
        try waitingEnrollments(into: &report)
        report.line("Targets (DESIGN §11, issue 9): the durable path ≥ 50 % of replay's events/s; p99 arrival → outbox ≤ 10 ms at 10,000 events/s; ≤ 200 bytes of RAM per waiting enrollment.")
        report.line("")
    }

    func launch(_ arguments: [String], log: String = "/dev/null") throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: journeyd)
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        return process
    }

    /// How many checkpoints the daemon has written: read before a load, for ``awaitLastCheckpoint(rules:state:after:)``.
    func checkpoints(rules: String, state: String) -> Double { daemonStatus(rules: rules, state: state)["checkpoints"] ?? 0 }

    /// Waits until a checkpoint was written after the load (more than `start`, read before it) and none
    /// followed for 12 s (at most ten minutes): a checkpoint is written only while users changed, so every
    /// user is then in one and compacted — memory read before that is the ingest's, not what the users
    /// cost. (`start` read after the load missed a checkpoint written meanwhile, and with a small load
    /// that could be the last one: the wait then took its ten minutes.)
    func awaitLastCheckpoint(rules: String, state: String, after start: Double) {
        let deadline = Date().addingTimeInterval(600)
        var last = start
        var since = Date()
        while Date() < deadline {
            usleep(500_000)
            let now = daemonStatus(rules: rules, state: state)["checkpoints"] ?? 0
            if now != last {
                last = now
                since = Date()
            } else if last > start && Date().timeIntervalSince(since) > 12 {
                return
            }
        }
    }

    /// `journeyd status --json` of the daemon with this state database, as numbers (empty if it did not answer).
    func daemonStatus(rules: String, state: String) -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: journeyd)
        process.arguments = ["status", "--json", "--rules", rules, "--state", state + "/state.sqlite"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return [:] }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// 1,000,000 users each enter a journey that waits 30 days: the daemon's resident memory before and
    /// after, per waiting enrollment. Message ids are kept for one minute here (events are one second
    /// apart), so the deduplication window does not count as enrollment memory.
    func waitingEnrollments(into report: inout Report) throws {
        let count = Int(ProcessInfo.processInfo.environment["JOURNEYD_BENCH_ENROLLMENTS"] ?? "1000000") ?? 1_000_000
        let rules = work + "/waiting-rules"
        try FileManager.default.createDirectory(atPath: rules + "/journeys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: rules + "/templates", withIntermediateDirectories: true)
        try "channels:\n  - { name: email, type: log }\n".write(toFile: rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try settledYAML.write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        try "Subject: Welcome back\n\nHello {{ user.first_name | default: \"there\" }}\n"
            .write(toFile: rules + "/templates/later.liquid", atomically: true, encoding: .utf8)
        try "journey: later\ntrigger: { event: signup }\nsteps:\n  - wait: 30d\n  - send: email\n    template: later\n"
            .write(toFile: rules + "/journeys/later.yaml", atomically: true, encoding: .utf8)
        let state = work + "/daemon-waiting"
        try FileManager.default.createDirectory(atPath: state + "/spool/incoming", withIntermediateDirectories: true)
        // Two files of half the users each: memory is read after each, so the growth per enrollment is
        // measured once the bounded parts (the 128 MiB page cache, the user cache) are already full.
        let start = Timestamp(iso8601: "2025-01-01T00:00:00Z")!
        for half in 0..<2 {
            let out = try OutputFile(path: state + "/signups-\(half).jsonl")
            for i in (half * count / 2)..<((half + 1) * count / 2) {
                let at = start + .seconds(Int64(i))
                try out.write("{\"type\":\"track\",\"userId\":\"user-\(i)\",\"event\":\"signup\",\"messageId\":\"s-\(i)\",\"timestamp\":\"\(at.iso8601)\"}\n")
            }
            try out.close()
        }
        let process = try launch(["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool", "--clock", "event"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        usleep(500_000)
        var memory = [memoryKilobytes(process.processIdentifier)]
        let loaded = Date()
        for half in 0..<2 {
            let name = "signups-\(half).jsonl"
            let before = checkpoints(rules: rules, state: state)
            try FileManager.default.moveItem(atPath: state + "/" + name, toPath: state + "/spool/incoming/" + name)
            while FileManager.default.fileExists(atPath: state + "/spool/incoming/" + name) { usleep(100_000) }
            awaitLastCheckpoint(rules: rules, state: state, after: before)
            memory.append(settledMemory(process.processIdentifier))
        }
        let seconds = Date().timeIntervalSince(loaded)
        let slope = Double(memory[2].anonymous - memory[1].anonymous) * 1024 / Double(count / 2)
        let overall = Double(memory[2].anonymous - memory[0].anonymous) * 1024 / Double(count)
        report.line(
            "- \(count) users waiting 30 days in one journey (\(fmt(seconds)) s to enroll them): anonymous RSS "
                + "\(memory[0].anonymous / 1024) MB → \(memory[1].anonymous / 1024) MB (half) → \(memory[2].anonymous / 1024) MB; "
                + "**\(Int(slope)) bytes per additional waiting enrollment** (second half), \(Int(overall)) bytes averaged over all "
                + "(every user, enrollment and timer lives in memory, checkpointed to SQLite; read once a checkpoint "
                + "holds them and memory settled); file-backed RSS (mmap of the database) "
                + "\(memory[2].file / 1024) MB")
        // A restart with that many pending timers: time to ready.
        process.terminate()
        process.waitUntilExit()
        let restart = Date()
        let again = try launch(["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool", "--clock", "event"], log: state + "/restart.log")
        defer {
            again.terminate()
            again.waitUntilExit()
        }
        while !((try? String(contentsOfFile: state + "/restart.log", encoding: .utf8))?.contains("journeyd running") ?? false) { usleep(10_000) }
        report.line("- restart with \(count) pending timers to ready: **\(fmt(Date().timeIntervalSince(restart))) s** (target ≤ 2 s for 1,000,000)")
    }
}

/// journeyd.yaml of the memory stages: message ids kept for one minute (events are one second apart,
/// so the deduplication window is not counted), a checkpoint every 5 s.
let settledYAML = "dedup: { window: 1m }\nstate: { checkpoint: { every: 5s } }\n"

/// Resident memory once the daemon has settled after a load: a checkpoint written (every 5 s in these
/// stages) and the users it holds compacted — read once it stops changing (after at least 6 s).
func settledMemory(_ pid: Int32) -> (anonymous: Int, file: Int) {
    usleep(6_000_000)
    var last = memoryKilobytes(pid)
    for _ in 0..<60 {
        usleep(1_000_000)
        let now = memoryKilobytes(pid)
        defer { last = now }
        if abs(now.anonymous - last.anonymous) * 200 < max(1, last.anonymous) { return now }
    }
    return last
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Resident memory of a process in kB: anonymous (heap: what grows with state) and file-backed (mmap).
func memoryKilobytes(_ pid: Int32) -> (anonymous: Int, file: Int) {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return (field("RssAnon:"), field("RssFile:"))
}

/// CPU seconds (user + system) the process `pid` has used so far, from /proc/PID/stat.
func cpuSeconds(of pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    // After the command name: state is field 3, utime and stime fields 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// A run of clients against the daemon: wall time from its start to the last answer, and the CPU the
/// daemon used meanwhile (less sensitive than the wall time to other work on the machine).
struct ClientsRun {
    var seconds: Double
    var daemonCPU: Double
    /// CPU the load generator (this process's client threads) used while they ran.
    var generatorCPU: Double = 0
    /// The daemon's `journeyd status --json` figures right after the last answer (events, touches,
    /// timers, log records, turns…): what shows whether two runs did the same work.
    var status: [String: Double] = [:]
}
