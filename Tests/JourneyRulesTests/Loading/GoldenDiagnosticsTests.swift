import Foundation
import JourneyRules
import Testing

/// Each directory under `Fixtures/invalid/` is a rule directory with one class of errors and an
/// `expected.txt` holding every diagnostic, sorted, exactly as `journeyd check` prints them.
///
/// After an intended change of messages, regenerate with `JOURNEYD_UPDATE_GOLDEN=1 swift test --filter
/// GoldenDiagnostics` and review the diff of the `expected.txt` files.
@Suite("Golden diagnostics")
struct GoldenDiagnosticsTests {
    static let requiredCases = [
        "bad-duration", "bad-time-and-weekday", "bad-timezone", "cycle-without-wait", "duplicate-ids", "exactly-one-action",
        "expression-error", "missing-required", "split-not-100", "template-errors", "tests-file-errors", "unknown-channel",
        "unknown-journey",
        "unknown-key", "unknown-step", "unknown-template", "unreachable-step", "wait-for-without-timeout", "wrong-type",
        "yaml-syntax", "yaml11-scalars",
    ]

    @Test func everyErrorClassHasAFixture() {
        let missing = Self.requiredCases.filter { !LoaderFixtures.invalidCases.contains($0) }
        #expect(missing.isEmpty, "missing fixture directories: \(missing)")
    }

    @Test(arguments: LoaderFixtures.invalidCases)
    func diagnosticsMatchExpected(_ name: String) throws {
        let directory = LoaderFixtures.root + "/invalid/" + name
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory, channelTypes: LoaderFixtures.channelTypes)
        let actual = diagnostics.map(\.description).joined(separator: "\n") + "\n"
        if LoaderFixtures.updatingGolden {
            try actual.write(
                toFile: LoaderFixtures.sourceRoot + "/invalid/\(name)/expected.txt", atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: directory + "/expected.txt", encoding: .utf8)
        #expect(actual == expected, "\n--- expected\n\(expected)--- actual\n\(actual)")
        #expect(rules == nil, "a directory with errors must not load")
        #expect(diagnostics.contains { $0.severity == .error })
        #expect(diagnostics == diagnostics.sorted(), "diagnostics come sorted")
        // Every error points into a file of the directory, at a real position when it has one.
        for d in diagnostics {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + d.file), "\(d)")
            #expect(d.line == 0 || d.column >= 1, "\(d)")
        }
        // load(directory:) throws the same diagnostics.
        #expect(throws: RuleLoadError.self) { try RuleLoader.load(directory: directory, channelTypes: LoaderFixtures.channelTypes) }
        do {
            _ = try RuleLoader.load(directory: directory, channelTypes: LoaderFixtures.channelTypes)
        } catch {
            #expect(error.diagnostics == diagnostics)
        }
    }
}
