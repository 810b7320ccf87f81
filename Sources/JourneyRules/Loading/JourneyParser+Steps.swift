import JourneyCore
import Yams

extension JourneyParser {
    static let actions = ["send", "wait", "wait_for", "branch", "split", "update", "enroll", "exit"]
    static let stepKeys = actions + ["id", "next", "template", "on_event", "on_timeout"]
    static let weekdays = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]

    mutating func parseSteps(_ node: YAMLNode, journey: String) -> [Step] {
        guard let items = reader.sequence(node, "steps") else { return [] }
        guard !items.isEmpty else {
            reader.error(at: node, "steps", "a journey needs at least one step")
            return []
        }
        // First pass: ids, so that targets can point forward.
        var ids: [String] = []
        var idNodes: [String: YAMLNode] = [:]
        for (i, item) in items.enumerated() {
            var id = "step\(i + 1)"
            if case .mapping(let mapping) = item,
                let idNode = mapping.first(where: { $0.key.scalar?.string == "id" })?.value,
                let explicit = reader.identifier(idNode, "steps[\(i)].id", what: "step id")
            {
                if ["exit", "next"].contains(explicit) {
                    reader.error(at: idNode, "steps[\(i)].id", "\"\(explicit)\" is reserved for targets")
                } else if idNodes[explicit] != nil {
                    reader.error(at: idNode, "steps[\(i)].id", "duplicate step id \"\(explicit)\" (first at line \(idNodes[explicit]!.mark?.line ?? 0))")
                } else {
                    id = explicit
                    idNodes[explicit] = idNode
                }
            }
            ids.append(id)
        }
        var steps: [Step] = []
        var ok = true
        for (i, item) in items.enumerated() {
            if let step = parseStep(item, index: i, ids: ids, hasExplicitId: idNodes[ids[i]] != nil) {
                steps.append(step)
            } else {
                ok = false
            }
        }
        guard ok else { return [] }
        checkGraph(steps, items: items)
        return steps
    }

    /// A target: `exit`, `next`, or a step id.
    func target(_ node: YAMLNode, _ path: String, index: Int, ids: [String]) -> Target? {
        guard let name = reader.string(node, path) else { return nil }
        switch name {
        case "exit": return .exit
        case "next": return index + 1 < ids.count ? .step(index + 1) : .exit
        default:
            if let i = ids.firstIndex(of: name) { return .step(i) }
            let suggestion = YAMLReader.closest(name, in: ids).map { "; did you mean \"\($0)\"?" } ?? ""
            reader.error(at: node, path, "unknown step \"\(name)\"\(suggestion) (targets are a step id, next or exit)")
            return nil
        }
    }

    mutating func parseStep(_ node: YAMLNode, index i: Int, ids: [String], hasExplicitId: Bool) -> Step? {
        let path = "steps[\(i)]"
        let line = node.mark?.line ?? 0
        let fallThrough: Target = i + 1 < ids.count ? .step(i + 1) : .exit
        if case .scalar(let scalar) = node {
            guard scalar.string == "exit" else {
                reader.error(at: node, path, "expected a step (a mapping with one of \(Self.actions.joined(separator: ", "))) or exit, found \"\(scalar.string)\"")
                return nil
            }
            return Step(id: ids[i], hasExplicitId: false, kind: .exit, next: .exit, line: line)
        }
        guard let m = reader.mapping(node, path, allowed: Self.stepKeys) else { return nil }
        let actions = Self.actions.filter { m.has($0) }
        guard actions.count == 1 else {
            reader.error(
                at: node, path,
                actions.isEmpty
                    ? "a step needs exactly one action: \(Self.actions.joined(separator: ", "))"
                    : "a step has exactly one action, found \(actions.joined(separator: " and "))")
            return nil
        }
        let action = actions[0]
        for (key, owner) in [("template", "send"), ("on_event", "wait_for"), ("on_timeout", "wait_for")]
        where m.has(key) && action != owner {
            reader.error(at: m.items.first { $0.key == key }!.keyNode, "\(path).\(key)", "\"\(key)\" only applies to \(owner) steps")
        }
        var next = fallThrough
        if let n = m["next"] {
            guard let t = target(n, "\(path).next", index: i, ids: ids) else { return nil }
            next = t
        }
        let value = m[action]!
        let actionPath = "\(path).\(action)"
        var kind: Step.Kind?
        switch action {
        case "send":
            guard let channel = reader.string(value, actionPath) else { return nil }
            if !channels.contains(channel) {
                let known = channels.sorted().joined(separator: ", ")
                let suggestion = YAMLReader.closest(channel, in: channels).map { "; did you mean \"\($0)\"?" } ?? ""
                reader.error(at: value, actionPath, "unknown channel \"\(channel)\"\(suggestion) (known: \(known.isEmpty ? "none" : known))")
            }
            guard let templateNode = m["template"] else {
                reader.error(at: node, path, "a send step needs a template")
                return nil
            }
            guard let template = reader.string(templateNode, "\(path).template") else { return nil }
            if !templates.contains(template) {
                let suggestion = YAMLReader.closest(template, in: templates).map { "; did you mean \"\($0)\"?" } ?? ""
                reader.error(at: templateNode, "\(path).template", "unknown template \"\(template)\"\(suggestion): no file templates/\(template).*")
            }
            kind = .send(Send(channel: channel, template: template))
        case "wait":
            kind = parseWait(value, actionPath, index: i, ids: ids).map { .wait($0) }
        case "wait_for":
            guard let wm = reader.mapping(value, actionPath, allowed: ["event", "where", "timeout"]) else { return nil }
            guard let timeoutNode = wm["timeout"] else {
                reader.error(at: value, actionPath, "wait_for needs a timeout: without one a user could wait forever")
                return nil
            }
            let timeout = reader.duration(timeoutNode, "\(actionPath).timeout")
            let (match, _) = parseEventMatch(value, actionPath, roots: [.event, .user, .enrollment, .journey], extraKeys: ["timeout"])
            let onEvent = m["on_event"].map { target($0, "\(path).on_event", index: i, ids: ids) } ?? fallThrough
            let onTimeout = m["on_timeout"].map { target($0, "\(path).on_timeout", index: i, ids: ids) } ?? fallThrough
            guard let timeout, let match, let onEvent, let onTimeout else { return nil }
            kind = .waitFor(WaitFor(match: match, timeout: timeout, onEvent: onEvent, onTimeout: onTimeout))
        case "branch":
            guard let arms = reader.sequence(value, actionPath) else { return nil }
            var parsed: [BranchArm] = []
            var otherwise = fallThrough
            var failed = false
            for (k, arm) in arms.enumerated() {
                let armPath = "\(actionPath)[\(k)]"
                guard let am = reader.mapping(arm, armPath, allowed: ["if", "goto", "else"]) else {
                    failed = true
                    continue
                }
                if let elseNode = am["else"] {
                    if am.has("if") || am.has("goto") {
                        reader.error(at: arm, armPath, "an else arm is just {else: target}")
                    }
                    if k != arms.count - 1 { reader.error(at: arm, armPath, "else must be the last arm") }
                    if let t = target(elseNode, "\(armPath).else", index: i, ids: ids) { otherwise = t } else { failed = true }
                    continue
                }
                guard let ifNode = am["if"], let gotoNode = am["goto"] else {
                    reader.error(at: arm, armPath, "a branch arm needs if and goto (or is {else: target})")
                    failed = true
                    continue
                }
                let condition = expression(ifNode, "\(armPath).if", roots: [.user, .enrollment, .journey])
                let t = target(gotoNode, "\(armPath).goto", index: i, ids: ids)
                if let condition, let t { parsed.append(BranchArm(condition: condition, target: t)) } else { failed = true }
            }
            if parsed.isEmpty && !failed { reader.error(at: value, actionPath, "a branch needs at least one if arm") }
            guard !failed, !parsed.isEmpty else { return nil }
            kind = .branch(parsed, otherwise: otherwise)
        case "split":
            kind = parseSplit(value, actionPath, index: i, ids: ids).map { .split($0) }
        case "update":
            kind = parseUpdate(value, actionPath).map { .update($0) }
        case "enroll":
            guard let other = reader.identifier(value, actionPath, what: "journey id") else { return nil }
            enrollReferences.append((other, value, actionPath))
            kind = .enroll(journey: other)
        default:  // exit
            if case .scalar(let scalar) = value, scalar.string != "true" {
                reader.error(at: value, actionPath, "write `- exit` or `exit: true`")
                return nil
            }
            kind = .exit
            next = .exit
        }
        guard let kind else { return nil }
        return Step(id: ids[i], hasExplicitId: hasExplicitId, kind: kind, next: next, line: line)
    }

    func parseWait(_ node: YAMLNode, _ path: String, index: Int, ids: [String]) -> Wait? {
        if case .scalar = node { return reader.duration(node, path).map { .duration($0) } }
        guard let m = reader.mapping(node, path, allowed: ["for", "until", "weekdays", "until_date", "before", "after", "at", "if_missing"])
        else { return nil }
        let kinds = ["for", "until", "until_date"].filter { m.has($0) }
        guard kinds.count == 1 else {
            reader.error(at: node, path, "a wait is a duration, {for: 1h}, {until: \"10:00\"} or {until_date: trait}")
            return nil
        }
        let allowed: [String: Set<String>] = [
            "for": ["for"], "until": ["until", "weekdays"], "until_date": ["until_date", "before", "after", "at", "if_missing"],
        ]
        for item in m.items where !allowed[kinds[0]]!.contains(item.key) {
            reader.error(at: item.keyNode, "\(path).\(item.key)", "\"\(item.key)\" does not apply to a wait with \(kinds[0])")
        }
        switch kinds[0] {
        case "for":
            return reader.duration(m["for"]!, "\(path).for").map { .duration($0) }
        case "until":
            guard let time = reader.timeOfDay(m["until"]!, "\(path).until") else { return nil }
            var days = Set<Int>()
            if let w = m["weekdays"], let list = reader.sequence(w, "\(path).weekdays") {
                for (k, item) in list.enumerated() {
                    guard let name = reader.string(item, "\(path).weekdays[\(k)]") else { continue }
                    if let day = Self.weekdays[name.lowercased()] {
                        days.insert(day)
                    } else {
                        reader.error(at: item, "\(path).weekdays[\(k)]", "unknown weekday \"\(name)\": use mon, tue, wed, thu, fri, sat or sun")
                    }
                }
                if list.isEmpty { reader.error(at: w, "\(path).weekdays", "an empty weekday list would wait forever") }
            }
            return .until(time: time, weekdays: days)
        default:
            guard let trait = reader.string(m["until_date"]!, "\(path).until_date") else { return nil }
            if m.has("before") && m.has("after") {
                reader.error(at: node, path, "has both before and after: use one")
                return nil
            }
            var offset = 0
            if let before = m["before"] { offset = -(reader.days(before, "\(path).before") ?? 0) }
            if let after = m["after"] { offset = reader.days(after, "\(path).after") ?? 0 }
            let at = m["at"].flatMap { reader.timeOfDay($0, "\(path).at") } ?? TimeOfDay(hour: 9, minute: 0)
            let fallThrough: Target = index + 1 < ids.count ? .step(index + 1) : .exit
            let ifMissing = m["if_missing"].map { target($0, "\(path).if_missing", index: index, ids: ids) } ?? fallThrough
            guard let ifMissing else { return nil }
            return .untilDate(trait: trait, offsetDays: offset, at: at, ifMissing: ifMissing)
        }
    }

    func parseSplit(_ node: YAMLNode, _ path: String, index: Int, ids: [String]) -> [SplitArm]? {
        guard let items = reader.sequence(node, path) else { return nil }
        var arms: [SplitArm] = []
        var failed = false
        let fallThrough: Target = index + 1 < ids.count ? .step(index + 1) : .exit
        for (k, item) in items.enumerated() {
            let armPath = "\(path)[\(k)]"
            guard let m = reader.mapping(item, armPath, allowed: ["name", "percent", "goto", "holdout"]) else {
                failed = true
                continue
            }
            let name = m["name"].flatMap { reader.identifier($0, "\(armPath).name", what: "variant name") }
                ?? "variant_\(String(UnicodeScalar(UInt8(97 + min(k, 25)))))"
            guard let percentNode = m["percent"] else {
                reader.error(at: item, armPath, "missing required key \"percent\"")
                failed = true
                continue
            }
            guard let percent = reader.number(percentNode, "\(armPath).percent") else {
                failed = true
                continue
            }
            let basisPoints = (percent * 100).rounded()
            guard percent > 0, percent <= 100, abs(basisPoints - percent * 100) < 1e-6 else {
                reader.error(at: percentNode, "\(armPath).percent", "expected a percentage above 0 and at most 100 with at most two decimals, found \(percent)")
                failed = true
                continue
            }
            let holdout = m["holdout"].flatMap { reader.bool($0, "\(armPath).holdout") } ?? false
            if holdout && m.has("goto") {
                reader.error(at: item, armPath, "a holdout receives nothing: it takes no goto")
                failed = true
                continue
            }
            var t = fallThrough
            if let g = m["goto"] {
                guard let resolved = target(g, "\(armPath).goto", index: index, ids: ids) else {
                    failed = true
                    continue
                }
                t = resolved
            }
            if arms.contains(where: { $0.name == name }) {
                reader.error(at: item, armPath, "duplicate variant name \"\(name)\"")
            }
            arms.append(SplitArm(name: name, basisPoints: Int(basisPoints), holdout: holdout, target: t))
        }
        guard !failed else { return nil }
        let total = arms.reduce(0) { $0 + $1.basisPoints }
        guard total == 10_000 else {
            let shown = total % 100 == 0 ? "\(total / 100)" : "\(Double(total) / 100)"
            reader.error(at: node, path, "split percentages add up to \(shown), not 100")
            return nil
        }
        return arms
    }

    func parseUpdate(_ node: YAMLNode, _ path: String) -> [TraitUpdate]? {
        guard let m = reader.mapping(node, path, allowed: ["set", "increment", "unset", "add_tags", "remove_tags"]) else { return nil }
        var updates: [TraitUpdate] = []
        if let s = m["set"], let sm = reader.mapping(s, "\(path).set", allowed: nil) {
            for item in sm.items { updates.append(.set(item.key, reader.value(item.value))) }
        }
        if let inc = m["increment"], let im = reader.mapping(inc, "\(path).increment", allowed: nil) {
            for item in im.items {
                if let n = reader.number(item.value, "\(path).increment.\(item.key)") { updates.append(.increment(item.key, n)) }
            }
        }
        func names(_ key: String) -> [String] {
            guard let n = m[key], let list = reader.sequence(n, "\(path).\(key)") else { return [] }
            return list.enumerated().compactMap { reader.string($1, "\(path).\(key)[\($0)]") }
        }
        updates += names("unset").map { .unset($0) }
        updates += names("add_tags").map { .addTag($0) }
        updates += names("remove_tags").map { .removeTag($0) }
        if updates.isEmpty { reader.error(at: node, path, "an update step needs at least one change") }
        return updates.isEmpty ? nil : updates
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

    /// Unreachable steps, and cycles that never pass a wait (they would spin forever).
    func checkGraph(_ steps: [Step], items: [YAMLNode]) {
        var reached = Set([0])
        var stack = [0]
        while let i = stack.popLast() {
            for case .step(let j) in Self.successors(steps[i]) where reached.insert(j).inserted { stack.append(j) }
        }
        for (i, step) in steps.enumerated() where !reached.contains(i) {
            reader.error(at: items[i], "steps[\(i)]", "step \(step.id) is unreachable: no step leads to it")
        }
        // Cycles through steps that do not suspend: depth-first search over edges that leave non-waiting steps.
        var state = Array(repeating: 0, count: steps.count)  // 0 new, 1 on the path, 2 done
        var path: [Int] = []
        var reported = false
        func visit(_ i: Int) {
            guard !reported else { return }
            state[i] = 1
            path.append(i)
            if !steps[i].suspends {
                for case .step(let j) in Self.successors(steps[i]) {
                    if state[j] == 1 {
                        let cycle = path[path.firstIndex(of: j)!...].map { steps[$0].id } + [steps[j].id]
                        reader.error(
                            at: items[j], "steps[\(j)]",
                            "cycle without a wait: \(cycle.joined(separator: " → ")); a loop must pass a wait or wait_for")
                        reported = true
                        return
                    }
                    if state[j] == 0 { visit(j) }
                }
            }
            path.removeLast()
            state[i] = 2
        }
        for i in steps.indices where state[i] == 0 { visit(i) }
    }
}
