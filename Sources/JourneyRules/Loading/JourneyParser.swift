import JourneyCore
import Yams

/// Reads one journey file into a ``Journey``, recording every problem in the reader and going on.
///
/// The parser always reads the whole file. It returns a journey only when the file produced no error,
/// but it reports what it learnt either way (the journey id and step ids), so that references to a
/// broken journey from tests and `enroll` steps do not add errors of their own.
struct JourneyParser {
    let reader: YAMLReader
    /// Every channel name declared in channels.yaml (also those with errors).
    let channels: Set<String>
    let templates: Set<String>
    /// `enroll:` references, checked once every journey is known.
    var enrollReferences: [(journey: String, node: YAMLNode, path: String)] = []
    /// Stage names a `stage` trigger refers to, checked against journeyd.yaml's `stages`.
    var stageReferences: [(stage: String, node: YAMLNode, path: String)] = []
    /// The `journey:` id when it could be read, even if the journey has errors.
    var declaredId: String?
    var idNode: YAMLNode?
    /// The step ids (explicit or generated), even if the journey has errors.
    var stepIds: [String] = []

    init(reader: YAMLReader, channels: Set<String>, templates: Set<String>) {
        self.reader = reader
        self.channels = channels
        self.templates = templates
    }

    static let topKeys = [
        "journey", "description", "transactional", "trigger", "entry", "exit_when", "goal", "limits", "on_change", "steps",
    ]

    /// Roots of conditions evaluated on an event while the user is enrolled (`exit_when`, `goal`, `wait_for`).
    static let enrolledEventRoots: Set<PathRoot> = [.event, .user, .enrollment, .journey]

    mutating func parse(_ root: YAMLNode, version: String) -> Journey? {
        let errorsBefore = reader.errorCount
        guard
            let top = reader.mapping(
                root, "", allowed: Self.topKeys, what: "a journey (a mapping with journey, trigger and steps)")
        else { return nil }
        idNode = reader.required(top, "journey", "")
        declaredId = idNode.flatMap { reader.identifier($0, "journey", what: "journey id") }
        let description = top["description"].flatMap { reader.string($0, "description") } ?? ""
        let transactional = top["transactional"].flatMap { reader.bool($0, "transactional") } ?? false

        var trigger: Trigger?
        if let node = reader.required(top, "trigger", "") { trigger = parseTrigger(node) }
        let isEventTrigger: Bool
        if case .event? = trigger {
            isEventTrigger = true
        } else if trigger == nil, let node = top["trigger"], case .mapping(let m) = node,
            m.contains(where: { $0.key.string == "event" })
        {
            isEventTrigger = true  // a broken event trigger: still read `entry` as for events
        } else {
            isEventTrigger = false
        }
        let entry = top["entry"].map { parseEntry($0, eventTrigger: isEventTrigger) } ?? Entry()
        var exitWhen: [EventMatch] = []
        if let node = top["exit_when"] {
            if case .sequence(let items) = node {
                if items.isEmpty { reader.error(at: node, "exit_when", "expected at least one {event, where}") }
                for (i, item) in items.enumerated() {
                    // Bound whole, not projected with `.match`: Swift 6.3 leaked the tuple's other element
                    // when a call's result was projected inside `if let` (found by the rule loader's fuzz target).
                    let (match, _) = parseEventMatch(item, "exit_when[\(i)]", roots: Self.enrolledEventRoots)
                    if let match { exitWhen.append(match) }
                }
            } else {
                let (match, _) = parseEventMatch(node, "exit_when", roots: Self.enrolledEventRoots)
                if let match { exitWhen.append(match) }
            }
        }
        var goal: Goal?
        if let node = top["goal"] {
            let (match, entries) = parseEventMatch(node, "goal", roots: Self.enrolledEventRoots, extraKeys: ["within"])
            let within = entries?["within"].flatMap { reader.duration($0, "goal.within") }
            if let match { goal = Goal(match: match, within: within) }
        }
        let limits = top["limits"].map(parseLimits) ?? Limits()
        let onChange =
            top["on_change"].flatMap { reader.choice($0, "on_change", ["pin": OnChange.pin, "follow": .follow]) } ?? .pin
        var steps: [Step] = []
        if let node = reader.required(top, "steps", "") { steps = parseSteps(node) }

        guard reader.errorCount == errorsBefore, let id = declaredId, let trigger, !steps.isEmpty else { return nil }
        return Journey(
            id: id, description: description, version: version, file: reader.file, transactional: transactional,
            trigger: trigger, entry: entry, exitWhen: exitWhen, goal: goal, limits: limits, onChange: onChange,
            steps: steps, source: reader.text)
    }

