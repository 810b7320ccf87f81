import ArgumentParser
import JourneyDaemon
import JourneyRules

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a rule directory; print every problem as file:line:col and exit non-zero if any.",
        discussion: """
            Checks exactly what `journeyd run` would load — journeys, templates, settings (delivery.* included),
            channel types and options — without opening channels or reading their secrets.
            """)

    @Argument(help: "The rule directory.", completion: .directory)
    var directory: String = "/etc/journeyd"

    @Flag(name: .long, help: "Treat warnings as errors.")
    var strict = false

    func run() async throws {
        let (runtime, diagnostics) = await RuntimeBuilder.build(directory: directory, channels: .check)
        for diagnostic in diagnostics { printError(diagnostic.description) }
        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.count - errors
        guard let rules = runtime?.rules, errors == 0, !(strict && warnings > 0) else {
            printError("\(directory): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
            throw Exit.failure
        }
        print(
            "\(directory): ok — \(rules.journeys.count) journeys, \(rules.channels.count) channels, "
                + "\(rules.templates.count) templates, \(rules.tests.count) tests"
                + (warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))
    }
}
