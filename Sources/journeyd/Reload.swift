import ArgumentParser
import JourneyCore
import JourneyDaemon
import JourneyEvents
import JourneyRules

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon to reload its rules, and wait for the outcome.",
        discussion: """
            Exits 0 when the new rules are live; exits 1 and prints every file:line:col error when they were refused
            (the daemon keeps running the previous rules). This is what ExecReload= runs under systemd.
            """)

    @Option(name: .long, help: "The rule directory (its journeyd.yaml locates the control socket).", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "The daemon's state database (the control socket is beside it by default).")
    var state: String?

    @Option(name: .long, help: "The control socket.")
    var control: String?

    func run() throws {
        let settings = RuleLoader.loadSettings(directory: rules)
        let path = DaemonPaths(settings: settings, state: state, control: control).control
        let answer: Value
        do {
            answer = try JSONParser().parse(try askDaemon("reload", controlSocket: path))
        } catch {
            printError("journeyd reload: \(error)")
            throw Exit.failure
        }
        if answer["ok"] == .bool(true) {
            print(answer["message"]?.stringValue ?? "rules reloaded")
            for warning in answer["warnings"]?.arrayValue ?? [] { printError(warning.stringValue ?? warning.jsonText) }
            return
        }
        printError("rules refused; the daemon keeps the previous rules:")
        for error in answer["errors"]?.arrayValue ?? [] { printError(error.stringValue ?? error.jsonText) }
        throw Exit.failure
    }
}
