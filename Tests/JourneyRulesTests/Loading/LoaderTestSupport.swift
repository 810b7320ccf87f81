import Foundation
import JourneyCore
import JourneyRules
import JourneyTesting
import Testing

/// Paths and helpers for the rule-loader tests.
enum LoaderFixtures {
    /// The fixtures as copied into the test bundle.
    static let root: String = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures resource is missing from the test bundle")
        }
        return url.path
    }()

    /// The fixtures in the source tree (for `JOURNEYD_UPDATE_GOLDEN=1`).
    static let sourceRoot: String = {
        let file = URL(fileURLWithPath: #filePath)
        return file.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    static var updatingGolden: Bool { ProcessInfo.processInfo.environment["JOURNEYD_UPDATE_GOLDEN"] == "1" }

    /// The invalid cases present, by directory name.
    static let invalidCases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/invalid")) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }()

    /// The channel types the tests' rule files may name (the daemon passes the channel registry's list).
    static let channelTypes = ["dingtalk", "email", "exec", "feishu", "file", "log", "slack", "sms", "webhook", "wecom"]

    /// Every diagnostic of loading `directory`, one `description` per line.
    static func diagnosticLines(_ directory: String) -> [String] {
        RuleLoader.loadReportingAll(directory: directory).1.map(\.description)
    }

    /// Loads rule files given as strings (relative path → content).
    static func load(_ files: [String: String]) throws -> RuleSet {
        let directory = try RuleFixtures.directory(files)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try RuleLoader.load(directory: directory)
    }

    /// The diagnostics of loading rule files given as strings, and the rules if there were no errors.
    static func report(_ files: [String: String]) throws -> (RuleSet?, [String]) {
        let directory = try RuleFixtures.directory(files)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory)
        return (rules, diagnostics.map(\.description))
    }

    /// A journey file with the usual channels and the templates it needs.
    static func journey(_ yaml: String, name: String = "j", templates: [String] = ["t"], extra: [String: String] = [:])
        -> [String: String]
    {
        var files = ["channels.yaml": RuleFixtures.defaultChannels, "journeys/\(name).yaml": yaml]
        for t in templates { files["templates/\(t).liquid"] = "x" }
        return files.merging(extra) { $1 }
    }
}
