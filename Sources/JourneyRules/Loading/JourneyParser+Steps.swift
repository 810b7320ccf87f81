import JourneyCore
import Yams

extension JourneyParser {
    static let actions = ["send", "wait", "wait_for", "branch", "split", "update", "enroll", "exit"]
    static let stepKeys = ["id"] + actions + ["template", "on_event", "on_timeout", "next"]
    static let weekdays: KeyValuePairs<String, Int> = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]
    static let branchReasons: [PathRoot: String] = [
        .event:
            "a branch runs when its step is reached, not on an event (enrollment.trigger holds the event that started the journey)"
    ]

    /// What step parsing learns besides the steps.
    struct StepsContext {
        var ids: [String]
        /// A target could not be resolved (it was replaced by `exit`): reachability is not checked.
        var unresolvedTarget = false
    }

    mutating func parseSteps(_ node: YAMLNode) -> [Step] {
        guard let items = reader.sequence(node, "steps", what: "a list of steps") else { return [] }
        guard !items.isEmpty else {
            reader.error(at: node, "steps", "a journey needs at least one step")
            return []
        }
        // First pass: ids, so that targets can point forward.
        var ids = items.indices.map { "step\($0 + 1)" }
        var explicit = Array(repeating: false, count: items.count)
        var idNodes: [YAMLNode?] = Array(repeating: nil, count: items.count)
        var firstLine: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            guard case .mapping(let mapping) = item,
                let idNode = mapping.first(where: { $0.key.string == "id" && !reader.isRenamedDuplicate($0.key.string ?? "") })?
                    .value,
                let id = reader.identifier(idNode, "steps[\(i)].id", what: "step id")
            else { continue }
            if id == "exit" || id == "next" {
                reader.error(at: idNode, "steps[\(i)].id", "\"\(id)\" cannot be a step id: it is a target keyword")
            } else if let line = firstLine[id] {
                reader.error(at: idNode, "steps[\(i)].id", "duplicate step id \"\(id)\" (first at line \(line))")
            } else {
                firstLine[id] = idNode.mark?.line ?? 0
                ids[i] = id
                explicit[i] = true
                idNodes[i] = idNode
            }
        }
        for i in items.indices where !explicit[i] {
            if let j = ids.indices.first(where: { $0 != i && explicit[$0] && ids[$0] == ids[i] }) {
                reader.error(
                    at: idNodes[j], "steps[\(j)].id",
                    "\"\(ids[j])\" is also the generated id of steps[\(i)], which has no id: give that step an id or choose another"
                )
            }
        }
        stepIds = ids

        var context = StepsContext(ids: ids)
        var steps: [Step] = []
        var complete = true
        for (i, item) in items.enumerated() {
            if let step = parseStep(item, index: i, hasExplicitId: explicit[i], context: &context) {
                steps.append(step)
            } else {
                complete = false
            }
        }
        guard complete else { return [] }
        checkGraph(steps, items: items, checkReachability: !context.unresolvedTarget)
        return steps
    }

    /// A target: `exit`, `next` (which is `next`), or a step id. Unknown ids are recorded and become `exit`.
    func target(_ node: YAMLNode, _ path: String, next: Target, context: inout StepsContext) -> Target {
        guard let name = reader.string(node, path, expected: "a step id, next or exit") else {
            context.unresolvedTarget = true
            return .exit
        }
        switch name {
        case "exit": return .exit
        case "next": return next
        default:
            if let i = context.ids.firstIndex(of: name) { return .step(i) }
            reader.error(
                at: node, path,
                "unknown step \"\(name)\"\(Suggestions.didYouMean(name, in: context.ids)) (a target is a step id, next or exit)")
            context.unresolvedTarget = true
            return .exit
        }
    }

    /// One step; nil when it has no single action (its kind is unknown).
    mutating func parseStep(_ node: YAMLNode, index i: Int, hasExplicitId: Bool, context: inout StepsContext) -> Step? {
        let path = "steps[\(i)]"
        let line = node.mark?.line ?? 0
        let id = context.ids[i]
        let fallThrough: Target = i + 1 < context.ids.count ? .step(i + 1) : .exit
        if case .scalar(let scalar) = node, scalar.string == "exit" {
            return Step(id: id, hasExplicitId: false, kind: .exit, next: .exit, line: line)
        }
        guard
            let m = reader.mapping(
                node, path, allowed: Self.stepKeys,
                what: "a step (a mapping with one of \(Suggestions.list(Self.actions, conjunction: "or"))) or exit")
        else { return nil }
        let actions = Self.actions.filter { m.has($0) }
        guard actions.count == 1 else {
            if actions.isEmpty {
                if m.unknown.isEmpty {
                    reader.error(
                        at: node, path,
                        "expected exactly one action (\(Suggestions.list(Self.actions, conjunction: "or"))), found none")
                }
            } else {
                reader.error(
                    at: m.keyNode(actions[1]), path,
                    "expected exactly one action per step, found \(Suggestions.list(actions, conjunction: "and")): make them separate steps"
                )
            }
            return nil
        }
        let action = actions[0]
        for (key, owner) in [("template", "send"), ("on_event", "wait_for"), ("on_timeout", "wait_for")]
        where m.has(key) && action != owner {
            reader.error(at: m.keyNode(key), "\(path).\(key)", "\"\(key)\" only applies to \(owner) steps")
        }
        var next = fallThrough
        if let n = m["next"] {
            if action == "exit" {
                reader.error(at: m.keyNode("next"), "\(path).next", "an exit step has no next")
            } else {
                next = target(n, "\(path).next", next: fallThrough, context: &context)
            }
        }
        let value = m[action]!
        let actionPath = "\(path).\(action)"
        let kind: Step.Kind
        switch action {
        case "send":
            let channel = reader.string(value, actionPath, expected: "a channel name") ?? ""
            if !channel.isEmpty, !channels.contains(channel) {
                let known =
                    channels.isEmpty ? "none: channels.yaml defines no channel" : channels.sorted().joined(separator: ", ")
                reader.error(
                    at: value, actionPath,
                    "unknown channel \"\(channel)\"\(Suggestions.didYouMean(channel, in: channels)) (known: \(known))")
            }
            var template = ""
            if let templateNode = reader.required(m, "template", path),
                let name = reader.string(templateNode, "\(path).template", expected: "a template name")
            {
                template = name
                if !templates.contains(name) {
                    let stem = String(name.prefix { $0 != "." })
                    let hint =
                        stem != name && templates.contains(stem)
                        ? "; a template is named by its file name up to the first dot: did you mean \"\(stem)\"?"
                        : Suggestions.didYouMean(name, in: templates)
                    reader.error(
                        at: templateNode, "\(path).template", "unknown template \"\(name)\" (no file templates/\(name).*)\(hint)")
                }
            }
            kind = .send(Send(channel: channel, template: template))
        case "wait":
            kind = .wait(parseWait(value, actionPath, next: next, context: &context))
        case "wait_for":
            kind = .waitFor(parseWaitFor(value, actionPath, step: m, stepPath: path, next: next, context: &context))
        case "branch":
            let (arms, otherwise) = parseBranch(value, actionPath, next: next, context: &context)
            kind = .branch(arms, otherwise: otherwise)
        case "split":
            kind = .split(parseSplit(value, actionPath, next: next, context: &context))
        case "update":
            kind = .update(parseUpdate(value, actionPath))
        case "enroll":
            if let other = reader.identifier(value, actionPath, what: "journey id") {
                enrollReferences.append((other, value, actionPath))
                kind = .enroll(journey: other)
            } else {
                kind = .enroll(journey: "")
            }
        default:  // exit
            if case .scalar(let scalar) = value, scalar.string == "true" {
            } else {
                reader.error(
                    at: value, actionPath, "expected true (write `- exit` or `exit: true`), found \(reader.found(value))")
            }
            kind = .exit
            next = .exit
        }
        return Step(id: id, hasExplicitId: hasExplicitId, kind: kind, next: next, line: line)
    }

    // MARK: - Waits

    /// A duration, `{for}`, `{until, weekdays}` or `{until_date, before|after, at, if_missing}`.
    /// Returns a placeholder after recording errors.
    func parseWait(_ node: YAMLNode, _ path: String, next: Target, context: inout StepsContext) -> Wait {
        let placeholder = Wait.duration(.milliseconds(1))
        if case .scalar = node { return reader.duration(node, path).map { .duration($0) } ?? placeholder }
        let keys = ["for", "until", "weekdays", "until_date", "before", "after", "at", "if_missing"]
        guard
            let m = reader.mapping(
                node, path, allowed: keys,
                what: "a duration like 1h, or a mapping with one of for, until or until_date")
        else { return placeholder }
        let kinds = ["for", "until", "until_date"].filter { m.has($0) }
        guard kinds.count == 1 else {
            if kinds.isEmpty {
                if m.unknown.isEmpty {
                    reader.error(at: node, path, "expected exactly one of for, until or until_date, found none")
                }
            } else {
                reader.error(
                    at: m.keyNode(kinds[1]), path,
                    "expected exactly one of for, until or until_date, found \(Suggestions.list(kinds, conjunction: "and"))")
            }
            return placeholder
        }
        let allowed: [String: Set<String>] = [
            "for": ["for"], "until": ["until", "weekdays"], "until_date": ["until_date", "before", "after", "at", "if_missing"],
        ]
        for item in m.items where !allowed[kinds[0]]!.contains(item.key) {
            reader.error(at: item.keyNode, "\(path).\(item.key)", "\"\(item.key)\" does not apply to a wait with \(kinds[0])")
        }
        switch kinds[0] {
        case "for":
            return reader.duration(m["for"]!, "\(path).for").map { .duration($0) } ?? placeholder
        case "until":
            let time = reader.timeOfDay(m["until"]!, "\(path).until")
            var days = Set<Int>()
            if let w = m["weekdays"],
                let list = reader.sequence(w, "\(path).weekdays", what: "a list of weekdays like [mon, tue]")
            {
                if list.isEmpty { reader.error(at: w, "\(path).weekdays", "an empty weekday list would wait forever") }
                for (k, item) in list.enumerated() {
                    guard let name = reader.string(item, "\(path).weekdays[\(k)]", expected: "a weekday (mon … sun)") else {
                        continue
                    }
                    if let day = Self.weekdays.first(where: { $0.key == name })?.value {
                        days.insert(day)
                    } else {
                        let lower = String(name.lowercased().prefix(3))
                        let hint = Self.weekdays.contains { $0.key == lower } ? "; did you mean \"\(lower)\"?" : ""
                        reader.error(
                            at: item, "\(path).weekdays[\(k)]",
                            "expected a weekday (mon, tue, wed, thu, fri, sat or sun), found `\(YAMLReader.shown(name))`\(hint)")
                    }
                }
            }
            return time.map { .until(time: $0, weekdays: days) } ?? placeholder
        default:
            let trait = reader.string(m["until_date"]!, "\(path).until_date", expected: "a trait name")
            var offset = 0
            if m.has("before") && m.has("after") {
                reader.error(at: m.keyNode("after"), path, "a wait until a date takes either before or after, not both")
            } else if let before = m["before"] {
                offset = -(reader.wholeDays(before, "\(path).before") ?? 0)
            } else if let after = m["after"] {
                offset = reader.wholeDays(after, "\(path).after") ?? 0
            }
            let at = m["at"].map { reader.timeOfDay($0, "\(path).at") } ?? TimeOfDay(hour: 9, minute: 0)
            let ifMissing = m["if_missing"].map { target($0, "\(path).if_missing", next: next, context: &context) } ?? next
            guard let trait, let at else { return placeholder }
            return .untilDate(trait: trait, offsetDays: offset, at: at, ifMissing: ifMissing)
        }
    }

    func parseWaitFor(
        _ node: YAMLNode, _ path: String, step m: Entries, stepPath: String, next: Target, context: inout StepsContext
    ) -> WaitFor {
        let (match, entries) = parseEventMatch(node, path, roots: Self.enrolledEventRoots, extraKeys: ["timeout"])
        var timeout = TimeSpan.milliseconds(1)
        if let entries {
            if let t = entries["timeout"] {
                timeout = reader.duration(t, "\(path).timeout") ?? timeout
            } else if !entries.hasTypo(of: ["timeout"]) {
                reader.error(
                    at: node, path,
                    "missing required key \"timeout\": without one a user could wait forever (on_timeout says where to go then)")
            }
        }
        let onEvent = m["on_event"].map { target($0, "\(stepPath).on_event", next: next, context: &context) } ?? next
        let onTimeout = m["on_timeout"].map { target($0, "\(stepPath).on_timeout", next: next, context: &context) } ?? next
        return WaitFor(
            match: match ?? EventMatch(event: ""), timeout: timeout, onEvent: onEvent, onTimeout: onTimeout)
    }

    // MARK: - Branch, split, update

    func parseBranch(_ node: YAMLNode, _ path: String, next: Target, context: inout StepsContext) -> ([BranchArm], Target) {
        guard let arms = reader.sequence(node, path, what: "a list of {if, goto} arms") else {
            context.unresolvedTarget = true
            return ([], next)
        }
        var parsed: [BranchArm] = []
        var otherwise = next
        for (k, arm) in arms.enumerated() {
            let armPath = "\(path)[\(k)]"
            guard
                let am = reader.mapping(
                    arm, armPath, allowed: ["if", "goto", "else"], what: "an arm like {if: <condition>, goto: <step>}")
            else { continue }
            if let elseNode = am["else"] {
                if am.has("if") || am.has("goto") {
                    reader.error(at: arm, armPath, "an else arm is just {else: <step, next or exit>}")
                }
                if k != arms.count - 1 { reader.error(at: arm, armPath, "else must be the last arm") }
                otherwise = target(elseNode, "\(armPath).else", next: next, context: &context)
                continue
            }
            let ifNode = reader.required(am, "if", armPath)
            let gotoNode = reader.required(am, "goto", armPath)
            let condition = ifNode.flatMap {
                expression($0, "\(armPath).if", roots: [.user, .enrollment, .journey], reasons: Self.branchReasons)
            }
            let t = gotoNode.map { target($0, "\(armPath).goto", next: next, context: &context) }
            if gotoNode == nil { context.unresolvedTarget = true }
            parsed.append(BranchArm(condition: condition ?? Self.placeholder, target: t ?? .exit))
        }
        if parsed.isEmpty { reader.error(at: node, path, "a branch needs at least one {if, goto} arm") }
        return (parsed, otherwise)
    }

    func parseSplit(_ node: YAMLNode, _ path: String, next: Target, context: inout StepsContext) -> [SplitArm] {
        guard let items = reader.sequence(node, path, what: "a list of {percent, goto} arms") else {
            context.unresolvedTarget = true
            return []
        }
        if items.isEmpty { reader.error(at: node, path, "a split needs at least one arm") }
        var arms: [SplitArm] = []
        var complete = true
        var names: [String: Int] = [:]
        for (k, item) in items.enumerated() {
            let armPath = "\(path)[\(k)]"
            let defaultName = "variant_" + String(UnicodeScalar(UInt8(97 + k % 26))) + (k >= 26 ? "\(k / 26)" : "")
            guard
                let m = reader.mapping(
                    item, armPath, allowed: ["name", "percent", "goto", "holdout"],
                    what: "an arm like {percent: 50, goto: <step>}")
            else {
                complete = false
                continue
            }
            var name = defaultName
            if let n = m["name"] {
                name = reader.identifier(n, "\(armPath).name", what: "variant name") ?? defaultName
                if let line = names[name] {
                    reader.error(at: n, "\(armPath).name", "duplicate variant name \"\(name)\" (first at line \(line))")
                }
                names[name] = names[name] ?? n.mark?.line ?? 0
            }
            var basisPoints = 0
            if let percentNode = reader.required(m, "percent", armPath) {
                if let points = percentBasisPoints(percentNode, "\(armPath).percent") {
                    basisPoints = points
                } else {
                    complete = false
                }
            } else {
                complete = false
            }
            let holdout = m["holdout"].flatMap { reader.bool($0, "\(armPath).holdout") } ?? false
            var t = next
            if let g = m["goto"] {
                if holdout {
                    reader.error(at: m.keyNode("goto"), "\(armPath).goto", "a holdout arm receives nothing, so it has no goto")
                } else {
                    t = target(g, "\(armPath).goto", next: next, context: &context)
                }
            }
            arms.append(SplitArm(name: name, basisPoints: basisPoints, holdout: holdout, target: holdout ? .exit : t))
        }
        if !complete || items.isEmpty { context.unresolvedTarget = true }  // its edges are unknown
        let total = arms.reduce(0) { $0 + $1.basisPoints }
        if complete, !items.isEmpty, total != 10_000 {
            let shown =
                total % 100 == 0
                ? "\(total / 100)"
                : total % 10 == 0
                    ? "\(total / 100).\(total / 10 % 10)" : "\(total / 100).\(total % 100 < 10 ? "0" : "")\(total % 100)"
            reader.error(at: node, path, "split percentages add up to \(shown), not 100")
        }
        return arms
    }

    /// A percentage from 0 to 100 with at most two decimals, in basis points (hundredths of a percent).
    func percentBasisPoints(_ node: YAMLNode, _ path: String) -> Int? {
        let expected = "a percentage from 0 to 100 with at most two decimals, like 12.5"
        guard let s = reader.scalar(node, path, expected: expected) else { return nil }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 3, parts[0].allSatisfy(\.isASCII),
            parts[0].allSatisfy(\.isNumber), let whole = Int(parts[0]),
            parts.count == 1 || ((1...2).contains(parts[1].count) && parts[1].allSatisfy { $0.isASCII && $0.isNumber })
        else {
            reader.error(at: node, path, "expected \(expected), found `\(YAMLReader.shown(s))`")
            return nil
        }
        var fraction = parts.count == 2 ? Int(parts[1])! : 0
        if parts.count == 2 && parts[1].count == 1 { fraction *= 10 }
        let points = whole * 100 + fraction
        guard points <= 10_000 else {
            reader.error(at: node, path, "expected \(expected), found `\(YAMLReader.shown(s))`")
            return nil
        }
        return points
    }

    func parseUpdate(_ node: YAMLNode, _ path: String) -> [TraitUpdate] {
        let errorsBefore = reader.errorCount
        guard
            let m = reader.mapping(
                node, path, allowed: ["set", "increment", "unset", "add_tags", "remove_tags"],
                what: "a mapping with set, increment, unset, add_tags or remove_tags")
        else { return [] }
        var updates: [TraitUpdate] = []
        if let s = m["set"], let sm = reader.mapping(s, "\(path).set", allowed: nil, what: "traits to set, like {tier: gold}") {
            for item in sm.items { updates.append(.set(item.key, reader.value(item.value, "\(path).set.\(item.key)"))) }
        }
        if let inc = m["increment"],
            let im = reader.mapping(inc, "\(path).increment", allowed: nil, what: "traits to increment, like {orders: 1}")
        {
            for item in im.items {
                if let n = reader.number(item.value, "\(path).increment.\(item.key)") { updates.append(.increment(item.key, n)) }
            }
        }
        func names(_ key: String, what: String) -> [String] {
            guard let n = m[key] else { return [] }
            let list: [YAMLNode]
            if case .scalar = n, !reader.isNull(n) {
                list = [n]
            } else {
                guard let l = reader.sequence(n, "\(path).\(key)", what: "a list of \(what)") else { return [] }
                list = l
            }
            return list.enumerated().compactMap { reader.string($1, "\(path).\(key)[\($0)]", expected: "a \(what.dropLast())") }
        }
        updates += names("unset", what: "traits").map { .unset($0) }
        updates += names("add_tags", what: "tags").map { .addTag($0) }
        updates += names("remove_tags", what: "tags").map { .removeTag($0) }
        if updates.isEmpty && reader.errorCount == errorsBefore {
            reader.error(at: node, path, "an update step needs at least one change")
        }
        return updates
    }

    // MARK: - Graph checks

    static func successors(_ step: Step) -> [Target] {
        switch step.kind {
        case .send, .update, .enroll: return [step.next]
        case .wait(let wait):
            if case .untilDate(_, _, _, let ifMissing) = wait { return [step.next, ifMissing] }
            return [step.next]
        case .waitFor(let w): return [w.onEvent, w.onTimeout]
        case .branch(let arms, let otherwise): return arms.map(\.target) + [otherwise]
        case .split(let arms): return arms.filter { !$0.holdout }.map(\.target)
        case .exit: return []
        }
    }

    /// Whether a run stops at this step for a while, for the cycle check. A wait until a profile date does
    /// not count: it passes at once when the date is past.
    static func pauses(_ step: Step) -> Bool {
        switch step.kind {
        case .wait(.untilDate): return false
        case .wait, .waitFor: return true
        default: return false
        }
    }

    /// Unreachable steps, and cycles that never pass a wait (a run would spin in them forever).
    func checkGraph(_ steps: [Step], items: [YAMLNode], checkReachability: Bool) {
        let edges: [[Int]] = steps.map { step in
            Self.successors(step).compactMap { if case .step(let j) = $0 { j } else { nil } }
        }
        if checkReachability {
            var reached = Set([0])
            var stack = [0]
            while let i = stack.popLast() {
                for j in edges[i] where reached.insert(j).inserted { stack.append(j) }
            }
            for (i, step) in steps.enumerated() where !reached.contains(i) {
                reader.error(
                    at: items[i], "steps[\(i)]", "step \"\(step.id)\" is unreachable: no path from the first step leads to it")
            }
        }
        // Cycles among steps that do not pause: strongly connected components (Tarjan) of that subgraph.
        let moving = steps.map { !Self.pauses($0) }
        var index = Array(repeating: -1, count: steps.count)
        var low = Array(repeating: 0, count: steps.count)
        var onStack = Array(repeating: false, count: steps.count)
        var stack: [Int] = []
        var counter = 0
        var components: [[Int]] = []
        func connect(_ v: Int) {
            index[v] = counter
            low[v] = counter
            counter += 1
            stack.append(v)
            onStack[v] = true
            for w in edges[v] where moving[v] && moving[w] {
                if index[w] == -1 {
                    connect(w)
                    low[v] = min(low[v], low[w])
                } else if onStack[w] {
                    low[v] = min(low[v], index[w])
                }
            }
            if low[v] == index[v] {
                var component: [Int] = []
                while let w = stack.popLast() {
                    onStack[w] = false
                    component.append(w)
                    if w == v { break }
                }
                components.append(component)
            }
        }
        for v in steps.indices where index[v] == -1 { connect(v) }
        for component in components {
            let members = Set(component)
            guard let start = component.min(), moving[start],
                component.count > 1 || edges[start].contains(start)
            else { continue }
            // The shortest loop from `start` back to it inside the component, for the message.
            var previous: [Int: Int] = [:]
            var queue = [start]
            var head = 0
            var closing: Int?
            search: while head < queue.count {
                let v = queue[head]
                head += 1
                for w in edges[v] where members.contains(w) {
                    if w == start {
                        closing = v
                        break search
                    }
                    if previous[w] == nil {
                        previous[w] = v
                        queue.append(w)
                    }
                }
            }
            var loop = [start]
            var v = closing ?? start
            var back: [Int] = []
            while v != start {
                back.append(v)
                v = previous[v] ?? start
            }
            loop += back.reversed() + [start]
            let names = loop.map { steps[$0].id }.joined(separator: " → ")
            let hasDateWait = loop.contains { if case .wait(.untilDate) = steps[$0].kind { true } else { false } }
            reader.error(
                at: items[start], "steps[\(start)]",
                "cycle without a wait: \(names); a loop must pass a wait or wait_for"
                    + (hasDateWait ? " (a wait until a date does not count: it passes at once when the date is past)" : ""))
        }
    }
}
