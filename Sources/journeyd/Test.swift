import ArgumentParser
import Foundation
import JourneyRules
import JourneySimulation

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the journey tests (tests/*.yaml) on a simulated clock with dry-run channels.")

    @Argument(help: "The rule directory.", completion: .directory)
    var directory: String = "/etc/journeyd"

    @Option(name: .long, help: "Write a JUnit XML report to this file.")
    var junit: String?

    @Option(name: .long, help: "Run only tests whose name contains this text.")
    var filter: String?

    @Flag(name: .shortAndLong, help: "List every test, not only failures.")
    var verbose = false

    func run() throws {
        let rules: RuleSet
        do {
            rules = try RuleLoader.load(directory: directory)
        } catch {
            printError(error.description)
            throw Exit.failure
        }
        let tests = rules.tests.filter { filter == nil || $0.name.contains(filter!) }
        let results = TestRunner.run(tests, rules: rules)
        for result in results {
            if result.passed {
                if verbose { print("PASS \(result.file):\(result.line): \(result.name)") }
            } else {
                print("FAIL \(result.file):\(result.line): \(result.name)")
                for failure in result.failures { print("  - " + failure) }
            }
        }
        if let junit {
            do {
                try TestRunner.junitXML(results).write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                printError("cannot write \(junit): \(error.localizedDescription)")
                throw Exit.ioError
            }
        }
        let failed = results.filter { !$0.passed }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw Exit.failure }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
