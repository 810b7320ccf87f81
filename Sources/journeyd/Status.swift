import ArgumentParser
import Foundation
import JourneyCore
import JourneyDaemon
import JourneyEvents
import JourneyRules

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the running daemon is doing: journeys, events, timers, outbox, last reload.",
        discussion: "Exits 0 when the daemon answered, 1 when it cannot be reached. --json prints its answer as is.")

    @Option(name: .long, help: "The rule directory (its journeyd.yaml locates the control socket).", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "The daemon's state database (the control socket is beside it by default).")
    var state: String?

    @Option(name: .long, help: "The control socket.")
    var control: String?

    @Flag(name: .long, help: "Print the daemon's answer as JSON.")
    var json = false

    func run() throws {
        let settings = RuleLoader.loadSettings(directory: rules)
        let path = DaemonPaths(settings: settings, state: state, control: control).control
        let text: String
        do {
            text = try askDaemon("status", controlSocket: path)
        } catch {
            printError("journeyd status: \(error)")
            throw Exit.failure
        }
        if json {
            print(text)
            return
        }
        let answer = try JSONParser().parse(text)
        for member in answer.members ?? [] where member.key != "ok" && member.key != "metrics" {
            let value = member.value.stringValue.map { $0.isEmpty ? "-" : $0 } ?? member.value.jsonText
            print("\(member.key.padding(toLength: 12, withPad: " ", startingAt: 0)) \(value)")
        }
        let families = answer.members?.first { $0.key == "metrics" }?.value.members ?? []
        if !families.isEmpty { print("\nmetrics (as /metrics serves them):") }
        for family in families {
            for sample in family.value.arrayValue ?? [] {
                let members = sample.members ?? []
                let labels = members.filter { $0.key != "value" }.map { "\($0.key)=\"\($0.value.stringValue ?? "")\"" }
                let value = members.first { $0.key == "value" }?.value.numberValue ?? 0
                let number = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
                print("  \(family.key)\(labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}") \(number)")
            }
        }
    }
}
