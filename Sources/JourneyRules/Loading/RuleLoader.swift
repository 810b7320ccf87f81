import Foundation
import JourneyCore
import Yams

/// Loads a rule directory into a validated ``RuleSet``, reporting **every** problem it finds.
///
/// Layout (DESIGN §4; each key is documented in `rules/README.md`):
/// ```
/// journeyd.yaml      optional: timezone, policy.caps, policy.quiet_hours, dedup; daemon keys kept as-is
/// channels.yaml      channels: [{name, type, …options}]
/// journeys/*.yaml    one journey per file (*.yml too), loaded in file-name order
/// templates/*        message templates; a template's name is its file name up to the first dot
/// tests/*.yaml       journey tests
/// ```
/// Problems come back as ``Diagnostic``s (`file:line:col: key.path: message`), sorted by file and position.
public enum RuleLoader {
    /// The rule set, or every error (warnings do not fail a load).
    public static func load(directory: String) throws(RuleLoadError) -> RuleSet {
        let (rules, diagnostics) = loadReportingAll(directory: directory)
        guard let rules, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw RuleLoadError(diagnostics: diagnostics)
        }
        return rules
    }

    /// The rule set when there are no errors, and every diagnostic (errors and warnings) either way.
    public static func loadReportingAll(directory: String) -> (RuleSet?, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (nil, [Diagnostic(file: directory, line: 0, column: 0, keyPath: "", message: "no such rule directory")])
        }
        func read(_ relative: String) -> YAMLReader? {
            let path = directory + "/" + relative
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(Diagnostic(file: relative, line: 0, column: 0, keyPath: "", message: "cannot read the file"))
                return nil
            }
            guard let text = String(validating: data, as: UTF8.self) else {
                diagnostics.append(Diagnostic(file: relative, line: 0, column: 0, keyPath: "", message: "the file is not valid UTF-8"))
                return nil
            }
            return YAMLReader(file: relative, text: text)
        }
        func files(in folder: String, extensions: [String]?) -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + folder)) ?? []
            return names.filter { name in
                !name.hasPrefix(".") && !name.hasSuffix("~")
                    && (extensions == nil || extensions!.contains { name.hasSuffix("." + $0) })
            }.sorted()
        }

        var settings = Settings()
        if FileManager.default.fileExists(atPath: directory + "/journeyd.yaml"), let reader = read("journeyd.yaml") {
            if let root = reader.root() { settings = SettingsParser.settings(root, reader: reader) }
            diagnostics += reader.diagnostics
        }
        var channels: [ChannelDefinition] = []
        if FileManager.default.fileExists(atPath: directory + "/channels.yaml"), let reader = read("channels.yaml") {
            if let root = reader.root() { channels = SettingsParser.channels(root, reader: reader) }
            diagnostics += reader.diagnostics
        }
        for cap in settings.caps {
            if let name = cap.channel, !channels.contains(where: { $0.name == name }) {
                diagnostics.append(
                    Diagnostic(file: "journeyd.yaml", line: 0, column: 0, keyPath: "policy.caps", message: "unknown channel \"\(name)\""))
            }
        }

        var templates: [String: Template] = [:]
        for name in files(in: "templates", extensions: nil) {
            let relative = "templates/\(name)"
            let key = String(name.prefix { $0 != "." })
            if let existing = templates[key] {
                diagnostics.append(
                    Diagnostic(file: relative, line: 0, column: 0, keyPath: "", message: "template \"\(key)\" is defined twice (also \(existing.file))"))
                continue
            }
            guard let data = FileManager.default.contents(atPath: directory + "/" + relative),
                let source = String(validating: data, as: UTF8.self)
            else {
                diagnostics.append(Diagnostic(file: relative, line: 0, column: 0, keyPath: "", message: "cannot read the template as UTF-8 text"))
                continue
            }
            templates[key] = Template(name: key, file: relative, source: source)
        }

        let channelNames = Set(channels.map(\.name))
        var journeys: [Journey] = []
        var idLocations: [String: String] = [:]
        var enrollReferences: [(reader: YAMLReader, journey: String, node: YAMLNode, path: String)] = []
        var readers: [YAMLReader] = []
        for name in files(in: "journeys", extensions: ["yaml", "yml"]) {
            let relative = "journeys/\(name)"
            guard let reader = read(relative) else { continue }
            readers.append(reader)
            guard let root = reader.root() else { continue }
            var version = StableHash()
            version.combine(bytes: reader.text.utf8)
            var parser = JourneyParser(reader: reader, channels: channelNames, templates: Set(templates.keys))
            let (journey, idNode) = parser.parse(root, version: version.hex)
            enrollReferences += parser.enrollReferences.map { (reader, $0.journey, $0.node, $0.path) }
            guard let journey else { continue }
            if let first = idLocations[journey.id] {
                reader.error(at: idNode, "journey", "duplicate journey id \"\(journey.id)\" (also in \(first))")
                continue
            }
            let stem = String(name.prefix { $0 != "." })
            if stem != journey.id {
                reader.warning(at: idNode, "journey", "journey \"\(journey.id)\" is in a file named \(name); naming the file \(journey.id).yaml keeps things findable")
            }
            idLocations[journey.id] = relative
            journeys.append(journey)
        }
        let journeyIDs = Set(journeys.map(\.id))
        for reference in enrollReferences where !journeyIDs.contains(reference.journey) {
            let suggestion = YAMLReader.closest(reference.journey, in: journeyIDs).map { "; did you mean \"\($0)\"?" } ?? ""
            reference.reader.error(at: reference.node, reference.path, "unknown journey \"\(reference.journey)\"\(suggestion)")
        }
        for reader in readers { diagnostics += reader.diagnostics }

        var tests: [JourneyTest] = []
        let byID = Dictionary(uniqueKeysWithValues: journeys.map { ($0.id, $0) })
        for name in files(in: "tests", extensions: ["yaml", "yml"]) {
            guard let reader = read("tests/\(name)") else { continue }
            if let root = reader.root() {
                let parser = TestFileParser(reader: reader, journeys: byID, channels: channelNames, templates: Set(templates.keys))
                tests += parser.parse(root)
            }
            diagnostics += reader.diagnostics
        }

        diagnostics.sort()
        guard !diagnostics.contains(where: { $0.severity == .error }) else { return (nil, diagnostics) }
        let rules = RuleSet(
            settings: settings, channels: channels, templates: templates, journeys: journeys, tests: tests,
            directory: directory)
        return (rules, diagnostics)
    }
}
