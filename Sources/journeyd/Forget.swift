import ArgumentParser
import Foundation
import JourneyCore
import JourneyDaemon
import JourneyEvents
import JourneyRules

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase a user (an erasure request): profile, history, enrollments, timers, decision records, queued touches.",
        discussion: """
            Asks the running daemon over its control socket. The erasure is written to the event log before it is applied
            and answered once durable, so a restart (which replays the log) does not bring the user back; the next
            checkpoint deletes the user's rows from the state database. Touches already handed to a channel cannot be
            recalled. Later events for the id start a new, empty profile. Exits 0 when erased, 1 otherwise.
            """)

    @Argument(help: "The user id.")
    var user: String

    @Option(name: .long, help: "The rule directory (its journeyd.yaml locates the control socket).", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "The daemon's state database (the control socket is beside it by default).")
    var state: String?

    @Option(name: .long, help: "The control socket.")
    var control: String?

    @Flag(name: .long, help: "Print the daemon's answer as JSON.")
    var json = false

    func run() throws {
        let path = DaemonPaths(settings: RuleLoader.loadSettings(directory: rules), state: state, control: control).control
        let answer: Value
        do {
            answer = try JSONParser().parse(try askDaemon("forget \(user)", controlSocket: path))
        } catch {
            printError("journeyd forget \(user): \(error)")
            throw Exit.failure
        }
        guard answer["ok"] == .bool(true) else {
            for error in answer["errors"]?.arrayValue ?? [] { printError("journeyd forget \(user): \(error.stringValue ?? error.jsonText)") }
            throw Exit.failure
        }
        if json {
            print(answer.jsonText)
            return
        }
        let erased = answer["erased"]?.members ?? []
        let parts = erased.map { "\($0.value.jsonText) \($0.key.replacingOccurrences(of: "_", with: " "))" }
        print("forgot \(user)" + (answer["known"] == .bool(true) ? "" : " (no state was kept)") + ": " + parts.joined(separator: ", "))
    }
}
