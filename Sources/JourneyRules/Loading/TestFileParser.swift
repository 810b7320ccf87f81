import JourneyCore
import Yams

/// What tests may refer to: every journey id declared (also journeys with errors, whose step ids are
/// known as far as they could be read), channels and templates.
struct KnownNames {
    var journeySteps: [String: [String]] = [:]
    var channels: Set<String> = []
    var templates: Set<String> = []
}

/// `tests/*.yaml`: one test per file, or `tests: [ … ]`.
struct TestFileParser {
    let reader: YAMLReader
    let known: KnownNames

    static let testKeys = ["name", "journeys", "users", "start", "events", "run_until", "expect"]
    static let eventKinds = ["track", "identify", "page", "screen", "group", "alias"]
    static let eventKeys = ["at", "user", "anonymous_id", "message_id", "properties", "traits", "outage"] + eventKinds
    static let patternKeys = ["at", "user", "journey", "step", "channel", "template"]
    static let counters = [
        "entered", "touched", "converted", "capped", "deferred", "suppressed", "skipped_late", "held_out", "updated", "exited",
    ]
    /// The default end of a test: this long after its last event.
    static let defaultHorizon = TimeSpan.days(400)

    /// The tests of the file; `names` maps test names already seen (in any file) to where.
    func parse(_ root: YAMLNode, names: inout [String: String]) -> [JourneyTest] {
        if case .mapping(let mapping) = root, mapping.contains(where: { $0.key.string == "tests" }) {
            guard let m = reader.mapping(root, "", allowed: ["tests"]),
                let list = reader.sequence(m["tests"]!, "tests", what: "a list of tests")
            else { return [] }
            if list.isEmpty { reader.error(at: m["tests"], "tests", "the list of tests is empty") }
            return list.enumerated().compactMap { parseTest($1, "tests[\($0)]", names: &names) }
        }
        return parseTest(root, "", names: &names).map { [$0] } ?? []
    }