    // MARK: - Expressions

    /// Stands in for an expression that did not compile, so that the rest of the journey (its step graph)
    /// can still be checked. Never part of a returned journey: the compile error fails the file.
    static let placeholder: Expression = {
        guard case .success(let e) = ExpressionCompiler.compile("true", allowedRoots: []) else {
            fatalError("the expression `true` must compile")
        }
        return e
    }()

    /// Compiles the text of `node`; nil after recording the error at its position in the file.
    func expression(_ node: YAMLNode, _ path: String, roots: Set<PathRoot>, reasons: [PathRoot: String] = [:]) -> Expression? {
        guard let text = reader.string(node, path, expected: "a condition") else { return nil }
        return compile(text, node: node, path: path, roots: roots, reasons: reasons)
    }

    func compile(
        _ text: String, node: YAMLNode, path: String, roots: Set<PathRoot>, reasons: [PathRoot: String] = [:],
        positioned: Bool = true
    ) -> Expression? {
        switch ExpressionCompiler.compile(text, allowedRoots: roots, unavailableReasons: reasons) {
        case .success(let expression):
            return expression
        case .failure(let error):
            if positioned {
                let (line, column) = reader.position(ofUTF8Offset: error.column, in: node)
                reader.record(line: line, column: column, path, error.message)
            } else {
                reader.error(at: node, path, "\(error.message) (in `\(YAMLReader.shown(text))`)")
            }
            return nil
        }
    }

    // MARK: - Trigger

    static let triggerKinds = ["event", "page", "screen", "trait", "date", "segment", "stage"]
    static let triggerKeys: [String: [String]] = [
        "event": ["event", "where"], "page": ["page", "where"], "screen": ["screen", "where"], "trait": ["trait", "to", "when"], "date": ["date", "before", "after", "at", "every"],
        "segment": ["segment"], "stage": ["stage"],
    ]

    mutating func parseTrigger(_ node: YAMLNode) -> Trigger? {
        let allKeys = ["event", "page", "screen", "where", "trait", "to", "when", "date", "before", "after", "at", "every", "segment", "stage"]
        guard
            let m = reader.mapping(
                node, "trigger", allowed: allKeys,
                what: "a mapping with one of event, trait, date or segment, like {event: signup}")
        else { return nil }
        let kinds = Self.triggerKinds.filter { m.has($0) }
        guard kinds.count == 1 else {
            if kinds.isEmpty {
                if m.unknown.isEmpty {
                    reader.error(at: node, "trigger", "expected exactly one of event, page, screen, trait, date, segment or stage, found none")
                }
            } else {
                reader.error(
                    at: m.keyNode(kinds[1]), "trigger",
                    "expected exactly one of event, page, screen, trait, date, segment or stage, found \(Suggestions.list(kinds, conjunction: "and"))")
            }
            return nil
        }
        let kind = kinds[0]
        for item in m.items where !Self.triggerKeys[kind]!.contains(item.key) {
            reader.error(
                at: item.keyNode, "trigger.\(item.key)",
                "\"\(item.key)\" does not apply to a\(kind == "event" ? "n" : "") \(kind) trigger")
        }
        switch kind {
        case "event", "page", "screen":
            let name = eventName(m[kind]!, "trigger.\(kind)")
            let condition = m["where"].map { expression($0, "trigger.where", roots: [.event, .user]) }
            if case .some(.none) = condition { return nil }
            guard let name else { return nil }
            return .event(EventMatch(event: name, condition: condition ?? nil, kind: EventMatch.Kind(rawValue: kind) ?? .track))
        case "trait":
            guard let trait = reader.string(m["trait"]!, "trigger.trait", expected: "a trait name") else { return nil }
            if m.has("to") && m.has("when") {
                reader.error(
                    at: m.keyNode("when"), "trigger", "a trait trigger takes either to (a value) or when (a condition), not both")
                return nil
            }
            if let to = m["to"] {
                guard case .scalar = to else {
                    reader.error(at: to, "trigger.to", "expected a value such as gold, 3 or true, found \(reader.found(to))")
                    return nil
                }
                let text = "\(Self.userPath(trait)) == \(Self.literal(reader.value(to, "trigger.to")))"
                return compile(text, node: to, path: "trigger.to", roots: [.user], positioned: false)
                    .map { .traitChange(trait: trait, condition: $0) }
            }
            if let when = m["when"] {
                return expression(when, "trigger.when", roots: [.user], reasons: Self.profileReasons)
                    .map { .traitChange(trait: trait, condition: $0) }
            }
            return .traitChange(trait: trait, condition: nil)
        case "date":
            let trait = reader.string(m["date"]!, "trigger.date", expected: "a trait name")
            var offset = 0
            if m.has("before") && m.has("after") {
                reader.error(at: m.keyNode("after"), "trigger", "a date trigger takes either before or after, not both")
            } else if let before = m["before"] {
                offset = -(reader.wholeDays(before, "trigger.before") ?? 0)
            } else if let after = m["after"] {
                offset = reader.wholeDays(after, "trigger.after") ?? 0
            }
            let at = m["at"].map { reader.timeOfDay($0, "trigger.at") } ?? TimeOfDay(hour: 9, minute: 0)
            let yearly = m["every"].map { reader.choice($0, "trigger.every", ["year": true]) } ?? false
            guard let trait, let at, let yearly else { return nil }
            return .date(DateTrigger(trait: trait, offsetDays: offset, at: at, yearly: yearly))
        case "stage":
            return parseStageTrigger(m["stage"]!)
        default:
            return expression(m["segment"]!, "trigger.segment", roots: [.user], reasons: Self.profileReasons).map { .segment($0) }
        }
    }

