import ArgumentParser
import JourneyCore
import JourneyDaemon
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneyStore

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a user: profile, enrollments (journey version and step), pending timers, recent decisions, touches.",
        discussion: """
            Asks the running daemon over its control socket, or with --state reads a checkpoint database (as of its last
            checkpoint; the daemon may be stopped). The decisions are the user's last inputs (explain.trace in
            journeyd.yaml, default \(Settings.defaultDecisionTrace)): which triggers matched, each entry condition with the
            values it read, re-entry, consent, quiet hours, caps, holdout and late decisions with their reason, and each
            touch; touches show their delivery attempts and outcome. For a back-test: journeyd replay --explain USER.
            Exits 0 when answered, 1 when the daemon or the database cannot be read.
            """)

    @Argument(help: "The user id (userId, or the anonymousId of an anonymous user).")
    var user: String

    @Option(name: .long, help: "The rule directory (its journeyd.yaml locates the control socket).", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "Read this checkpoint database instead of asking the daemon.", completion: .file())
    var state: String?

    @Option(name: .long, help: "The control socket.")
    var control: String?

    @Flag(name: .long, help: "Print the explanation as JSON.")
    var json = false

    func run() throws {
        let answer: Value
        do {
            if let state {
                answer = try Self.fromDatabase(state, user: user, rules: rules).jsonValue
            } else {
                let path = DaemonPaths(settings: RuleLoader.loadSettings(directory: rules), control: control).control
                answer = try JSONParser().parse(try askDaemon("explain \(user)", controlSocket: path))
                if answer["ok"] == .bool(false) {
                    throw DaemonError((answer["errors"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "; "))
                }
            }
        } catch {
            printError("journeyd explain \(user): \(error)")
            throw Exit.failure
        }
        print(json ? answer.jsonText : Explanation.text(answer), terminator: json ? "\n" : "")
    }

    /// The explanation from a checkpoint database, opened read-only; step names from the rule directory's
    /// journeys and the versions the database keeps.
    static func fromDatabase(_ path: String, user: String, rules directory: String) throws -> Explanation {
        let store = try SQLiteCheckpointStore(path: path, readOnly: true)
        let settings = RuleLoader.loadSettings(directory: directory)
        let ruleSet = try? RuleLoader.load(directory: directory)
        var versions: [String: Journey] = [:]
        for journey in ruleSet?.journeys ?? [] { versions[journey.version] = journey }
        let channels = Set(ruleSet?.channels.map(\.name) ?? [])
        let templates = Set(ruleSet?.templates.keys.map { $0 } ?? [])
        for stored in (try? store.keptJourneyVersions()) ?? [] where versions[stored.version] == nil {
            if let journey = RuleLoader.compileJourney(source: stored.source, file: stored.file, channels: channels, templates: templates).0 {
                versions[stored.version] = journey
            }
        }
        return Explanation(
            user: user, state: try store.user(user), outbox: try store.outbox(of: user), traceLimit: settings.decisionTrace
        ) { versions[$0] }
    }
}
