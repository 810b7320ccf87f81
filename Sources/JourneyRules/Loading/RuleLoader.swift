import Dispatch
import Foundation
import JourneyCore
import JourneyTemplates
import Yams

/// Loads a rule directory into a validated ``RuleSet``, reporting **every** problem it finds.
///
/// Each problem is a ``Diagnostic`` — `file:line:col: key.path: message` — and loading never stops at
/// the first: YAML syntax errors (one per file; the other files are still read), duplicate keys, unknown
/// keys (with a "did you mean"), missing keys, wrong types, exactly-one-of violations, duplicate ids and
/// names, unknown channels / templates / steps / journeys, unreachable steps, cycles without a wait,
/// `wait_for` without a timeout, splits that do not add up to 100, bad durations, times, weekdays and
/// time zones, expression errors at the exact column inside the YAML scalar, and template errors (Liquid
/// syntax, unknown tags and filters, unknown headers; unknown variables are warnings). Lines and columns are
/// 1-based; columns count Unicode scalars. Key paths index lists from 0 (`steps[0]` is the first step).
///
/// **Types.** Yams only composes the YAML; it never decides a type. Each scalar is read as text and
/// interpreted by the type its key expects: booleans are exactly `true`/`false` (`yes`, `on`, `NO` are
/// text where text is expected, and errors where a boolean is); `01234` and `1.10` stay text where text
/// is expected; numbers are numbers only where a number is expected. Untyped values — traits in tests
/// and `update.set`, channel options, daemon settings — keep their text unless they are unquoted and
/// plainly `null`/`~`, `true`/`false` or a decimal number without a leading zero or `+` (YAML 1.2 core
/// schema, minus hex, octal, `.inf`, `.nan`: `01234` and `+8613800138000` stay text).
///
/// ## Layout (DESIGN §4)
/// ```
/// journeyd.yaml      optional: settings and global policy
/// channels.yaml      channel instances (optional; without it no step can send)
/// journeys/*.yaml    one journey per file (.yml too), read in file-name order
/// templates/*        message templates (Liquid): name = file name up to the first dot; NAME.liquid (or any
///                    other extension) is the main part, NAME.html.liquid the HTML part; compiled at load,
///                    errors at file:line:col (see JourneyTemplates.MessageTemplate)
/// templates/_*       partials for `{% render 'NAME' %}` / `{% include 'NAME' %}`: _NAME.liquid, and
///                    _NAME.html.liquid for HTML parts (see JourneyTemplates.TemplatePartials); compiled
///                    into each template that uses them, a missing or cyclic partial an error at the tag
/// tests/*.yaml       journey tests: one test per file, or `tests: [ … ]`
/// ```
/// Hidden files and names ending in `~` are ignored; other files in journeys/ and tests/ get a warning.
///
/// ## journeyd.yaml
/// ```yaml
/// timezone: Asia/Shanghai        # default user time zone (IANA name); default UTC
/// policy:
///   caps:                        # global caps per user, across journeys
///     - { channel: email, touches: 2, per: 1d, over: drop }  # channel optional (all channels); over: drop | defer (default drop)
///   quiet_hours: { from: "21:00", to: "08:00" }              # user's local time; from > to wraps midnight
/// dedup: { window: 7d, max_entries: 1000000 }                # defaults 7d and 10,000,000
/// state: …  inputs: …  control: …  delivery: …  logging: …  metrics: …  outbox: …   # kept for the daemon (Settings.daemon)
/// ```
///
/// ## channels.yaml
/// ```yaml
/// channels:
///   - name: email                # [a-z][a-z0-9_-]*, unique
///     type: log                  # an adapter type of the channel registry (JourneyChannels)
///     path: touches.jsonl        # every other key is an adapter option (ChannelDefinition.options)
/// ```
///
/// ## journeys/<id>.yaml
/// ```yaml
/// journey: cart_abandonment      # required; [a-z][a-z0-9_]*, unique; a warning if the file is named otherwise
/// description: …                 # optional text
/// transactional: false           # optional; true | false
/// trigger:                       # required; exactly one of event | page | screen | trait | date | segment
///   event: cart_add              # a track event name, or "*" for any track event
///   # page: /pricing             # a page event by name or properties.path; screen: a screen by name ("*": any)
///   where: event.properties.price >= 50          # optional; roots: event, user
///   # trait: tier                # an identify that changes trait `tier` …
///   #   to: gold                 #   … to this value (a scalar, typed as in tests: compiled as user.tier == "gold"), or
///   #   when: user.tier == "gold"  # … after which this holds (roots: user). Neither: any change.
///   # date: birthday             # a profile date trait (RFC 3339 or YYYY-MM-DD)
///   #   before: 7d | after: 30d  #   whole days (default: the day itself)
///   #   at: "10:00"              #   local time (default 09:00)
///   #   every: year              #   optional: every anniversary
///   # segment: user.orders >= 3  # the condition becomes true (roots: user)
/// entry:                         # optional
///   when: user.country in ["CN", "SG"]           # roots: user, plus event for event triggers
///   reentry: once                # once | always | {after: 7d}; default once
///   key: event.properties.cart_id                # optional; roots as `when`
/// exit_when:                     # optional; one {event, where} or a list of them
///   event: purchase              # "*" = any track event
///   where: …                     # roots: event, user, enrollment, journey
/// goal: { event: purchase, within: 7d, where: … }  # optional; within and where optional
/// limits:                        # optional
///   cap: { touches: 1, per: 24h, over: drop }      # over: drop | defer (default drop)
///   quiet_hours: { from: "21:00", to: "08:00" }
///   late: { after: 6h, then: skip }                # then: send | skip | exit (both keys required)
/// on_change: pin                 # pin | follow; default pin
/// steps:                         # required, non-empty; each step has exactly one action
///   - id: wait_purchase          # optional, [a-z][a-z0-9_]*, unique; otherwise step<N> (N 1-based); not exit/next
///     wait_for: { event: purchase, where: …, timeout: 1h }   # timeout required; where roots as exit_when
///     on_event: exit             # target; default next
///     on_timeout: next           # target; default next
///   - send: email                # a channel name from channels.yaml
///     template: cart_reminder    # required with send: a template name
///   - wait: 1h                   # a duration; or {for: 1h};
///                                #   or {until: "10:00", weekdays: [mon, tue, wed, thu, fri, sat, sun]} (weekdays optional);
///                                #   or {until_date: renewal_date, before: 3d | after: 1d, at: "09:00", if_missing: <target>}
///                                #   (at default 09:00; if_missing default next)
///   - branch:                    # {if, goto} arms in order, then optionally {else: <target>} (default next)
///       - if: user.tier == "gold"                  # roots: user, enrollment, journey
///         goto: gold_coupon
///       - else: exit
///   - split:                     # arms: {name?, percent, goto?, holdout?}
///       - { name: remind, percent: 90, goto: next }  # percent: 0–100, at most two decimals; all add up to exactly 100
///       - { percent: 10, holdout: true }             # names default variant_a, variant_b, …; goto default next;
///                                                    # a holdout receives nothing and takes no goto
///   - update: { set: {tier: gold}, increment: {orders: 1}, unset: [coupon], add_tags: [vip], remove_tags: [new] }
///   - enroll: other_journey      # a journey id of this rule set
///   - exit                       # or {exit: true}
/// ```
/// A target is a step id, `exit`, or `next` — the step's `next`. Any step but exit may have `next: <step
/// id | exit | next>` overriding the fall-through to the following step (the last step falls through to
/// exit); `next` in `on_event`, `on_timeout`, `else`, `goto` and `if_missing` means that same next step.
/// `template` only goes with send, `on_event`/`on_timeout` only with wait_for.
///
/// Checks over the steps: every step is reachable from the first; every loop passes a `wait` (a
/// duration or `until`) or a `wait_for` — a wait `until_date` does not count, as it passes at once when
/// the date is past. A holdout arm leads nowhere.
///
/// Durations: `500ms`, `90s`, `15m`, `1h30m`, `7d`, `2w` (positive; `1d` is 24 hours). Times of day:
/// `"09:30"` or `"9:30"`, 24-hour (quoting is optional: `10:00` is never read as YAML 1.1's sexagesimal
/// 600). Weekdays: `mon` … `sun`, lower-case. Time zones: IANA names (`UTC`, `Asia/Shanghai`; no
/// abbreviations such as `EST`). Expressions: see ``ExpressionCompiler``. `unset`, `add_tags` and
/// `remove_tags` take a list or a single name. The journey's ``Journey/version`` is the ``StableHash``
/// of the file's bytes (its `.hex`).
///
/// ## tests/*.yaml
/// ```yaml
/// name: cart reminder goes out after an hour     # required, unique in the rule set
/// journeys: [cart_abandonment]   # optional (a list, or one id); default all journeys
/// start: 2025-01-06T00:00:00Z    # optional; default the first event's time
/// users:                         # optional initial traits (typed as untyped values above: NO stays "NO")
///   u1: { country: CN, timezone: Asia/Shanghai }
/// events:                        # in time order
///   - { at: 2025-01-06T10:00:00Z, user: u1, track: cart_add, properties: { price: 80, cart_id: c1 } }
///   - { at: +30m, user: u1, identify: { tier: gold } }        # +span: after the previous event (or start)
///   - { at: +1h, user: u1, page: Home, properties: { … } }    # also screen: <name>, group: <id> (+ traits), alias: <previous id>
///   - { at: +2h, outage: 8h }    # simulated downtime: timers due inside fire late, at its end
///   # user (or anonymous_id) is required; message_id optional (default "<file>:<line>:<column>");
///   # properties only with track, page and screen; traits only with group
/// run_until: 2025-01-10T00:00:00Z  # optional; or +7d after the last event; default last event + 400d
/// expect:
///   touches:                     # each pattern matches a distinct touch; keys: at, user, journey, step, channel, template
///     - { at: 2025-01-06T11:00:00Z, user: u1, journey: cart_abandonment, step: remind, channel: email, template: cart_reminder }
///   exact: true                  # default true: no other touch may be produced
///   no_touches: [ { user: u2 } ] # patterns no touch may match
///   funnel: { cart_abandonment: { entered: 1, converted: 0, reached.remind: 1, exited.goal: 0 } }
///   traits: { u1: { tier: gold } }   # final traits (only those listed)
/// ```
/// References in tests are checked: journey ids, channels and templates in patterns, and step ids
/// (in the pattern's journey, else in the test's journeys, else in any journey).
public enum RuleLoader {
    /// The rule set, or every error (warnings do not fail a load).
    ///
    /// - Parameter channelTypes: the adapter types channels may name (the channel registry's list, which
    ///   the daemon's runtime builder passes); nil leaves the types unchecked.
    public static func load(directory: String, channelTypes: [String]? = nil) throws(RuleLoadError) -> RuleSet {
        let (rules, diagnostics) = loadReportingAll(directory: directory, channelTypes: channelTypes)
        guard let rules else { throw RuleLoadError(diagnostics: diagnostics) }
        return rules
    }

