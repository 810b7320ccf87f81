import Foundation
public import JourneyChannels
public import JourneyCore
public import JourneyRules
import JourneyTemplates

/// What the daemon runs on: the rules, their renderer, the rule files' snapshot and (when opened) the
/// channels. Built whole by ``RuntimeBuilder`` or not at all, and swapped in with one assignment.
public struct Runtime: Sendable {
    public let rules: RuleSet
    public let renderer: TouchRenderer
    /// The rule files as read, and their content hash: the version log reload marks name.
    public let snapshot: RuleSnapshot
    /// The channels, opened; nil when only checked (`journeyd check`) or replaying a log.
    public let channels: ChannelSet?

    public var version: String { snapshot.version }
}

/// The one way a rule directory becomes a ``Runtime``: start, reload and `journeyd check` all come
/// through here, so `check` validates exactly what `run` would — rules, templates, `delivery.*`,
/// channel types and options — and every problem is reported at its own file, line and column.
public enum RuntimeBuilder {
    /// What to do with the channels.
    public enum Channels: Sendable {
        /// Check their options, read no secret, open nothing (`journeyd check`).
        case check
        /// Open them (start and reload), with this context (state directory, logger).
        case open(ChannelContext)
        /// Leave them out (replaying a log under an older rule set).
        case none
    }

    /// Builds the runtime of the rule directory `directory`, or returns every diagnostic.
    public static func build(directory: String, channels: Channels) async -> (Runtime?, [Diagnostic]) {
        let snapshot = RuleSnapshot(directory: directory)
        var (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory, channelTypes: ChannelRegistry.builtin.typeNames)
        guard let loaded = rules else { return (nil, diagnostics) }
        let renderer: TouchRenderer
        do throws(TemplateCompileError) {
            renderer = try TouchRenderer(rules: loaded)
        } catch {
            // The loader compiled it already; a difference here is a bug, reported where it points.
            diagnostics += error.errors.map {
                Diagnostic(file: "journeyd.yaml", line: $0.line, column: $0.column, keyPath: "delivery.unsubscribe_url", message: $0.message)
            }
            return (nil, diagnostics)
        }
        let specs = loaded.channels.enumerated().map { ChannelSpec(name: $1.name, type: $1.type, options: $1.options, path: "channels[\($0)]") }
        var channelSet: ChannelSet?
        switch channels {
        case .none:
            break
        case .check:
            let problems = ChannelRegistry.builtin.check(
                specs, context: ChannelContext(configurationDirectory: directory, readSecrets: false))
            diagnostics += problems.map { diagnostic($0, in: loaded) }
        case .open(let context):
            do throws(ChannelBuildError) {
                channelSet = try await ChannelRegistry.builtin.build(specs, context: context)
            } catch {
                diagnostics += error.problems.map { diagnostic($0, in: loaded) }
            }
        }
        rules = diagnostics.contains { $0.severity == .error } ? nil : loaded
        guard let rules else {
            if let channelSet { await channelSet.shutdown() }
            return (nil, diagnostics)
        }
        return (Runtime(rules: rules, renderer: renderer, snapshot: snapshot, channels: channelSet), diagnostics)
    }

    /// The runtime of an archived rule set (to replay a log written under it): rules and renderer only.
    public static func build(snapshot: RuleSnapshot) throws -> Runtime {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journeyd-rules-\(snapshot.version)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (path, text) in snapshot.files {
            let full = directory + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
        }
        let rules = try RuleLoader.load(directory: directory, channelTypes: ChannelRegistry.builtin.typeNames)
        return Runtime(rules: rules, renderer: try TouchRenderer(rules: rules), snapshot: snapshot, channels: nil)
    }

    /// A channel problem at the line and column of the option it is about.
    static func diagnostic(_ problem: ChannelProblem, in rules: RuleSet) -> Diagnostic {
        // Paths look like channels[3].retry.initial.
        guard let open = problem.path.firstIndex(of: "["), let close = problem.path.firstIndex(of: "]"),
            let index = Int(problem.path[problem.path.index(after: open)..<close]), rules.channels.indices.contains(index)
        else {
            return Diagnostic(file: "channels.yaml", line: 1, column: 1, keyPath: problem.path, message: problem.message)
        }
        let channel = rules.channels[index]
        let rest = problem.path[problem.path.index(after: close)...].drop { $0 == "." }
        let position = channel.position(of: String(rest))
        return Diagnostic(file: "channels.yaml", line: position.line, column: position.column, keyPath: problem.path, message: problem.message)
    }
}

extension RuleSnapshot {
    /// The rule files of `directory` as they are now: journeyd.yaml, channels.yaml, journeys/*.yaml,
    /// templates/* (what a log replay needs to rebuild the same rules).
    public init(directory: String) {
        var files: [String: String] = [:]
        let fm = FileManager.default
        for name in ["journeyd.yaml", "channels.yaml"] {
            if let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) { files[name] = text }
        }
        for folder in ["journeys", "templates"] {
            for name in (try? fm.contentsOfDirectory(atPath: directory + "/" + folder)) ?? [] where !name.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                let path = directory + "/" + folder + "/" + name
                guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    let text = try? String(contentsOfFile: path, encoding: .utf8)
                else { continue }
                files[folder + "/" + name] = text
            }
        }
        self.init(files: files)
    }
}
