import JourneyCore
import Yams

/// Reads one journey file into a ``Journey``, recording every problem in the reader.
///
/// The syntax, key by key, is documented in `rules/README.md`.
struct JourneyParser {
    let reader: YAMLReader
    let channels: Set<String>
    let templates: Set<String>
    /// `enroll:` references, checked once every journey is known.
    var enrollReferences: [(journey: String, node: YAMLNode, path: String)] = []

    init(reader: YAMLReader, channels: Set<String>, templates: Set<String>) {
        self.reader = reader
        self.channels = channels
        self.templates = templates
    }

    static let topKeys = [
        "journey", "description", "transactional", "trigger", "entry", "exit_when", "goal", "limits", "on_change", "steps",
    ]

    mutating func parse(_ root: YAMLNode, version: String) -> (Journey?, idNode: YAMLNode?) {
        guard let top = reader.mapping(root, "", allowed: Self.topKeys) else { return (nil, nil) }
        var ok = true
        func need(_ key: String) -> YAMLNode? {
            if let node = top[key] { return node }
            reader.error(at: root, key, "missing required key \"\(key)\"")
            ok = false
            return nil
        }
        let idNode = need("journey")
        let id = idNode.flatMap { reader.identifier($0, "journey", what: "journey id") }
        let description = top["description"].flatMap { reader.string($0, "description") } ?? ""
        let transactional = top["transactional"].flatMap { reader.bool($0, "transactional") } ?? false

        var trigger: Trigger?
        if let node = need("trigger") { trigger = parseTrigger(node) }
        let isEventTrigger = if case .event? = trigger { true } else { false }
        let entry = top["entry"].map { parseEntry($0, eventTrigger: isEventTrigger) } ?? Entry()
        let eventRoots: Set<PathRoot> = [.event, .user, .enrollment, .journey]
        var exitWhen: [EventMatch] = []
        if let node = top["exit_when"] {
            for (i, item) in reader.oneOrMany(node).enumerated() {
                let path = node.sequence != nil ? "exit_when[\(i)]" : "exit_when"
                if let match = parseEventMatch(item, path, roots: eventRoots, extraKeys: []).match { exitWhen.append(match) }
            }
        }
        var goal: Goal?
        if let node = top["goal"] {
            let (match, entries) = parseEventMatch(node, "goal", roots: eventRoots, extraKeys: ["within"])
            let within = entries?["within"].flatMap { reader.duration($0, "goal.within") }
            if let match { goal = Goal(match: match, within: within) }
        }
        let limits = top["limits"].map(parseLimits) ?? Limits()
        let onChange =
            top["on_change"].flatMap {
                reader.oneOf($0, "on_change", [("pin", OnChange.pin), ("follow", OnChange.follow)])
            } ?? .pin
        var steps: [Step] = []
        if let node = need("steps") { steps = parseSteps(node, journey: id ?? "?") }

        guard ok, let id, let trigger, !steps.isEmpty else { return (nil, idNode) }
        let journey = Journey(
            id: id, description: description, version: version, file: reader.file, transactional: transactional,
            trigger: trigger, entry: entry, exitWhen: exitWhen, goal: goal, limits: limits, onChange: onChange,
            steps: steps)
        return (journey, idNode)
    }

    // MARK: - Expressions

    func expression(_ node: YAMLNode, _ path: String, roots: Set<PathRoot>) -> Expression? {
        guard let text = reader.string(node, path) else { return nil }
        return compile(text, node: node, path: path, roots: roots)
    }

    func compile(_ text: String, node: YAMLNode, path: String, roots: Set<PathRoot>) -> Expression? {
        switch ExpressionCompiler.compile(text, allowedRoots: roots) {
        case .success(let expression):
            return expression
        case .failure(let error):
            let (line, column) = reader.column(of: error.column, in: node)
            reader.record(line: line, column: column, path, error.message)
            return nil
        }
    }

    // MARK: - Trigger, entry, matches, limits