    /// The rule set when there are no errors (nil otherwise), and every diagnostic — errors and warnings —
    /// sorted by file, line and column.
    public static func loadReportingAll(directory: String, channelTypes: [String]? = nil) -> (RuleSet?, [Diagnostic]) {
        var loader = Loader(directory: directory, channelTypes: channelTypes)
        return loader.run()
    }
}

/// One load of one directory.
private struct Loader {
    let directory: String
    var diagnostics: [Diagnostic] = []
    let fm = FileManager.default

    let channelTypes: [String]?

    init(directory: String, channelTypes: [String]?) {
        self.directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.channelTypes = channelTypes
    }

    mutating func run() -> (RuleSet?, [Diagnostic]) {
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (nil, [Diagnostic(file: directory, line: 0, column: 0, keyPath: "", message: "no such rule directory")])
        }
        var readers: [YAMLReader] = []

        // journeyd.yaml and channels.yaml
        var settings = Settings()
        var capChannels: [(reader: YAMLReader, name: String, node: YAMLNode, path: String)] = []
        if let reader = read("journeyd.yaml", optional: true) {
            readers.append(reader)
            if let root = reader.root(allowEmpty: true) {
                let (parsed, refs) = SettingsParser.settings(root, reader: reader)
                settings = parsed
                capChannels = refs.map { (reader, $0.name, $0.node, $0.path) }
            }
        }
        var channels: [ChannelDefinition] = []
        var channelNames: Set<String> = []
        if let reader = read("channels.yaml", optional: true) {
            readers.append(reader)
            if let root = reader.root(allowEmpty: true) {
                (channels, channelNames) = SettingsParser.channels(root, reader: reader, types: channelTypes)
            }
        }
        for ref in capChannels where !channelNames.contains(ref.name) {
            ref.reader.error(
                at: ref.node, ref.path, "unknown channel \"\(ref.name)\"\(Suggestions.didYouMean(ref.name, in: channelNames))")
        }

