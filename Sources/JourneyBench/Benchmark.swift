import Foundation
import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneySimulation

/// `journeyd-bench`: measures the §11 figures and writes a report. Not a test: run it on a quiet machine
/// in release mode (`swift run -c release journeyd-bench`), see bench/README.md.
@main
struct Benchmark {
    static let usage = """
        USAGE: journeyd-bench [--events N] [--only STAGE] [--runs N] [--no-python] [--python PATH] [--report-dir DIR]

        Measures journeyd's figures (DESIGN §11) and writes a Markdown report to DIR/benchmark-TIME.md
        (default DIR: reports). Run the release build on a quiet machine; compare only figures from the
        same run (ratios), never with another day's.

        OPTIONS:
          --events N        events per stage (default 1,000,000; the daemon and HTTP stages use at most 200,000)
          --only STAGE      one stage: replay | parse | engine | templates | channels | dedup | daemon | users | http (default: all),
                            or a part of daemon alone: latency (the paced socket, --runs times) | waiting (bytes per
                            waiting enrollment, restart to ready) | restart (1,000,000 timers, a 1 GB log, 100,000
                            events after the last checkpoint: SIGKILL to ready; ~1.2 GB of disk); or jetstream (not in all:
                            needs nats-server)
          --runs N          how often the durable path (and HTTP against the socket) is measured (default 3: median, spread)
          --no-python       skip the Python references (bench/reference.py, bench/liquid_reference.py)
          --python PATH     the Python interpreter for the reference (default python3)
          --report-dir DIR  where the report goes (default reports)
          -h, --help        this help
        """

    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        if args.contains("--help") || args.contains("-h") {
            print(usage)
            return
        }
        func option(_ name: String, _ fallback: String) -> String {
            guard let i = args.firstIndex(of: name), i + 1 < args.count else { return fallback }
            defer { args.removeSubrange(i...(i + 1)) }
            return args[i + 1]
        }
        let events = Int(option("--events", "1000000"))!
        let reportDirectory = option("--report-dir", "reports")
        let python = option("--python", "python3")
        let skipPython = args.contains("--no-python")
        let runs = max(1, Int(option("--runs", "3")) ?? 3)
        // --only replay|parse|engine|templates|channels|dedup|daemon|users|http runs one stage (for profiling).
        let only = option("--only", "all")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path

        var report = Report()
        report.line("# journeyd benchmark report")
        report.line("")
        report.line("- date: \(Date())")
        report.line("- machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAverage())")
        report.line("- events per stage: \(events)")
        report.line("")

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("journeyd-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let stages = Stages(events: events, work: work, root: root, python: skipPython ? nil : python)
        if only == "all" || only == "replay" || only == "parse" {
            let eventsFile = try stages.generate(into: &report)
            if only != "parse" { try stages.replay(eventsFile, into: &report) }
            if only != "replay" { try stages.parse(eventsFile, into: &report) }
        }
        if only == "all" || only == "engine" { try stages.engine(into: &report) }
        if only == "all" || only == "templates" { try stages.templates(into: &report) }
        if only == "all" || only == "channels" { try stages.channels(into: &report) }
        if only == "all" || only == "dedup" { try stages.dedup(into: &report) }
        if only == "all" || only == "daemon" {
            // The daemon stage writes its own input: the generator's stream, capped at 200,000 events.
            var daemonStages = Stages(events: min(events, 200_000), work: work, root: root, python: nil)
            daemonStages.runs = runs
            try daemonStages.daemon(try daemonStages.generate(into: &report), into: &report)
        }
        if only == "latency" {
            var daemonStages = stages
            daemonStages.runs = runs
            try daemonStages.pacedLatency(into: &report)
        }
        if only == "waiting" { try stages.waitingEnrollments(into: &report) }
        if only == "restart" { try stages.restartWithLongLog(into: &report) }
        if only == "all" || only == "users" { try stages.usersInMemory(into: &report) }
        if only == "all" || only == "http" {
            var httpStages = Stages(events: min(events, 200_000), work: work, root: root, python: nil)
            httpStages.runs = runs
            try httpStages.http(try httpStages.generate(into: &report), into: &report)
        }
        if only == "jetstream" {
            // Not in "all": it needs nats-server (apt nats-server).
            try Stages(events: min(events, 200_000), work: work, root: root, python: nil).jetstream(into: &report)
        }
        report.line("Targets (DESIGN §11): parsing ≥ 1,000,000 events/s per core; engine ≥ 1,000,000 events/s per core with 100 journeys; replay ≥ 10× the plain Python loop; templates ≥ 100,000 renders/s.")

        print(report.text)
        try FileManager.default.createDirectory(atPath: reportDirectory, withIntermediateDirectories: true)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let path = "\(reportDirectory)/benchmark-\(stamp).md"
        try report.text.write(toFile: path, atomically: true, encoding: .utf8)
        FileHandle.standardError.write(Data("report written to \(path)\n".utf8))
    }