    func parseTrigger(_ node: YAMLNode) -> Trigger? {
        let keys = ["event", "where", "trait", "to", "when", "date", "before", "after", "at", "every", "segment"]
        guard let m = reader.mapping(node, "trigger", allowed: keys) else { return nil }
        let kinds = ["event", "trait", "date", "segment"].filter { m.has($0) }
        guard kinds.count == 1 else {
            reader.error(
                at: node, "trigger",
                kinds.isEmpty
                    ? "needs one of event, trait, date or segment"
                    : "has \(kinds.joined(separator: " and ")): a trigger is exactly one of event, trait, date or segment")
            return nil
        }
        let allowedWith: [String: Set<String>] = [
            "event": ["event", "where"], "trait": ["trait", "to", "when"], "date": ["date", "before", "after", "at", "every"],
            "segment": ["segment"],
        ]
        for item in m.items where !allowedWith[kinds[0]]!.contains(item.key) {
            reader.error(at: item.keyNode, "trigger.\(item.key)", "\"\(item.key)\" does not apply to a \(kinds[0]) trigger")
        }
        switch kinds[0] {
        case "event":
            guard let name = eventName(m["event"]!, "trigger.event") else { return nil }
            let condition = m["where"].flatMap { expression($0, "trigger.where", roots: [.event, .user]) }
            if m["where"] != nil && condition == nil { return nil }
            return .event(EventMatch(event: name, condition: condition))
        case "trait":
            guard let trait = reader.string(m["trait"]!, "trigger.trait") else { return nil }
            var parts: [String] = []
            if let to = m["to"] {
                parts.append("user[\(Self.literal(.string(trait)))] == \(Self.literal(reader.value(to)))")
            }
            if let when = m["when"], let text = reader.string(when, "trigger.when") {
                guard compile(text, node: when, path: "trigger.when", roots: [.user]) != nil else { return nil }
                parts.append("(\(text))")
            }
            guard !parts.isEmpty else { return .traitChange(trait: trait, condition: nil) }
            let condition = compile(parts.joined(separator: " and "), node: m["to"] ?? m["when"]!, path: "trigger", roots: [.user])
            return condition.map { .traitChange(trait: trait, condition: $0) }
        case "date":
            guard let trait = reader.string(m["date"]!, "trigger.date") else { return nil }
            if m.has("before") && m.has("after") {
                reader.error(at: node, "trigger", "has both before and after: use one")
                return nil
            }
            var offset = 0
            if let before = m["before"] { offset = -(reader.days(before, "trigger.before") ?? 0) }
            if let after = m["after"] { offset = reader.days(after, "trigger.after") ?? 0 }
            let at = m["at"].flatMap { reader.timeOfDay($0, "trigger.at") } ?? TimeOfDay(hour: 9, minute: 0)
            let yearly = m["every"].flatMap { reader.oneOf($0, "trigger.every", [("year", true)]) } ?? false
            return .date(DateTrigger(trait: trait, offsetDays: offset, at: at, yearly: yearly))
        default:
            return expression(m["segment"]!, "trigger.segment", roots: [.user]).map { .segment($0) }
        }
    }

