import Foundation

/// The repository's bundled rule directory, for tests that run the daemon on it with settings of their own.
enum BundledRules {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/rules"

    /// The `stages:` section of the bundled journeyd.yaml, as written there: a test that replaces the
    /// settings keeps it, since bundled journeys trigger on stages it declares.
    static func stagesSection() throws -> String {
        let text = try String(contentsOfFile: directory + "/journeyd.yaml", encoding: .utf8)
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if lines.isEmpty {
                if line.hasPrefix("stages:") { lines.append(line) }
            } else if line.hasPrefix(" ") || line.hasPrefix("#") {
                lines.append(line)
            } else {
                break
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
