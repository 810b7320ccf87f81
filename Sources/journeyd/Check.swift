import ArgumentParser
import JourneyChannels
import JourneyRules

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a rule directory; print every problem as file:line:col and exit non-zero if any.")

    @Argument(help: "The rule directory.", completion: .directory)
    var directory: String = "/etc/journeyd"

    @Flag(name: .long, help: "Treat warnings as errors.")
    var strict = false

    func run() throws {
        var (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory)
        if let loaded = rules {
            // Channel options are the adapters' to judge (URLs, addresses, secrets' references).
            let problems = ChannelRegistry.builtin.check(
                loaded.channels.enumerated().map { ChannelSpec(name: $1.name, type: $1.type, options: $1.options, path: "channels[\($0)]") },
                context: ChannelContext(configurationDirectory: directory, readSecrets: false))
            for problem in problems {
                let index = problem.path.dropFirst("channels[".count).prefix { $0.isNumber }
                let line = Int(index).flatMap { loaded.channels.indices.contains($0) ? loaded.channels[$0].line : nil } ?? 1
                diagnostics.append(Diagnostic(file: "channels.yaml", line: line, column: 1, keyPath: problem.path, message: problem.message))
            }
            if !problems.isEmpty { rules = nil }
        }
        for diagnostic in diagnostics { printError(diagnostic.description) }
        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.count - errors
        guard let rules, errors == 0, !(strict && warnings > 0) else {
            printError("\(directory): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
            throw Exit.failure
        }
        print(
            "\(directory): ok — \(rules.journeys.count) journeys, \(rules.channels.count) channels, "
                + "\(rules.templates.count) templates, \(rules.tests.count) tests"
                + (warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))
    }
}