    /// An expression literal for a YAML value (the `to:` of trait triggers).
    static func literal(_ value: Value) -> String {
        switch value {
        case .string(let s):
            var out = "\""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(ch)
                }
            }
            return out + "\""
        case .array(let items): return "[" + items.map(literal).joined(separator: ", ") + "]"
        case .object: return "null"
        default: return value.jsonText
        }
    }

    func eventName(_ node: YAMLNode, _ path: String) -> String? {
        guard let name = reader.string(node, path) else { return nil }
        guard !name.isEmpty, !name.contains("\n") else {
            reader.error(at: node, path, "expected an event name")
            return nil
        }
        return name
    }

    func parseEntry(_ node: YAMLNode, eventTrigger: Bool) -> Entry {
        guard let m = reader.mapping(node, "entry", allowed: ["when", "reentry", "key"]) else { return Entry() }
        let roots: Set<PathRoot> = eventTrigger ? [.user, .event] : [.user]
        let condition = m["when"].flatMap { expression($0, "entry.when", roots: roots) }
        let key = m["key"].flatMap { expression($0, "entry.key", roots: roots) }
        var reentry = Entry.Reentry.once
        if let r = m["reentry"] {
            if case .mapping = r {
                if let rm = reader.mapping(r, "entry.reentry", allowed: ["after"]) {
                    if let after = rm["after"] {
                        reentry = reader.duration(after, "entry.reentry.after").map { .after($0) } ?? .once
                    } else {
                        reader.error(at: r, "entry.reentry", "expected once, always or {after: 7d}")
                    }
                }
            } else {
                reentry =
                    reader.oneOf(r, "entry.reentry", [("once", Entry.Reentry.once), ("always", .always)]) ?? .once
            }
        }
        return Entry(condition: condition, reentry: reentry, key: key)
    }

    func parseEventMatch(_ node: YAMLNode, _ path: String, roots: Set<PathRoot>, extraKeys: [String]) -> (match: EventMatch?, Entries?) {
        guard let m = reader.mapping(node, path, allowed: ["event", "where"] + extraKeys) else { return (nil, nil) }
        guard let eventNode = m["event"] else {
            reader.error(at: node, path, "missing required key \"event\"")
            return (nil, m)
        }
        guard let name = eventName(eventNode, "\(path).event") else { return (nil, m) }
        var condition: Expression?
        if let w = m["where"] {
            condition = expression(w, "\(path).where", roots: roots)
            if condition == nil { return (nil, m) }
        }
        return (EventMatch(event: name, condition: condition), m)
    }

    func parseLimits(_ node: YAMLNode) -> Limits {
        guard let m = reader.mapping(node, "limits", allowed: ["cap", "quiet_hours", "late"]) else { return Limits() }
        var limits = Limits()
        if let capNode = m["cap"] { limits.cap = Self.parseCap(capNode, "limits.cap", reader: reader, channel: false) }
        if let q = m["quiet_hours"] { limits.quietHours = Self.parseQuietHours(q, "limits.quiet_hours", reader: reader) }
        if let l = m["late"], let lm = reader.mapping(l, "limits.late", allowed: ["after", "then"]) {
            let after = lm["after"].flatMap { reader.duration($0, "limits.late.after") }
            let then = lm["then"].flatMap {
                reader.oneOf($0, "limits.late.then", [("send", LatePolicy.Then.send), ("skip", .skip), ("exit", .exit)])
            }
            if lm["after"] == nil { reader.error(at: l, "limits.late", "missing required key \"after\"") }
            if lm["then"] == nil { reader.error(at: l, "limits.late", "missing required key \"then\"") }
            if let after, let then { limits.late = LatePolicy(after: after, then: then) }
        }
        return limits
    }

    static func parseCap(_ node: YAMLNode, _ path: String, reader: YAMLReader, channel: Bool) -> Cap? {
        let keys = ["touches", "per", "over"] + (channel ? ["channel"] : [])
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        for key in ["touches", "per"] where !m.has(key) { reader.error(at: node, path, "missing required key \"\(key)\"") }
        let touches = m["touches"].flatMap { reader.integer($0, "\(path).touches", in: 1...1_000_000) }
        let per = m["per"].flatMap { reader.duration($0, "\(path).per") }
        let over = m["over"].flatMap { reader.oneOf($0, "\(path).over", [("drop", Cap.Over.drop), ("defer", .defer)]) } ?? .drop
        let channelName = m["channel"].flatMap { reader.string($0, "\(path).channel") }
        guard let touches, let per else { return nil }
        return Cap(touches: touches, per: per, over: over, channel: channelName)
    }

    static func parseQuietHours(_ node: YAMLNode, _ path: String, reader: YAMLReader) -> QuietHours? {
        guard let m = reader.mapping(node, path, allowed: ["from", "to"]) else { return nil }
        for key in ["from", "to"] where !m.has(key) { reader.error(at: node, path, "missing required key \"\(key)\"") }
        guard let from = m["from"].flatMap({ reader.timeOfDay($0, "\(path).from") }),
            let to = m["to"].flatMap({ reader.timeOfDay($0, "\(path).to") })
        else { return nil }
        if from == to {
            reader.error(at: node, path, "from and to are both \(from): the window would be empty")
            return nil
        }
        return QuietHours(from: from, to: to)
    }
}
