import ArgumentParser
import Foundation
import JourneyCore
import JourneyDaemon
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneyStore

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the journeys' report: funnels, uplift against holdouts, touches, deliveries, held-back touches, stages.",
        discussion: """
            One self-contained HTML page (no script, no network; inline SVG charts; prints well). Asks the running daemon
            over its control socket, or with --state reads a checkpoint database (as of its last checkpoint). In cluster
            mode any instance answers for the whole cluster (its partitions live, the others as of their checkpoints). For a
            back-test: journeyd replay EVENTS --report FILE.html. --json prints the same figures as JSON.
            Exits 0 when written, 1 when the daemon or the database cannot be read, 74 when the file cannot be written.
            """)

    @Option(name: .shortAndLong, help: "Where the HTML page goes.", completion: .file(extensions: ["html"]))
    var output: String?

    @Flag(name: .long, help: "Print the figures as JSON to standard output.")
    var json = false

    @Option(name: .long, help: "The rule directory (its journeyd.yaml locates the control socket; its journeys order the report).", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "Read this checkpoint database instead of asking the daemon.", completion: .file())
    var state: String?

    @Option(name: .long, help: "The control socket.")
    var control: String?

    func validate() throws {
        if output == nil && !json { throw ValidationError("say where the report goes: -o FILE.html, or --json (or both)") }
    }

    func run() throws {
        let figures: Value
        let html: String
        do {
            if let state {
                let summary = try Self.fromDatabase(state, rules: rules)
                (figures, html) = (summary.jsonValue, ReportPage.html(summary, generatedAt: WallClock().now))
            } else {
                let path = DaemonPaths(settings: RuleLoader.loadSettings(directory: rules), control: control).control
                let answer = try JSONParser().parse(try askDaemon("report", controlSocket: path))
                guard answer["ok"] == .bool(true), let report = answer["report"], let page = answer["html"]?.stringValue else {
                    throw DaemonError((answer["errors"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "; "))
                }
                (figures, html) = (report, page)
            }
        } catch {
            printError("journeyd report: \(error)")
            throw Exit.failure
        }
        if let output {
            do {
                try ReportFile.write(html, to: output)
            } catch {
                printError("journeyd report: \(error)")
                throw Exit.ioError
            }
        }
        if json { print(figures.jsonText) }
    }

    /// The report from a checkpoint database, opened read-only, ordered by the rule directory's journeys.
    static func fromDatabase(_ path: String, rules directory: String) throws -> ReportSummary {
        let store = try SQLiteCheckpointStore(path: path, readOnly: true)
        let ruleSet = try RuleLoader.load(directory: directory)
        let restored = try store.restore(partition: 0)
        return ReportSummary(
            figures: ReportFigures(figures: restored.figures), rules: ruleSet, outbox: try waiting(in: store),
            source: "the checkpoint database \(path)")
    }
}

extension ReportCommand {
    /// The touches a stopped daemon had not finished (pending, attempting, retry) per channel and state.
    static func waiting(in store: any OutboxReader) throws -> [String: [DeliveryState: Int]] {
        var counts: [String: [DeliveryState: Int]] = [:]
        for state in DeliveryState.allCases where !state.isFinal {
            for entry in try store.outbox(in: state, limit: Int.max) { counts[entry.touch.channel, default: [:]][state, default: 0] += 1 }
        }
        return counts
    }
}

/// Writes a report page whole: to a temporary file beside it, then renamed over it.
enum ReportFile {
    struct WriteError: Error, CustomStringConvertible {
        var description: String
    }

    static func write(_ html: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(html.utf8)) else {
            throw WriteError(description: "\(path): cannot write the report (\(String(cString: strerror(errno))))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteError(description: "\(path): cannot write the report (\(reason))")
        }
    }
}
