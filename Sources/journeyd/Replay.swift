import ArgumentParser
import Foundation
import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneySimulation

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back-test journeys on an event log: the touches that would go out, and the funnel. Sends nothing.",
        discussion: """
            The clock is the events' own time. Timers due before an event fire before it; after the last event the
            clock runs on to --until (default: 400 days later, "the end of time"). Touches are written as JSON lines;
            the funnel goes to standard error when touches go to standard output.
            """)

    @Argument(help: "Segment-spec events, one JSON object per line.", completion: .file())
    var events: String

    @Option(name: .long, help: "The rule directory.", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .shortAndLong, help: "Where the touches go (JSON lines), - for standard output.")
    var output = "-"

    @Option(name: .long, help: "Stop the clock here (RFC 3339) instead of 400 days after the last event.")
    var until: String?

    @Option(name: .long, help: "Write rejected lines' reasons here instead of standard error.")
    var rejects: String?

    @Flag(name: .long, help: "Exit with status 65 when any line was rejected.")
    var strict = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Show a progress bar on a terminal.")
    var progress = true

    @Option(name: .long, help: ArgumentHelp(
        "Explain this user at the end: profile, enrollments, timers and every decision (to standard output; touches then go only to --output).",
        valueName: "USER"))
    var explain: String?

    @Flag(name: .long, help: "With --explain: print the explanation as JSON.")
    var json = false

    @Flag(name: .long, help: .hidden)
    var traceAll = false

    @Option(name: .long, help: ArgumentHelp(
        "Also write the back-test's report here: one self-contained HTML page (see journeyd report).", valueName: "FILE.html"))
    var report: String?

    func validate() throws {
        if let until, Timestamp(iso8601: until) == nil { throw ValidationError("--until must be an RFC 3339 time, not \(until)") }
    }

    func run() throws {
        let ruleSet: RuleSet
        do {
            ruleSet = try RuleLoader.load(directory: rules)
        } catch {
            printError(error.description)
            throw Exit.failure
        }
        let touches = try OutputFile(path: explain != nil && output == "-" ? "/dev/null" : output)
        let rejectFile = try rejects.map { try OutputFile(path: $0) }
        let totalBytes = (try? FileManager.default.attributesOfItem(atPath: events)[.size] as? Int) ?? 0
        let bar = progress && isatty(2) != 0 ? ProgressBar(total: totalBytes) : nil
        let report: JourneySimulation.Replay.Report
        do {
            report = try JourneySimulation.Replay.run(
                path: events, rules: ruleSet,
                options: .init(
                    until: until.flatMap(Timestamp.init(iso8601:)), progress: bar.map { bar in { bar.update(bytes: $0, events: $1) } },
                    explain: explain, traceAll: traceAll, keepStateAtExit: true, figures: self.report != nil),
                touches: touches,
                reject: { rejection in
                    if let rejectFile {
                        try? rejectFile.write(rejection.description + "\n")
                    } else {
                        bar?.clear()
                        printError(rejection.description)
                    }
                })
        } catch {
            bar?.clear()
            printError("replay of \(events) failed: \(error)")
            throw Exit.ioError
        }
        bar?.finish()
        try touches.close()
        try rejectFile?.close()
        let seconds = bar?.elapsed ?? 0
        var summary = report.funnel.table(for: ruleSet)
        summary += "\n\nevents \(report.events), rejected \(report.rejected), touches \(report.touches)"
        if report.outOfOrder > 0 { summary += ", out of order \(report.outOfOrder) (applied at the clock's time)" }
        if let first = report.firstEvent, let last = report.lastEvent {
            summary += "\nevent time \(first.iso8601) … \(last.iso8601); clock stopped at \(report.endedAt.iso8601)"
        }
        if seconds > 0 { summary += "\n" + String(format: "%.2f s, %.0f events/s", seconds, Double(report.events) / seconds) }
        if output == "-" || explain != nil { printError(summary) } else { print(summary) }
        if let path = self.report {
            let summary = ReportSummary(
                figures: report.figures, rules: ruleSet, outbox: nil, source: "a replay of \(events) (a back-test: nothing sent)")
            do {
                try ReportFile.write(ReportPage.html(summary, generatedAt: WallClock().now), to: path)
            } catch {
                printError("journeyd replay: \(error)")
                throw Exit.ioError
            }
        }
        if let explanation = report.explanation { print(json ? explanation.jsonValue.jsonText : explanation.text, terminator: json ? "\n" : "") }
        if strict && report.rejected > 0 { throw Exit.dataError }
    }
}

/// A one-line progress bar on standard error, redrawn at most ten times a second.
final class ProgressBar {
    let total: Int
    let started = Date()
    private var lastDraw = Date.distantPast

    init(total: Int) { self.total = total }

    var elapsed: Double { Date().timeIntervalSince(started) }

    func update(bytes: Int, events: Int) {
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let fraction = total > 0 ? min(1, Double(bytes) / Double(total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let rate = Double(events) / max(elapsed, 0.001)
        let line = "\r[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "] "
            + String(format: "%3.0f%%  %d events  %.0f events/s", fraction * 100, events, rate)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func clear() { FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 79) + "\r").utf8)) }

    func finish() { clear() }
}