        // templates/*: NAME.<anything> is the main part, NAME.html[.…] the HTML part; both compile here.
        let templates = loadTemplates()
        let templateNames = Set(templates.names)

        // journeys/*.yaml — files are independent, so they are composed and parsed in parallel (each
        // with its own reader); what depends on other files (duplicate ids, enroll targets) comes after.
        var journeys: [Journey] = []
        var known = KnownNames(channels: channelNames, templates: templateNames)
        var idFiles: [String: String] = [:]
        var enrollReferences: [(reader: YAMLReader, journey: String, node: YAMLNode, path: String)] = []
        var stageReferences: [(reader: YAMLReader, stage: String, node: YAMLNode, path: String)] = []
        let journeyFiles = files(in: "journeys", extensions: ["yaml", "yml"])
        let slots = Slots<ParsedJourney>(count: journeyFiles.count)
        let folder = directory
        let channelSet = channelNames
        DispatchQueue.concurrentPerform(iterations: journeyFiles.count) { i in
            slots.set(
                i, Self.parseJourney(directory: folder, name: journeyFiles[i], channels: channelSet, templates: templateNames))
        }
        for (name, result) in zip(journeyFiles, slots.values()) {
            let reader: YAMLReader
            switch result.reader {
            case .failed(let diagnostic):
                diagnostics.append(diagnostic)
                continue
            case .read(let r):
                reader = r
                readers.append(r)
            }
            guard let parser = result.parser else {
                // Unreadable: its id is probably the file name; references to it are not errors of their own.
                let stem = String(name.prefix { $0 != "." })
                if known.journeySteps[stem] == nil { known.journeySteps[stem] = [] }
                continue
            }
            enrollReferences += parser.enrollReferences.map { (reader, $0.journey, $0.node, $0.path) }
            stageReferences += parser.stageReferences.map { (reader, $0.stage, $0.node, $0.path) }
            guard let id = parser.declaredId else { continue }
            let relative = "journeys/\(name)"
            if let first = idFiles[id] {
                reader.error(at: parser.idNode, "journey", "duplicate journey id \"\(id)\" (also in \(first))")
                continue
            }
            idFiles[id] = relative
            known.journeySteps[id] = parser.stepIds
            let stem = String(name.prefix { $0 != "." })
            if stem != id {
                reader.warning(
                    at: parser.idNode, "journey",
                    "journey \"\(id)\" is in a file named \(name); name the file \(id).yaml to keep it findable")
            }
            if let journey = result.journey { journeys.append(journey) }
        }
        for ref in enrollReferences where known.journeySteps[ref.journey] == nil {
            ref.reader.error(
                at: ref.node, ref.path,
                "unknown journey \"\(ref.journey)\"\(Suggestions.didYouMean(ref.journey, in: known.journeySteps.keys))")
        }
        let stageNames = settings.stages.map(\.name)
        for ref in stageReferences where !stageNames.contains(ref.stage) {
            ref.reader.error(
                at: ref.node, ref.path,
                stageNames.isEmpty
                    ? "unknown stage \"\(ref.stage)\": journeyd.yaml declares no stages"
                    : "unknown stage \"\(ref.stage)\"\(Suggestions.didYouMean(ref.stage, in: stageNames))")
        }

