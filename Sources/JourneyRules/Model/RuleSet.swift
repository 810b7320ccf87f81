public import JourneyCore
public import JourneyTemplates

/// Everything loaded from a rule directory, validated: settings, channels, templates, journeys, tests.
public struct RuleSet: Sendable {
    public var settings: Settings
    public var channels: [ChannelDefinition]
    public var templates: [String: Template]
    public var journeys: [Journey]
    public var tests: [JourneyTest]
    /// The directory it came from.
    public var directory: String

    public init(
        settings: Settings = Settings(), channels: [ChannelDefinition] = [], templates: [String: Template] = [:],
        journeys: [Journey], tests: [JourneyTest] = [], directory: String = ""
    ) {
        self.settings = settings
        self.channels = channels
        self.templates = templates
        self.journeys = journeys
        self.tests = tests
        self.directory = directory
    }

    public func journey(id: String) -> Journey? { journeys.first { $0.id == id } }
    public func channel(named name: String) -> ChannelDefinition? { channels.first { $0.name == name } }
}

/// `journeyd.yaml`: daemon settings and global policy.
public struct Settings: Sendable {
    /// Zone for users without a `timezone` trait.
    public var defaultZone: Zone
    /// Caps over all journeys, per user (optionally per channel).
    public var caps: [Cap]
    public var quietHours: QuietHours?
    /// How long message ids are remembered for deduplication, and how many at most.
    public var dedupWindow: TimeSpan
    public var dedupMaxEntries: Int
    /// The keys not interpreted here (`delivery`, `metrics`), kept as written for the modules that read them.
    public var daemon: Value
    /// `state`, `inputs`, `control`, `reload`, `logging`.
    public var daemonSettings = DaemonSettings()
    /// Decision records kept per user for `journeyd explain` (`explain.trace`); 0 = off.
    public var decisionTrace = Settings.defaultDecisionTrace
    /// Lifecycle stages, in order (`stages:`); empty: none.
    public var stages: [Stage] = []
    public static let defaultDecisionTrace = 0

    public init(
        defaultZone: Zone = .utc, caps: [Cap] = [], quietHours: QuietHours? = nil,
        dedupWindow: TimeSpan = .days(7), dedupMaxEntries: Int = 10_000_000, daemon: Value = .emptyObject
    ) {
        self.defaultZone = defaultZone
        self.caps = caps
        self.quietHours = quietHours
        self.dedupWindow = dedupWindow
        self.dedupMaxEntries = dedupMaxEntries
        self.daemon = daemon
    }
}

/// One entry of `channels.yaml`.
public struct ChannelDefinition: Sendable {
    public var name: String
    /// The adapter type: `log`, `file`, `exec`, `webhook`, `email`, `sms`, `wecom`, `dingtalk`, `feishu`, `slack`.
    public var type: String
    /// The adapter's own options, as written (validated by the adapter).
    public var options: Value
    public var file: String
    public var line: Int
    public var column: Int
    /// Where each of the entry's keys is written (`name`, `type` and every option), so a problem the
    /// channel's adapter finds in an option is reported at that option's line and column.
    public var positions: [String: Position]

    public struct Position: Sendable, Hashable {
        public var line: Int
        public var column: Int
        public init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }
    }

    public init(
        name: String, type: String, options: Value = .emptyObject, file: String = "", line: Int = 0, column: Int = 0,
        positions: [String: Position] = [:]
    ) {
        self.name = name
        self.type = type
        self.options = options
        self.file = file
        self.line = line
        self.column = column
        self.positions = positions
    }

    /// Where a problem at `keyPath` below this channel (`url`, `retry.initial`, `type`) is written: the
    /// top-level key's position, else the channel's.
    public func position(of keyPath: String) -> Position {
        let key = String(keyPath.prefix { $0 != "." && $0 != "[" })
        return positions[key] ?? Position(line: line, column: column)
    }
}

/// A message template under `templates/`: `NAME.liquid` (any extension but `.html…`), an optional
/// `NAME.html.liquid` HTML part, compiled at load.
public struct Template: Sendable {
    public var name: String
    /// The template's main file (`templates/NAME.liquid`), or its only file when that is the HTML part.
    public var file: String
    public var source: String
    /// The HTML part beside the main file, if there is one.
    public var htmlFile: String?
    public var htmlSource: String?
    /// The compiled template: what the daemon renders, without parsing anything again.
    public var message: MessageTemplate

    public init(
        name: String, file: String, source: String, htmlFile: String? = nil, htmlSource: String? = nil,
        message: MessageTemplate
    ) {
        self.name = name
        self.file = file
        self.source = source
        self.htmlFile = htmlFile
        self.htmlSource = htmlSource
        self.message = message
    }
}
