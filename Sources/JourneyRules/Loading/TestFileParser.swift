import JourneyCore
import Yams

/// `tests/*.yaml`: one test per file, or `tests: [ … ]`.
struct TestFileParser {
    let reader: YAMLReader
    let journeys: [String: Journey]
    let channels: Set<String>
    let templates: Set<String>

    static let testKeys = ["name", "journeys", "users", "start", "events", "run_until", "expect"]
    static let eventKinds = ["track", "identify", "page", "screen", "group", "alias"]
    /// The default end of a test: this long after its last event.
    static let defaultHorizon = TimeSpan.days(400)

    func parse(_ root: YAMLNode) -> [JourneyTest] {
        if case .mapping(let mapping) = root, mapping.contains(where: { $0.key.scalar?.string == "tests" }) {
            guard let m = reader.mapping(root, "", allowed: ["tests"]), let list = reader.sequence(m["tests"]!, "tests")
            else { return [] }
            return list.enumerated().compactMap { parseTest($1, "tests[\($0)]") }
        }
        return parseTest(root, "").map { [$0] } ?? []
    }

    func parseTest(_ node: YAMLNode, _ path: String) -> JourneyTest? {
        func p(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        guard let m = reader.mapping(node, path, allowed: Self.testKeys) else { return nil }
        var ok = true
        let name = m["name"].flatMap { reader.string($0, p("name")) } ?? {
            reader.error(at: node, path, "missing required key \"name\"")
            ok = false
            return ""
        }()
        var only: [String] = []
        if let j = m["journeys"], let list = reader.sequence(j, p("journeys")) {
            for (i, item) in list.enumerated() {
                guard let id = reader.string(item, p("journeys[\(i)]")) else { continue }
                if journeys[id] == nil {
                    reader.error(at: item, p("journeys[\(i)]"), unknownJourney(id))
                    ok = false
                }
                only.append(id)
            }
        }
        var users: [(id: String, traits: Value)] = []
        if let u = m["users"], let um = reader.mapping(u, p("users"), allowed: nil) {
            for item in um.items {
                guard case .mapping = item.value else {
                    reader.error(at: item.value, p("users.\(item.key)"), "expected the user's traits as a mapping")
                    continue
                }
                users.append((item.key, reader.value(item.value)))
            }
        }
        let explicitStart = m["start"].flatMap { reader.timestamp($0, p("start")) }
        var events: [Event] = []
        var outages: [JourneyTest.Outage] = []
        var clock = explicitStart
        if let e = m["events"], let list = reader.sequence(e, p("events")) {
            for (i, item) in list.enumerated() {
                let eventPath = p("events[\(i)]")
                guard let em = reader.mapping(item, eventPath, allowed: ["at", "user", "message_id", "properties", "traits", "outage", "name", "anonymous_id", "group_id", "previous_id"] + Self.eventKinds)
                else {
                    ok = false
                    continue
                }
                guard let atNode = em["at"] else {
                    reader.error(at: item, eventPath, "missing required key \"at\"")
                    ok = false
                    continue
                }
                guard let at = time(atNode, "\(eventPath).at", relativeTo: clock) else {
                    ok = false
                    continue
                }
                if let c = clock, at < c {
                    reader.error(at: atNode, "\(eventPath).at", "events must be in time order: \(at.iso8601) is before \(c.iso8601)")
                    ok = false
                }
                clock = at
                if let outageNode = em["outage"] {
                    if let span = reader.duration(outageNode, "\(eventPath).outage") {
                        outages.append(JourneyTest.Outage(from: at, to: at + span))
                    }
                    continue
                }
                if let event = parseEvent(em, item, eventPath, at: at, index: i) { events.append(event) } else { ok = false }
            }
        }
        guard let start = explicitStart ?? events.first?.timestamp ?? outages.first?.from else {
            reader.error(at: node, path, "a test needs events or a start time")
            return nil
        }
        let last = clock ?? start
        var runUntil = last + Self.defaultHorizon
        if let r = m["run_until"], let t = time(r, p("run_until"), relativeTo: last) { runUntil = t }
        let expect = m["expect"].map { parseExpect($0, p("expect"), only: only) } ?? Expectations()
        guard ok else { return nil }
        var test = JourneyTest(
            name: name, file: reader.file, line: node.mark?.line ?? 0, journeys: only, users: users, start: start,
            events: events, runUntil: runUntil, expect: expect)
        test.outages = outages
        return test
    }

    /// An RFC 3339 time, or `+span` after `base`.
    func time(_ node: YAMLNode, _ path: String, relativeTo base: Timestamp?) -> Timestamp? {
        guard let text = reader.scalar(node, path, expected: "a time") else { return nil }
        if text.hasPrefix("+") {
            guard let span = TimeSpan(parsing: String(text.dropFirst())) else {
                reader.error(at: node, path, "expected +duration like +30m, found \"\(text)\"")
                return nil
            }
            guard let base else {
                reader.error(at: node, path, "a relative time needs an earlier event or a start")
                return nil
            }
            return base + span
        }
        return reader.timestamp(node, path)
    }

    func parseEvent(_ m: Entries, _ node: YAMLNode, _ path: String, at: Timestamp, index: Int) -> Event? {
        let kinds = Self.eventKinds.filter { m.has($0) }
        guard kinds.count == 1 else {
            reader.error(at: node, path, "an event has exactly one of \(Self.eventKinds.joined(separator: ", ")) (or is an outage)")
            return nil
        }
        guard let userNode = m["user"] ?? m["anonymous_id"], let user = reader.string(userNode, "\(path).user") else {
            reader.error(at: node, path, "missing required key \"user\"")
            return nil
        }
        let messageId = m["message_id"].flatMap { reader.string($0, "\(path).message_id") } ?? "\(reader.file)#\(index + 1)"
        let kind = Event.Kind(rawValue: kinds[0])!
        let payload = m[kinds[0]]!
        var properties = m["properties"].map { reader.value($0) } ?? .emptyObject
        if case .object = properties {} else {
            reader.error(at: m["properties"]!, "\(path).properties", "expected a mapping")
            properties = .emptyObject
        }
        var event = Event(kind: kind, userId: user, messageId: messageId, timestamp: at, properties: properties)
        switch kind {
        case .track, .page, .screen:
            guard let name = reader.string(payload, "\(path).\(kinds[0])") else { return nil }
            event.name = name
        case .identify, .group:
            guard case .mapping = payload else {
                reader.error(at: payload, "\(path).\(kinds[0])", "expected the traits as a mapping")
                return nil
            }
            event.traits = reader.value(payload)
            if kind == .group { event.groupId = m["group_id"].flatMap { reader.string($0, "\(path).group_id") } }
        case .alias:
            event.previousId = reader.string(payload, "\(path).alias")
        }
        return event
    }

    func parseExpect(_ node: YAMLNode, _ path: String, only: [String]) -> Expectations {
        var expect = Expectations()
        guard let m = reader.mapping(node, path, allowed: ["touches", "exact", "no_touches", "funnel", "traits"]) else { return expect }
        if let t = m["touches"], let list = reader.sequence(t, "\(path).touches") {
            expect.touches = list.enumerated().compactMap { pattern($1, "\(path).touches[\($0)]") }
        }
        if let e = m["exact"], let exact = reader.bool(e, "\(path).exact") { expect.exact = exact }
        if let n = m["no_touches"], let list = reader.sequence(n, "\(path).no_touches") {
            expect.noTouches = list.enumerated().compactMap { pattern($1, "\(path).no_touches[\($0)]") }
        }
        if let f = m["funnel"], let fm = reader.mapping(f, "\(path).funnel", allowed: nil) {
            for item in fm.items {
                if journeys[item.key] == nil { reader.error(at: item.keyNode, "\(path).funnel.\(item.key)", unknownJourney(item.key)) }
                guard let counters = reader.mapping(item.value, "\(path).funnel.\(item.key)", allowed: nil) else { continue }
                var values: [String: Int] = [:]
                for counter in counters.items {
                    let counterPath = "\(path).funnel.\(item.key).\(counter.key)"
                    guard Self.isCounter(counter.key) else {
                        reader.error(at: counter.keyNode, counterPath, "unknown funnel counter \"\(counter.key)\" (entered, touched, converted, capped, deferred, suppressed, skipped_late, held_out, updated, exited, exited.<reason>, reached.<step>)")
                        continue
                    }
                    if counter.key.hasPrefix("reached."), let journey = journeys[item.key] {
                        let step = String(counter.key.dropFirst(8))
                        if journey.stepIndex(id: step) == nil {
                            reader.error(at: counter.keyNode, counterPath, "journey \(item.key) has no step \"\(step)\"")
                        }
                    }
                    if let n = reader.integer(counter.value, counterPath, in: 0...Int.max) { values[counter.key] = n }
                }
                expect.funnel[item.key] = values
            }
        }
        if let t = m["traits"], let tm = reader.mapping(t, "\(path).traits", allowed: nil) {
            for item in tm.items {
                guard case .mapping = item.value else {
                    reader.error(at: item.value, "\(path).traits.\(item.key)", "expected traits as a mapping")
                    continue
                }
                expect.traits[item.key] = reader.value(item.value)
            }
        }
        return expect
    }

    static func isCounter(_ name: String) -> Bool {
        ["entered", "touched", "converted", "capped", "deferred", "suppressed", "skipped_late", "held_out", "updated", "exited"]
            .contains(name) || name.hasPrefix("reached.") || name.hasPrefix("exited.")
    }

    func pattern(_ node: YAMLNode, _ path: String) -> TouchPattern? {
        guard let m = reader.mapping(node, path, allowed: ["at", "user", "journey", "step", "channel", "template"]) else { return nil }
        var p = TouchPattern(line: node.mark?.line ?? 0)
        p.user = m["user"].flatMap { reader.string($0, "\(path).user") }
        p.at = m["at"].flatMap { reader.timestamp($0, "\(path).at") }
        if let j = m["journey"], let id = reader.string(j, "\(path).journey") {
            if journeys[id] == nil { reader.error(at: j, "\(path).journey", unknownJourney(id)) }
            p.journey = id
        }
        if let s = m["step"], let step = reader.string(s, "\(path).step") {
            let owners = p.journey.flatMap { journeys[$0] }.map { [$0] } ?? Array(journeys.values)
            if !owners.isEmpty, !owners.contains(where: { $0.stepIndex(id: step) != nil }) {
                reader.error(at: s, "\(path).step", "no step \"\(step)\"\(p.journey.map { " in journey \($0)" } ?? " in any journey")")
            }
            p.step = step
        }
        if let c = m["channel"], let channel = reader.string(c, "\(path).channel") {
            if !channels.contains(channel) { reader.error(at: c, "\(path).channel", "unknown channel \"\(channel)\"") }
            p.channel = channel
        }
        if let t = m["template"], let template = reader.string(t, "\(path).template") {
            if !templates.contains(template) { reader.error(at: t, "\(path).template", "unknown template \"\(template)\"") }
            p.template = template
        }
        return p
    }

    func unknownJourney(_ id: String) -> String {
        let suggestion = YAMLReader.closest(id, in: journeys.keys).map { "; did you mean \"\($0)\"?" } ?? ""
        return "unknown journey \"\(id)\"\(suggestion)"
    }
}
