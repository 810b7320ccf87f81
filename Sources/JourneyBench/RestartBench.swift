import Foundation
import JourneyCore
import JourneySimulation

/// Issue 9's restart figure: with 1,000,000 pending timers, a 1 GB event log kept by `state.log_retention`
/// and 100,000 events logged after the last checkpoint, how long a killed daemon takes to be ready again
/// (`journeyd running`). The checkpoint bounds the replay: what the log holds before it is not read again.
///
/// Built on the real binary in four steps: 1,000,000 users enter a journey that waits 30 days (timers);
/// 100,000 events of ~10 KB each (a page view with a large property, in no journey) make the log 1 GB;
/// a restart with checkpoints only once an hour; 100,000 more signups — logged, not checkpointed — then
/// SIGKILL, and the timed restart.
extension Stages {
    func restartWithLongLog(into report: inout Report) throws {
        let users = Int(ProcessInfo.processInfo.environment["JOURNEYD_BENCH_ENROLLMENTS"] ?? "1000000") ?? 1_000_000
        let padding = 100_000, after = 100_000
        report.line("## restart: \(users) pending timers, a 1 GB log, \(after) events after the last checkpoint")
        report.line("")
        let rules = work + "/restart-rules"
        let fm = FileManager.default
        try fm.createDirectory(atPath: rules + "/journeys", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: rules + "/templates", withIntermediateDirectories: true)
        try "channels:\n  - { name: email, type: log }\n".write(toFile: rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try "Subject: Welcome back\n\nHello {{ user.first_name | default: \"there\" }}\n"
            .write(toFile: rules + "/templates/later.liquid", atomically: true, encoding: .utf8)
        try "journey: later\ntrigger: { event: signup }\nsteps:\n  - wait: 30d\n  - send: email\n    template: later\n"
            .write(toFile: rules + "/journeys/later.yaml", atomically: true, encoding: .utf8)
        func settings(checkpointEvery: String) throws {
            try "dedup: { window: 1m }\nstate: { checkpoint: { every: \(checkpointEvery), log_bytes: 1099511627776 }, log_retention: 30d }\n"
                .write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        }
        let state = work + "/daemon-restart"
        try fm.createDirectory(atPath: state + "/spool/incoming", withIntermediateDirectories: true)
        let start = Timestamp(iso8601: "2025-01-01T00:00:00Z")!
        func signups(_ range: Range<Int>, _ name: String) throws {
            let out = try OutputFile(path: state + "/" + name)
            for i in range {
                try out.write("{\"type\":\"track\",\"userId\":\"user-\(i)\",\"event\":\"signup\",\"messageId\":\"s-\(i)\",\"timestamp\":\"\((start + .seconds(Int64(i))).iso8601)\"}\n")
            }
            try out.close()
        }
        try signups(0..<users, "signups.jsonl")
        let blob = String(repeating: "x", count: 10_000)
        let out = try OutputFile(path: state + "/padding.jsonl")
        for i in 0..<padding {
            let at = start + .seconds(Int64(users + i))
            try out.write("{\"type\":\"page\",\"userId\":\"visitor-\(i % 1000)\",\"name\":\"Home\",\"messageId\":\"p-\(i)\",\"timestamp\":\"\(at.iso8601)\",\"properties\":{\"blob\":\"\(blob)\"}}\n")
        }
        try out.close()
        try signups(users..<(users + after), "after.jsonl")
        let arguments = ["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool", "--clock", "event"]
        func feed(_ name: String) {
            try? fm.moveItem(atPath: state + "/" + name, toPath: state + "/spool/incoming/" + name)
            while fm.fileExists(atPath: state + "/spool/incoming/" + name) { usleep(100_000) }
        }
        // 1. The waiting users and the 1 GB of log, checkpointed every 5 s (the log kept: retention 30 days).
        try settings(checkpointEvery: "5s")
        let loading = Date()
        var process = try launch(arguments)
        let written = checkpoints(rules: rules, state: state)
        feed("signups.jsonl")
        feed("padding.jsonl")
        awaitLastCheckpoint(rules: rules, state: state, after: written)
        process.terminate()
        process.waitUntilExit()
        // 2. Checkpoints once an hour: the next events stay after the last checkpoint. Killed once they are logged.
        try settings(checkpointEvery: "1h")
        process = try launch(arguments)
        let before = daemonStatus(rules: rules, state: state)["events"] ?? 0
        feed("after.jsonl")
        while (daemonStatus(rules: rules, state: state)["events"] ?? 0) < before + Double(after) { usleep(100_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let loaded = Date().timeIntervalSince(loading)
        let logBytes = directoryBytes(state + "/log")
        // 3. The timed restart.
        let restart = Date()
        let again = try launch(arguments, log: state + "/restart.log")
        defer {
            again.terminate()
            again.waitUntilExit()
        }
        while !((try? String(contentsOfFile: state + "/restart.log", encoding: .utf8))?.contains("journeyd running") ?? false) { usleep(10_000) }
        let ready = Date().timeIntervalSince(restart)
        // The figures once the processor has published them (a moment after ready).
        var status: [String: Double] = [:]
        for _ in 0..<100 where (status["journeys"] ?? 0) == 0 {
            usleep(100_000)
            status = daemonStatus(rules: rules, state: state)
        }
        let replayed = status["replayed"] ?? -1
        let timers = status["timers"] ?? -1
        let recovered = ((try? String(contentsOfFile: state + "/restart.log", encoding: .utf8)) ?? "").split(separator: "\n")
            .first { $0.contains("recovered:") }.map { String($0.split(separator: " ", maxSplits: 2).last ?? "") } ?? "?"
        report.line(
            "- built in \(fmt(loaded)) s: event log \(logBytes / 1_000_000) MB on disk, \(Int(timers)) timers pending, "
                + "\(Int(replayed)) events replayed after the last checkpoint (the daemon: \(recovered))")
        report.line("- **SIGKILL → ready again: \(fmt(ready)) s** (target ≤ 2 s)")
        report.line("")
    }
}

/// The bytes of the regular files under `path`.
func directoryBytes(_ path: String) -> Int {
    let fm = FileManager.default
    guard let walker = fm.enumerator(atPath: path) else { return 0 }
    var total = 0
    for case let name as String in walker {
        total += (try? fm.attributesOfItem(atPath: path + "/" + name)[.size] as? Int) ?? 0
    }
    return total
}