    /// 100 journeys over event_0…event_49: each event name triggers two journeys with a price condition, a
    /// wait and a send — the shape of real marketing journeys, indexed by event name.
    static func hundredJourneys(in work: String) throws -> String {
        let directory = work + "/hundred"
        try FileManager.default.createDirectory(atPath: directory + "/journeys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/templates", withIntermediateDirectories: true)
        try "channels:\n  - { name: email, type: log }\n".write(toFile: directory + "/channels.yaml", atomically: true, encoding: .utf8)
        try "{{ user.first_name }}".write(toFile: directory + "/templates/t.liquid", atomically: true, encoding: .utf8)
        for k in 0..<100 {
            let yaml = """
                journey: j\(k)
                trigger:
                  event: event_\(k % 50)
                  where: event.properties.price > \(k * 10) and event.properties.category in ["shoes", "hats", "bags"]
                entry:
                  reentry: always
                  key: event.properties.sku
                exit_when: { event: event_\((k + 1) % 100) }
                steps:
                  - wait: \(1 + k % 7)d
                  - id: send
                    send: email
                    template: t
                """
            try yaml.write(toFile: "\(directory)/journeys/j\(k).yaml", atomically: true, encoding: .utf8)
        }
        return directory
    }
}


/// The measured stages, each adding its lines to the report.
struct Stages {
    let events: Int
    let work: String
    let root: String
    /// The Python interpreter for the reference, or nil to skip it.
    let python: String?
    /// How often the durable path's share of replay is measured (median and spread reported).
    var runs = 3