    static let profileReasons: [PathRoot: String] = [
        .event: "this condition is about the profile, evaluated after each change to it",
        .enrollment: "this condition is evaluated before the user is enrolled",
        .journey: "this condition is evaluated before the user is enrolled",
    ]

    /// `user.tier`, or `user["odd key"]` for trait names that are not simple names.
    static func userPath(_ trait: String) -> String {
        let simple =
            trait.utf8.first.map { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || $0 == 95 } == true
            && trait.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
        return simple ? "user.\(trait)" : "user[\(literal(.string(trait)))]"
    }

    /// An expression literal for a value.
    static func literal(_ value: Value) -> String {
        switch value {
        case .string(let s):
            return ExpressionPrinter.string(s)
        case .array(let items): return "[" + items.map(literal).joined(separator: ", ") + "]"
        case .object: return "null"
        default: return value.jsonText
        }
    }

    func eventName(_ node: YAMLNode, _ path: String) -> String? {
        guard let name = reader.string(node, path, expected: "an event name") else { return nil }
        guard !name.isEmpty, !name.contains("\n") else {
            reader.error(at: node, path, "expected an event name, found `\(YAMLReader.shown(name))`")
            return nil
        }
        return name
    }

    // MARK: - Entry, matches, limits

    func parseEntry(_ node: YAMLNode, eventTrigger: Bool) -> Entry {
        guard
            let m = reader.mapping(
                node, "entry", allowed: ["when", "reentry", "key"], what: "a mapping with when, reentry or key")
        else { return Entry() }
        let roots: Set<PathRoot> = eventTrigger ? [.user, .event] : [.user]
        var reasons: [PathRoot: String] = [:]
        if !eventTrigger { reasons[.event] = "only journeys with an event trigger have a trigger event" }
        let condition = m["when"].flatMap { expression($0, "entry.when", roots: roots, reasons: reasons) }
        let key = m["key"].flatMap { expression($0, "entry.key", roots: roots, reasons: reasons) }
        var reentry = Entry.Reentry.once
        if let r = m["reentry"] {
            if case .mapping = r {
                if let rm = reader.mapping(r, "entry.reentry", allowed: ["after"]),
                    let after = reader.required(rm, "after", "entry.reentry"),
                    let span = reader.duration(after, "entry.reentry.after")
                {
                    reentry = .after(span)
                }
            } else {
                let expected = "once, always or {after: 7d}"
                if let s = reader.scalar(r, "entry.reentry", expected: expected) {
                    switch s {
                    case "once": reentry = .once
                    case "always": reentry = .always
                    default: reader.error(at: r, "entry.reentry", "expected \(expected), found `\(YAMLReader.shown(s))`")
                    }
                }
            }
        }
        return Entry(condition: condition, reentry: reentry, key: key)
    }

