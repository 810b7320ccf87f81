import Foundation
public import JourneyRules

/// Builds rule directories on disk from strings, for tests that load rules the way users write them.
public enum RuleFixtures {
    public static let defaultChannels = """
        channels:
          - { name: email, type: log }
          - { name: sms, type: log }
          - { name: wecom, type: log }
        """

    /// Writes `files` (relative path → content) into a fresh temporary directory and returns its path.
    /// Templates named by `send` steps must be listed; `templates(_:)` helps.
    public static func directory(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("journeyd-rules-\(UUID().uuidString)").path
        for (path, content) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: true, encoding: .utf8)
        }
        return root
    }

    /// Loads journeys (file name → YAML) with the default channels and a template file for every name in
    /// `templates`, plus optional settings. Throws the loader's diagnostics on invalid input.
    public static func load(
        journeys: [String: String],
        templates: [String] = [],
        settings: String? = nil,
        channels: String = defaultChannels
    ) throws -> RuleSet {
        var files: [String: String] = ["channels.yaml": channels]
        if let settings { files["journeyd.yaml"] = settings }
        for (name, yaml) in journeys { files["journeys/\(name).yaml"] = yaml }
        for name in templates { files["templates/\(name).liquid"] = "{{ user.first_name }}" }
        let directory = try directory(files)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try RuleLoader.load(directory: directory)
    }
}