    func generate(into report: inout Report) throws -> String {
        let eventsFile = work + "/events.jsonl"
        let generation = try measure {
            let out = try OutputFile(path: eventsFile)
            for event in EventGenerator(.init(users: events / 10, events: events, span: .days(120), seed: 42)) {
                try out.write { event.jsonValue.writeJSON(into: &$0); $0.append(10) }
            }
            try out.close()
        }
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: eventsFile)[.size] as? Int) ?? 0
        report.line("## input: \(events) generated events, \(fileBytes / 1_000_000) MB (\(fileBytes / max(events, 1)) bytes per event), in \(fmt(generation.seconds)) s")
        report.line("")
        return eventsFile
    }

    func replay(_ eventsFile: String, into report: inout Report) throws {
        report.line("## replay: \(events) events through bench/rules (3 journeys)")
        report.line("")
        let rules = try RuleLoader.load(directory: root + "/bench/rules")
        var replayReport: Replay.Report?
        let replay = try measure {
            let sink = try OutputFile(path: work + "/touches.jsonl")
            // What `journeyd replay` does without --report (the state is freed here: later stages run in this process).
            replayReport = try Replay.run(path: eventsFile, rules: rules, options: .init(figures: false), touches: sink, reject: { _ in })
            try sink.close()
        }
        let replayRate = Double(events) / replay.seconds
        report.line("- journeyd replay: \(fmt(replay.seconds)) s wall, \(fmt(replay.cpu)) s CPU → **\(rate(replayRate)) events/s** (\(replayReport!.touches) touches)")
        report.line("- peak RSS after replay: \(peakRSSMegabytes()) MB")
        if let python {
            // Both as processes of their own, measured alike: wall time and peak RSS (issue 9: replay ≥ 10× the
            // plain Python loop, peak RSS ≤ 2× the loop's).
            let swift = try ChildRun.run(journeyd, ["replay", eventsFile, "--rules", root + "/bench/rules", "--output", "/dev/null", "--no-progress"])
            let reference = try ChildRun.run(python, [root + "/bench/reference.py", eventsFile])
            let (swiftRate, pythonRate) = (Double(events) / swift.seconds, Double(events) / reference.seconds)
            report.line("- `journeyd replay` as a process: \(fmt(swift.seconds)) s wall, \(fmt(swift.cpu)) s CPU → \(rate(swiftRate)) events/s, peak RSS \(swift.peakRSSMegabytes) MB")
            report.line("- Python reference (bench/reference.py, same journeys, same file): \(fmt(reference.seconds)) s wall, \(fmt(reference.cpu)) s CPU → \(rate(pythonRate)) events/s, peak RSS \(reference.peakRSSMegabytes) MB")
            report.line("- **replay is \(fmt(swiftRate / pythonRate))× the Python loop** (target ≥ 10×); in process \(fmt(replayRate / pythonRate))×")
            report.line("- **peak RSS \(fmt(Double(swift.peakRSSMegabytes) / Double(max(1, reference.peakRSSMegabytes))))× the Python loop's** (target ≤ 2×)")
        }
        report.line("")
    }

    func parse(_ eventsFile: String, into report: inout Report) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: eventsFile))
        let parser = SegmentEventParser()
        var parsed = 0
        let parse = try measure {
            data.withUnsafeBytes { raw in
                let buffer = raw.bindMemory(to: UInt8.self)
                parser.parseLines(in: buffer) { result in if case .success = result { parsed += 1 } }
            }
        }
        report.line("## parsing Segment JSON lines")
        report.line("")
        report.line("- SegmentEventParser: \(fmt(parse.seconds)) s wall, \(fmt(parse.cpu)) s CPU → **\(rate(Double(parsed) / parse.cpu)) events/s per core** (\(fmt(Double(data.count) / parse.cpu / 1e6)) MB/s)")
        let sample = data.split(separator: 10).prefix(200_000).map { Data($0) }
        let foundation = try measure {
            for line in sample { _ = try JSONSerialization.jsonObject(with: line) }
        }
        report.line("- Foundation JSONSerialization on the same lines, for comparison: \(rate(Double(sample.count) / foundation.cpu)) events/s per core")
        try trackingBodies(eventsFile, into: &report)
        report.line("")
    }

    func engine(into report: inout Report) throws {
        let hundred = try RuleLoader.load(directory: try Benchmark.hundredJourneys(in: work))
        var pool: [Event] = []
        pool.reserveCapacity(events)
        var random = SplitMix(seed: 7)
        let start = Timestamp(iso8601: "2025-01-01T00:00:00Z")!
        for i in 0..<events {
            let name = "event_\(random.next() % 100)"
            pool.append(
                .track(
                    name, user: "u\(random.next() % 100_000)", at: start + .seconds(Int64(i) * 3),
                    properties: [
                        "price": .number(Double(random.next() % 20_000) / 100), "sku": .string("SKU-\(random.next() % 1000)"),
                        "category": .string(["shoes", "hats", "shirts", "bags", "socks"][Int(random.next() % 5)]),
                    ],
                    messageId: "m\(i)"))
        }
        var simulator = Simulator(rules: hundred)
        var touches = 0
        var entered = 0
        let engine = try measure {
            for event in pool {
                simulator.feed(event) { effect in
                    switch effect {
                    case .touch: touches += 1
                    case .outcome(let o): if case .entered = o.kind { entered += 1 }
                    }
                }
            }
        }
        report.line("## engine alone: 100 journeys loaded, \(events) pre-parsed events over 100 event names")
        report.line("")
        report.line("- \(fmt(engine.seconds)) s wall, \(fmt(engine.cpu)) s CPU → **\(rate(Double(events) / engine.cpu)) events/s per core** (\(entered) enrollments, \(touches) touches, \(simulator.store.userCount) users)")
        report.line("- peak RSS at the end: \(peakRSSMegabytes()) MB")
        report.line("")
    }
}

struct Measurement {
    var seconds: Double
    var cpu: Double
}

func measure(_ body: () throws -> Void) throws -> Measurement {
    let wall = DispatchTime.now().uptimeNanoseconds
    let cpu = cpuSeconds()
    try body()
    return Measurement(seconds: Double(DispatchTime.now().uptimeNanoseconds - wall) / 1e9, cpu: cpuSeconds() - cpu)
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

func peakRSSMegabytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return -1 }
    return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) / 1024
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

func fmt(_ x: Double) -> String { String(format: "%.2f", x) }
func rate(_ x: Double) -> String {
    let n = Int(x.rounded())
    var s = String(n)
    var i = s.count - 3
    while i > 0 {
        s.insert(",", at: s.index(s.startIndex, offsetBy: i))
        i -= 3
    }
    return s
}

struct Report {
    var text = ""
    mutating func line(_ s: String) { text += s + "\n" }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