    /// `{event, where}` plus `extraKeys`; the entries are returned for the caller's extra keys.
    func parseEventMatch(_ node: YAMLNode, _ path: String, roots: Set<PathRoot>, extraKeys: [String] = [])
        -> (match: EventMatch?, entries: Entries?)
    {
        guard
            let m = reader.mapping(node, path, allowed: ["event", "where"] + extraKeys, what: "a mapping like {event: purchase}")
        else { return (nil, nil) }
        let name = reader.required(m, "event", path).flatMap { eventName($0, "\(path).event") }
        var condition: Expression?
        if let whereNode = m["where"] {
            guard let compiled = expression(whereNode, "\(path).where", roots: roots) else { return (nil, m) }
            condition = compiled
        }
        guard let name else { return (nil, m) }
        return (EventMatch(event: name, condition: condition), m)
    }

    func parseLimits(_ node: YAMLNode) -> Limits {
        guard
            let m = reader.mapping(
                node, "limits", allowed: ["cap", "quiet_hours", "late"], what: "a mapping with cap, quiet_hours or late")
        else { return Limits() }
        var limits = Limits()
        if let capNode = m["cap"] { limits.cap = Self.parseCap(capNode, "limits.cap", reader: reader, channel: false) }
        if let q = m["quiet_hours"] { limits.quietHours = Self.parseQuietHours(q, "limits.quiet_hours", reader: reader) }
        if let l = m["late"],
            let lm = reader.mapping(l, "limits.late", allowed: ["after", "then"], what: "a policy like {after: 6h, then: skip}")
        {
            let after = reader.required(lm, "after", "limits.late").flatMap { reader.duration($0, "limits.late.after") }
            let then = reader.required(lm, "then", "limits.late").flatMap {
                reader.choice($0, "limits.late.then", ["send": LatePolicy.Then.send, "skip": .skip, "exit": .exit])
            }
            if let after, let then { limits.late = LatePolicy(after: after, then: then) }
        }
        return limits
    }

    /// `{touches, per, over}` (plus `channel` for global caps).
    static func parseCap(_ node: YAMLNode, _ path: String, reader: YAMLReader, channel: Bool) -> Cap? {
        let keys = (channel ? ["channel"] : []) + ["touches", "per", "over", "window"]
        guard let m = reader.mapping(node, path, allowed: keys, what: "a cap like {touches: 1, per: 1d}") else { return nil }
        let touches = reader.required(m, "touches", path).flatMap { reader.integer($0, "\(path).touches", in: 1...1_000_000) }
        let per = reader.required(m, "per", path).flatMap { reader.duration($0, "\(path).per") }
        let over = m["over"].map { reader.choice($0, "\(path).over", ["drop": Cap.Over.drop, "defer": .defer]) } ?? .drop
        var channelName: String?
        if let c = m["channel"] {
            guard let name = reader.string(c, "\(path).channel", expected: "a channel name") else { return nil }
            channelName = name
        }
        let window = m["window"].map { reader.choice($0, "\(path).window", ["rolling": Cap.Window.rolling, "calendar": .calendar]) } ?? .rolling
        if window == .calendar, let per, per.milliseconds % 86_400_000 != 0, let node = m["per"] {
            reader.error(at: node, "\(path).per", "a calendar cap counts whole days: use 1d, 7d…, not \(per)")
            return nil
        }
        guard let touches, let per, let over, let window else { return nil }
        return Cap(touches: touches, per: per, over: over, channel: channelName, window: window)
    }

    static func parseQuietHours(_ node: YAMLNode, _ path: String, reader: YAMLReader) -> QuietHours? {
        guard let m = reader.mapping(node, path, allowed: ["from", "to"], what: "a window like {from: \"21:00\", to: \"08:00\"}")
        else { return nil }
        let from = reader.required(m, "from", path).flatMap { reader.timeOfDay($0, "\(path).from") }
        let to = reader.required(m, "to", path).flatMap { reader.timeOfDay($0, "\(path).to") }
        guard let from, let to else { return nil }
        if from == to {
            reader.error(at: node, path, "from and to are both \(from): the window would be empty")
            return nil
        }
        return QuietHours(from: from, to: to)
    }
}
