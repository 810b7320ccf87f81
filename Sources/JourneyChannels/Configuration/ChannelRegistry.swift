import JourneyCore
import Logging

/// What an adapter type adds to ``ChannelAdapter`` so the registry can build it from `channels.yaml`:
/// its `type:` name, its policy defaults, how it reads its options, and how it opens.
///
/// `configure` only reads and validates (it may read secret files, nothing else); `init` opens what the
/// adapter needs (a file, a connection pool). `journeyd check` runs `configure` alone.
public protocol ConfigurableChannelAdapter: ChannelAdapter {
    associatedtype Configuration: Sendable

    /// The `type:` value in `channels.yaml`.
    static var type: String { get }
    /// Rate limits, retries, breaker and concurrency unless the channel's options say otherwise.
    static var defaultPolicy: ChannelPolicy { get }
    /// Reads the adapter's own options, reporting every problem to `options`; nil if it cannot build a
    /// configuration. (The registry reports unknown keys and the common keys' problems.)
    static func configure(_ options: ChannelOptions) -> Configuration?
    /// Opens the adapter. Throws a ``ChannelProblem`` (with the option key as its `path`, the registry
    /// prefixes the channel's) when what the configuration names cannot be opened.
    init(name: String, configuration: Configuration, context: ChannelContext) throws
}

/// One channel definition as the registry reads it: an entry of `channels.yaml`.
public struct ChannelSpec: Sendable {
    public var name: String
    public var type: String
    /// The adapter's options: the entry without `name` and `type`.
    public var options: Value
    /// The key path problems are reported under, e.g. `channels[2]`.
    public var path: String

    public init(name: String, type: String, options: Value, path: String) {
        self.name = name
        self.type = type
        self.options = options
        self.path = path
    }
}

/// A built channel: its adapter and the policy the pipeline applies to it.
public struct ConfiguredChannel: Sendable {
    public var name: String
    public var type: String
    public var adapter: any ChannelAdapter
    public var policy: ChannelPolicy
    /// A hash of the channel's definition (type and options): a channel whose fingerprint did not change
    /// across a reload or a restart keeps its delivery state (rate windows, breaker, disabled, throttle).
    public var fingerprint: String

    public init(name: String, type: String, adapter: any ChannelAdapter, policy: ChannelPolicy, fingerprint: String = "") {
        self.name = name
        self.type = type
        self.adapter = adapter
        self.policy = policy
        self.fingerprint = fingerprint
    }
}

/// Every channel of a rule set, built together. Retire it with ``shutdown()``.
public struct ChannelSet: Sendable {
    public let channels: [ConfiguredChannel]

    public init(_ channels: [ConfiguredChannel]) { self.channels = channels }

    public subscript(name: String) -> ConfiguredChannel? { channels.first { $0.name == name } }

    public var names: [String] { channels.map(\.name) }

    public func shutdown() async {
        for channel in channels { await channel.adapter.shutdown() }
    }
}