    func parseTest(_ node: YAMLNode, _ path: String, names: inout [String: String]) -> JourneyTest? {
        func p(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        let errorsBefore = reader.errorCount
        guard let m = reader.mapping(node, path, allowed: Self.testKeys, what: "a test (a mapping with name, events and expect)")
        else { return nil }
        let nameNode = reader.required(m, "name", path)
        let name = nameNode.flatMap { reader.string($0, p("name"), expected: "a test name") } ?? ""
        if let nameNode, !name.isEmpty {
            let here = "\(reader.file):\(nameNode.mark?.line ?? 0)"
            if let first = names[name] {
                reader.error(at: nameNode, p("name"), "duplicate test name \"\(name)\" (first at \(first))")
            } else {
                names[name] = here
            }
        }
        var only: [String] = []
        if let j = m["journeys"] {
            let list: [YAMLNode]? =
                if case .scalar = j { [j] } else { reader.sequence(j, p("journeys"), what: "a list of journey ids") }
            for (i, item) in (list ?? []).enumerated() {
                let itemPath = j.sequence == nil ? p("journeys") : p("journeys[\(i)]")
                guard let id = reader.string(item, itemPath, expected: "a journey id") else { continue }
                if known.journeySteps[id] == nil { reader.error(at: item, itemPath, unknownJourney(id)) }
                only.append(id)
            }
        }
        var users: [(id: String, traits: Value)] = []
        if let u = m["users"],
            let um = reader.mapping(u, p("users"), allowed: nil, what: "users and their traits, like {u1: {tier: gold}}")
        {
            for item in um.items {
                let userPath = p("users.\(item.key)")
                if case .mapping = item.value {
                    users.append((item.key, reader.value(item.value, userPath)))
                } else {
                    reader.error(
                        at: item.value, userPath,
                        "expected the user's traits as a mapping, like {tier: gold}, found \(reader.found(item.value))")
                }
            }
        }
        let explicitStart = m["start"].flatMap { reader.timestamp($0, p("start")) }
        var events: [Event] = []
        var outages: [JourneyTest.Outage] = []
        var clock = explicitStart
        var firstTime: Timestamp?
        var eventCount = 0
        if let e = m["events"], let list = reader.sequence(e, p("events"), what: "a list of events") {
            eventCount = list.count
            for (i, item) in list.enumerated() {
                let eventPath = p("events[\(i)]")
                guard
                    let em = reader.mapping(
                        item, eventPath, allowed: Self.eventKeys, what: "an event like {at: …, user: u1, track: signup}")
                else { continue }
                var at: Timestamp?
                if let atNode = reader.required(em, "at", eventPath) {
                    at = time(atNode, "\(eventPath).at", relativeTo: clock, what: "the previous event or start")
                    if let t = at, let c = clock, t < c {
                        reader.error(
                            at: atNode, "\(eventPath).at", "events must be in time order: \(t.iso8601) is before \(c.iso8601)")
                    }
                }
                if let at {
                    clock = at
                    firstTime = firstTime ?? at
                }
                if let outageNode = em["outage"] {
                    for item in em.items where item.key != "at" && item.key != "outage" {
                        reader.error(at: item.keyNode, "\(eventPath).\(item.key)", "\"\(item.key)\" does not apply to an outage")
                    }
                    if let span = reader.duration(outageNode, "\(eventPath).outage"), let at {
                        outages.append(JourneyTest.Outage(from: at, to: at + span))
                    }
                    continue
                }
                if let event = parseEvent(em, item, eventPath, at: at ?? Timestamp(milliseconds: 0)) { events.append(event) }
            }
        }
        let start = explicitStart ?? firstTime
        if start == nil, m["start"] == nil, eventCount == 0 {
            reader.error(at: node, path, "a test needs events or a start time")
        }
        let last = clock ?? start ?? Timestamp(milliseconds: 0)
        var runUntil = last + Self.defaultHorizon
        if let r = m["run_until"], let t = time(r, p("run_until"), relativeTo: last, what: "the last event") {
            if t < last {
                reader.error(at: r, p("run_until"), "run_until \(t.iso8601) is before the last event (\(last.iso8601))")
            }
            runUntil = t
        }
        let expect = m["expect"].map { parseExpect($0, p("expect"), only: only) } ?? Expectations()
        guard reader.errorCount == errorsBefore, let start else { return nil }
        var test = JourneyTest(
            name: name, file: reader.file, line: node.mark?.line ?? 0, journeys: only, users: users, start: start,
            events: events, runUntil: runUntil, expect: expect)
        test.outages = outages
        return test
    }

    /// An RFC 3339 time, or `+span` after `base`.
    func time(_ node: YAMLNode, _ path: String, relativeTo base: Timestamp?, what: String) -> Timestamp? {
        let expected = "a date-time like 2025-01-06T10:00:00Z, or +30m after \(what)"
        guard let text = reader.scalar(node, path, expected: expected) else { return nil }
        if text.hasPrefix("+") {
            guard let span = TimeSpan(parsing: String(text.dropFirst())) else {
                reader.error(at: node, path, "expected \(expected), found `\(YAMLReader.shown(text))`")
                return nil
            }
            guard let base else {
                reader.error(at: node, path, "`\(text)` is relative, but there is no earlier event or start time")
                return nil
            }
            return base + span
        }
        guard let t = Timestamp(iso8601: text) else {
            reader.error(at: node, path, "expected \(expected), found `\(YAMLReader.shown(text))`")
            return nil
        }
        return t
    }

    func parseEvent(_ m: Entries, _ node: YAMLNode, _ path: String, at: Timestamp) -> Event? {
        let kinds = Self.eventKinds.filter { m.has($0) }
        guard kinds.count == 1 else {
            if kinds.isEmpty {
                if m.unknown.isEmpty {
                    reader.error(
                        at: node, path,
                        "expected exactly one of \(Suggestions.list(Self.eventKinds + ["outage"], conjunction: "or")), found none"
                    )
                }
            } else {
                reader.error(
                    at: m.keyNode(kinds[1]), path,
                    "expected exactly one of \(Suggestions.list(Self.eventKinds, conjunction: "or")), found \(Suggestions.list(kinds, conjunction: "and"))"
                )
            }
            return nil
        }
        let kind = Event.Kind(rawValue: kinds[0])!
        let kindPath = "\(path).\(kinds[0])"
        let payload = m[kinds[0]]!
        var userId: String?
        var anonymousId: String?
        if let u = m["user"] { userId = reader.string(u, "\(path).user", expected: "a user id") }
        if let a = m["anonymous_id"] { anonymousId = reader.string(a, "\(path).anonymous_id", expected: "an anonymous id") }
        if m["user"] == nil && m["anonymous_id"] == nil && !m.hasTypo(of: ["user"]) {
            reader.error(at: node, path, "missing required key \"user\"")
        }
        if m.has("properties") && ![.track, .page, .screen].contains(kind) {
            reader.error(at: m.keyNode("properties"), "\(path).properties", "\(kinds[0]) events have no properties")
        }
        if m.has("traits") && kind != .group {
            reader.error(
                at: m.keyNode("traits"), "\(path).traits",
                kind == .identify
                    ? "write the traits as the value of identify: {identify: {tier: gold}}" : "only group events take traits")
        }
        var properties = Value.emptyObject
        if let p = m["properties"] {
            if case .mapping = p {
                properties = reader.value(p, "\(path).properties")
            } else {
                reader.error(
                    at: p, "\(path).properties", "expected properties as a mapping, like {price: 80}, found \(reader.found(p))")
            }
        }
        let messageId =
            m["message_id"].flatMap { reader.string($0, "\(path).message_id", expected: "a message id") }
            ?? "\(reader.file):\(node.mark?.line ?? 0):\(node.mark?.column ?? 0)"
        var event = Event(
            kind: kind, userId: userId ?? anonymousId ?? "", anonymousId: anonymousId, messageId: messageId, timestamp: at,
            properties: properties)
        switch kind {
        case .track, .page, .screen:
            event.name = reader.string(payload, kindPath, expected: kind == .track ? "an event name" : "a name") ?? ""
        case .identify:
            if case .mapping = payload {
                event.traits = reader.value(payload, kindPath)
            } else {
                reader.error(
                    at: payload, kindPath, "expected the traits as a mapping, like {tier: gold}, found \(reader.found(payload))")
            }
        case .group:
            event.groupId = reader.string(payload, kindPath, expected: "a group id")
            if let t = m["traits"] {
                if case .mapping = t {
                    event.traits = reader.value(t, "\(path).traits")
                } else {
                    reader.error(at: t, "\(path).traits", "expected the group's traits as a mapping, found \(reader.found(t))")
                }
            }
        case .alias:
            event.previousId = reader.string(payload, kindPath, expected: "the previous user id")
        }
        return event
    }

    func parseExpect(_ node: YAMLNode, _ path: String, only: [String]) -> Expectations {
        var expect = Expectations()
        guard let m = reader.mapping(node, path, allowed: ["touches", "exact", "no_touches", "funnel", "traits"]) else {
            return expect
        }
        if let t = m["touches"], let list = reader.sequence(t, "\(path).touches", what: "a list of touch patterns") {
            expect.touches = list.enumerated().compactMap { pattern($1, "\(path).touches[\($0)]", only: only) }
        }
        if let e = m["exact"], let exact = reader.bool(e, "\(path).exact") { expect.exact = exact }
        if let n = m["no_touches"], let list = reader.sequence(n, "\(path).no_touches", what: "a list of touch patterns") {
            expect.noTouches = list.enumerated().compactMap { pattern($1, "\(path).no_touches[\($0)]", only: only) }
        }
        if let f = m["funnel"],
            let fm = reader.mapping(f, "\(path).funnel", allowed: nil, what: "counters per journey, like {cart: {entered: 1}}")
        {
            for item in fm.items {
                let journeyPath = "\(path).funnel.\(item.key)"
                let steps = known.journeySteps[item.key]
                if steps == nil { reader.error(at: item.keyNode, journeyPath, unknownJourney(item.key)) }
                guard
                    let counters = reader.mapping(
                        item.value, journeyPath, allowed: nil, what: "counters like {entered: 1, converted: 0}")
                else { continue }
                var values: [String: Int] = [:]
                for counter in counters.items {
                    let counterPath = "\(journeyPath).\(counter.key)"
                    if counter.key.hasPrefix("reached.") {
                        let step = String(counter.key.dropFirst(8))
                        if let steps, !steps.contains(step) {
                            reader.error(
                                at: counter.keyNode, counterPath,
                                "journey \(item.key) has no step \"\(step)\"\(Suggestions.didYouMean(step, in: steps))")
                        }
                    } else if !counter.key.hasPrefix("exited."), !Self.counters.contains(counter.key) {
                        reader.error(
                            at: counter.keyNode, counterPath,
                            "unknown funnel counter \"\(counter.key)\"\(Suggestions.didYouMean(counter.key, in: Self.counters)) (known: \(Self.counters.joined(separator: ", ")), exited.<reason>, reached.<step>)"
                        )
                        continue
                    }
                    if let n = reader.integer(counter.value, counterPath, in: 0...Int.max) { values[counter.key] = n }
                }
                expect.funnel[item.key] = values
            }
        }
        if let t = m["traits"],
            let tm = reader.mapping(t, "\(path).traits", allowed: nil, what: "traits per user, like {u1: {tier: gold}}")
        {
            for item in tm.items {
                let userPath = "\(path).traits.\(item.key)"
                guard case .mapping = item.value else {
                    reader.error(
                        at: item.value, userPath,
                        "expected the user's traits as a mapping, like {tier: gold}, found \(reader.found(item.value))")
                    continue
                }
                expect.traits[item.key] = reader.value(item.value, userPath)
            }
        }
        return expect
    }

    func pattern(_ node: YAMLNode, _ path: String, only: [String]) -> TouchPattern? {
        guard let m = reader.mapping(node, path, allowed: Self.patternKeys, what: "a touch pattern like {user: u1, step: remind}")
        else { return nil }
        var p = TouchPattern(line: node.mark?.line ?? 0)
        p.user = m["user"].flatMap { reader.string($0, "\(path).user", expected: "a user id") }
        p.at = m["at"].flatMap { reader.timestamp($0, "\(path).at") }
        if let j = m["journey"], let id = reader.string(j, "\(path).journey", expected: "a journey id") {
            if known.journeySteps[id] == nil {
                reader.error(at: j, "\(path).journey", unknownJourney(id))
            } else if !only.isEmpty && !only.contains(id) {
                reader.error(
                    at: j, "\(path).journey", "journey \(id) is not among this test's journeys (\(only.joined(separator: ", ")))")
            }
            p.journey = id
        }
        if let s = m["step"], let step = reader.string(s, "\(path).step", expected: "a step id") {
            if let journey = p.journey {
                if let steps = known.journeySteps[journey], !steps.contains(step) {
                    reader.error(
                        at: s, "\(path).step",
                        "journey \(journey) has no step \"\(step)\"\(Suggestions.didYouMean(step, in: steps))")
                }
            } else if m["journey"] == nil {
                let scope = only.isEmpty ? Array(known.journeySteps.keys) : only
                let all = scope.flatMap { known.journeySteps[$0] ?? [] }
                if !scope.isEmpty, !all.contains(step) {
                    reader.error(
                        at: s, "\(path).step",
                        "no journey\(only.isEmpty ? "" : " of this test") has a step \"\(step)\"\(Suggestions.didYouMean(step, in: all))"
                    )
                }
            }
            p.step = step
        }
        if let c = m["channel"], let channel = reader.string(c, "\(path).channel", expected: "a channel name") {
            if !known.channels.contains(channel) {
                reader.error(
                    at: c, "\(path).channel",
                    "unknown channel \"\(channel)\"\(Suggestions.didYouMean(channel, in: known.channels))")
            }
            p.channel = channel
        }
        if let t = m["template"], let template = reader.string(t, "\(path).template", expected: "a template name") {
            if !known.templates.contains(template) {
                reader.error(
                    at: t, "\(path).template",
                    "unknown template \"\(template)\"\(Suggestions.didYouMean(template, in: known.templates))")
            }
            p.template = template
        }
        return p
    }

    func unknownJourney(_ id: String) -> String {
        "unknown journey \"\(id)\"\(Suggestions.didYouMean(id, in: known.journeySteps.keys))"
    }
}