        // tests/*.yaml
        var tests: [JourneyTest] = []
        var testNames: [String: String] = [:]
        for name in files(in: "tests", extensions: ["yaml", "yml"]) {
            guard let reader = read("tests/\(name)") else { continue }
            readers.append(reader)
            guard let root = reader.root() else { continue }
            tests += TestFileParser(reader: reader, known: known).parse(root, names: &testNames)
        }

        for reader in readers {
            reader.finish()
            diagnostics += reader.diagnostics
        }
        // A partial's problems are found once per template that uses it: report each once.
        diagnostics = Array(Set(diagnostics)).sorted()
        guard !diagnostics.contains(where: { $0.severity == .error }) else { return (nil, diagnostics) }
        let rules = RuleSet(
            settings: settings, channels: channels, templates: templates.compiled, journeys: journeys, tests: tests,
            directory: directory)
        return (rules, diagnostics)
    }

    /// Reads and compiles every template; a template that does not compile is still a known name (so
    /// the steps naming it get no second error), and its problems are diagnostics at `file:line:col`.
    mutating func loadTemplates() -> (names: [String], compiled: [String: Template]) {
        struct Parts {
            var main: (file: String, source: String)?
            var html: (file: String, source: String)?
        }
        var parts: [String: Parts] = [:]
        var order: [String] = []
        // `_NAME…` files are partials, compiled where a template renders or includes them.
        for name in files(in: "templates", extensions: nil) where !name.hasPrefix("_") {
            let relative = "templates/\(name)"
            let key = String(name.prefix { $0 != "." })
            let rest = name.dropFirst(key.count + 1)
            let isHTML = rest == "html" || rest.hasPrefix("html.")
            let existing = parts[key]
            if let other = isHTML ? existing?.html : existing?.main {
                fileError(
                    relative,
                    "template \"\(key)\" is defined twice (also \(other.file)); a template's name is its file name up to the first dot"
                )
                continue
            }
            guard let data = fm.contents(atPath: directory + "/" + relative) else {
                fileError(relative, "cannot read the file")
                continue
            }
            guard let source = String(validating: data, as: UTF8.self) else {
                fileError(relative, "the template is not valid UTF-8 text")
                continue
            }
            if existing == nil { order.append(key) }
            var entry = existing ?? Parts()
            if isHTML { entry.html = (relative, source) } else { entry.main = (relative, source) }
            parts[key] = entry
        }
        var compiled: [String: Template] = [:]
        let partials = TemplatePartials.directory(directory + "/templates", shownAs: "templates")
        for key in order {
            guard let entry = parts[key] else { continue }
            let text = entry.main.map { TemplateSource(file: $0.file, text: $0.source) }
            let html = entry.html.map { TemplateSource(file: $0.file, text: $0.source) }
            do {
                let message = try MessageTemplate(name: key, text: text, html: html, partials: partials)
                diagnostics += message.warnings.map(Self.diagnostic)
                let primary = entry.main ?? entry.html!
                compiled[key] = Template(
                    name: key, file: primary.file, source: primary.source,
                    htmlFile: entry.main == nil ? nil : entry.html?.file,
                    htmlSource: entry.main == nil ? nil : entry.html?.source, message: message)
            } catch {
                diagnostics += error.diagnostics.map(Self.diagnostic)
            }
        }
        return (order, compiled)
    }

    static func diagnostic(_ d: TemplateDiagnostic) -> Diagnostic {
        Diagnostic(
            file: d.file, line: d.line, column: d.column, keyPath: "", message: d.message,
            severity: d.severity == .error ? .error : .warning)
    }

    mutating func fileError(_ file: String, _ message: String) {
        diagnostics.append(Diagnostic(file: file, line: 0, column: 0, keyPath: "", message: message))
    }

    /// A reader for a file of the directory; nil (after recording why) when it cannot be read, and silently
    /// when an `optional` file does not exist.
    mutating func read(_ relative: String, optional: Bool = false) -> YAMLReader? {
        if optional && !fm.fileExists(atPath: directory + "/" + relative) { return nil }
        switch Self.reader(directory: directory, relative: relative) {
        case .read(let reader): return reader
        case .failed(let diagnostic):
            diagnostics.append(diagnostic)
            return nil
        }
    }

    enum FileRead {
        case read(YAMLReader)
        case failed(Diagnostic)
    }

    static func reader(directory: String, relative: String) -> FileRead {
        guard let data = FileManager.default.contents(atPath: directory + "/" + relative) else {
            return .failed(Diagnostic(file: relative, line: 0, column: 0, keyPath: "", message: "cannot read the file"))
        }
        guard var text = String(validating: data, as: UTF8.self) else {
            return .failed(
                Diagnostic(file: relative, line: 0, column: 0, keyPath: "", message: "the file is not valid UTF-8 text"))
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return .read(YAMLReader(file: relative, text: text))
    }

    /// One journey file, read and parsed on its own (safe to run concurrently with other files).
    struct ParsedJourney {
        var reader: FileRead
        /// Nil when the file did not compose (a YAML error, or empty).
        var parser: JourneyParser?
        var journey: Journey?
    }

    static func parseJourney(directory: String, name: String, channels: Set<String>, templates: Set<String>) -> ParsedJourney {
        let read = reader(directory: directory, relative: "journeys/\(name)")
        guard case .read(let reader) = read, let root = reader.root() else { return ParsedJourney(reader: read) }
        var version = StableHash()
        version.combine(bytes: reader.text.utf8)
        var parser = JourneyParser(reader: reader, channels: channels, templates: templates)
        let journey = parser.parse(root, version: version.hex)
        return ParsedJourney(reader: read, parser: parser, journey: journey)
    }

    /// Regular, non-hidden files of a folder in name order; with `extensions`, others get a warning.
    mutating func files(in folder: String, extensions: [String]?) -> [String] {
        let base = directory + "/" + folder
        guard let names = try? fm.contentsOfDirectory(atPath: base) else { return [] }
        var result: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") && !name.hasSuffix("~") {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: base + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if let extensions, !extensions.contains(where: { name.hasSuffix("." + $0) }) {
                diagnostics.append(
                    Diagnostic(
                        file: "\(folder)/\(name)", line: 0, column: 0, keyPath: "",
                        message: "ignored: files in \(folder)/ are read only when they end in .yaml or .yml", severity: .warning))
                continue
            }
            result.append(name)
        }
        return result
    }
}