/// Every problem found while building channels.
public struct ChannelBuildError: Error, Sendable, CustomStringConvertible {
    public var problems: [ChannelProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// The one list of adapter types, mapping `type:` to what builds it. Add an adapter by adding its type to
/// ``builtin``.
public struct ChannelRegistry: Sendable {
    public static let builtin = ChannelRegistry([
        WebhookAdapter.self, EmailAdapter.self, SMSAdapter.self, WeComAdapter.self, DingTalkAdapter.self,
        FeishuAdapter.self, SlackAdapter.self, ExecAdapter.self, FileAdapter.self, LogAdapter.self, AliyunSMSAdapter.self,
        TencentSMSAdapter.self, WeChatTemplateAdapter.self, WeChatSubscribeAdapter.self, FCMAdapter.self, APNsAdapter.self,
    ])

    private let types: [String: any ConfigurableChannelAdapter.Type]

    public init(_ types: [any ConfigurableChannelAdapter.Type]) {
        var byName: [String: any ConfigurableChannelAdapter.Type] = [:]
        for type in types {
            precondition(byName[type.type] == nil, "two adapters registered as \(type.type)")
            byName[type.type] = type
        }
        self.types = byName
    }

    /// The registered `type:` names, sorted.
    public var typeNames: [String] { types.keys.sorted() }

    /// The default policy of an adapter type.
    public func defaultPolicy(of type: String) -> ChannelPolicy? { types[type]?.defaultPolicy }

    /// Validates definitions without opening anything: every problem, with its key path. With
    /// `context.readSecrets == false`, secret references are checked for shape only.
    public func check(_ specs: [ChannelSpec], context: ChannelContext) -> [ChannelProblem] {
        var problems = duplicateNames(specs)
        for spec in specs {
            problems += configure(spec, context: context).problems
        }
        return problems
    }

    /// Builds every channel, or none: on any problem, what was opened is shut down again and all problems
    /// are thrown together.
    public func build(_ specs: [ChannelSpec], context: ChannelContext) async throws(ChannelBuildError) -> ChannelSet {
        var problems = duplicateNames(specs)
        var built: [ConfiguredChannel] = []
        for spec in specs {
            let configured = configure(spec, context: context)
            problems += configured.problems
            guard let open = configured.open else { continue }
            do {
                built.append(try open())
            } catch let problem as ChannelProblem {
                problems.append(problem)
            } catch {
                problems.append(ChannelProblem(channel: spec.name, path: spec.path, message: "\(error)"))
            }
        }
        guard problems.isEmpty else {
            for channel in built { await channel.adapter.shutdown() }
            throw ChannelBuildError(problems: problems)
        }
        return ChannelSet(built)
    }

    private func duplicateNames(_ specs: [ChannelSpec]) -> [ChannelProblem] {
        var seen: [String: String] = [:]
        var problems: [ChannelProblem] = []
        for spec in specs {
            if let first = seen[spec.name] {
                problems.append(ChannelProblem(channel: spec.name, path: "\(spec.path).name", message: "duplicate channel name \"\(spec.name)\" (first at \(first))"))
            } else {
                seen[spec.name] = spec.path
            }
        }
        return problems
    }

    private func configure(_ spec: ChannelSpec, context: ChannelContext) -> (problems: [ChannelProblem], open: (() throws -> ConfiguredChannel)?) {
        guard let type = types[spec.type] else {
            let problem = ChannelProblem(
                channel: spec.name, path: "\(spec.path).type",
                message: "unknown channel type \"\(spec.type)\"\(Suggestions.didYouMean(spec.type, in: typeNames)) (known: \(typeNames.joined(separator: ", ")))")
            return ([problem], nil)
        }
        var logger = context.logger
        logger[metadataKey: "channel"] = .string(spec.name)
        var adapterContext = context
        adapterContext.logger = logger
        return Self.configure(type, spec, adapterContext)
    }

    private static func configure<A: ConfigurableChannelAdapter>(
        _ type: A.Type, _ spec: ChannelSpec, _ context: ChannelContext
    ) -> (problems: [ChannelProblem], open: (() throws -> ConfiguredChannel)?) {
        let options = ChannelOptions(channel: spec.name, path: spec.path, options: spec.options, context: context)
        let policy = A.defaultPolicy.reading(options)
        let configuration = A.configure(options)
        let problems = options.finish()
        guard problems.isEmpty, let configuration else { return (problems, nil) }
        return ([], {
            do {
                let adapter = try A(name: spec.name, configuration: configuration, context: context)
                var hash = StableHash()
                hash.combine(A.type)
                hash.combine(spec.options.jsonText)
                return ConfiguredChannel(name: spec.name, type: A.type, adapter: adapter, policy: policy, fingerprint: hash.hex)
            } catch let problem as ChannelProblem {
                // Adapters throw problems at an option key ("path"); the registry knows where the channel is.
                let path = problem.path.isEmpty ? spec.path : "\(spec.path).\(problem.path)"
                throw ChannelProblem(channel: spec.name, path: path, message: problem.message)
            }
        })
    }
}