/// Results written by concurrent workers, one slot each, read once they are all done.
///
/// Unchecked: every index is written by exactly one worker of a `concurrentPerform`, and read only after
/// it returns, which orders the writes before the reads.
private final class Slots<T>: @unchecked Sendable {
    let count: Int
    private let base: UnsafeMutablePointer<T?>

    init(count: Int) {
        self.count = count
        base = UnsafeMutablePointer<T?>.allocate(capacity: max(count, 1))
        base.initialize(repeating: nil, count: max(count, 1))
    }

    func set(_ i: Int, _ value: T) { base[i] = value }

    /// Every slot's value, in order (all are set once the workers are done).
    func values() -> [T] { (0..<count).compactMap { base[$0] } }

    deinit {
        base.deinitialize(count: max(count, 1))
        base.deallocate()
    }
}

extension RuleLoader {
    /// Compiles one journey from its text, outside a rule directory: how a durable store brings back an
    /// older version (kept by its content hash) for users pinned to it after a restart. References are
    /// checked against the channel and template names given.
    public static func compileJourney(
        source: String, file: String, channels: Set<String>, templates: Set<String>
    ) -> (Journey?, [Diagnostic]) {
        let reader = YAMLReader(file: file, text: source)
        guard let root = reader.root() else { return (nil, reader.diagnostics) }
        var version = StableHash()
        version.combine(bytes: source.utf8)
        var parser = JourneyParser(reader: reader, channels: channels, templates: templates)
        let journey = parser.parse(root, version: version.hex)
        reader.finish()
        return (journey, reader.diagnostics)
    }
}

extension RuleLoader {
    /// Only the settings of `directory/journeyd.yaml` (defaults when it is missing or has errors): what
    /// `journeyd reload` needs to find the daemon even when a journey file is broken.
    public static func loadSettings(directory: String) -> Settings {
        guard case .read(let reader) = Loader.reader(directory: directory, relative: "journeyd.yaml"), let root = reader.root()
        else { return Settings() }
        return SettingsParser.settings(root, reader: reader).0
    }
}
