public import JourneyCore

/// An explanation as JSON (`--json`, the control socket's answer) and as text for people.
extension Explanation {
    public var jsonValue: Value {
        func time(_ t: Timestamp?) -> Value { t.map { .string($0.iso8601) } ?? .null }
        return .object([
            .init("user", .string(user)),
            .init("known", .bool(known)),
            .init("profile", traits),
            .init("merged_into", mergedInto.map(Value.string) ?? .null),
            .init("aliases", .array(aliases.map(Value.string))),
            .init(
                "handover",
                handover.map {
                    .object([
                        .init("source", .string($0.source)), .init("held_events", .number(Double($0.held))),
                        .init("held_timers", .number(Double($0.timers))),
                    ])
                } ?? .null),
            .init(
                "history",
                .array(history.map { track in
                    .object([
                        .init("event", .string(track.event)), .init("count", .number(Double(track.count))),
                        .init("first", time(track.first)), .init("last", time(track.last)),
                    ])
                })),
            .init(
                "enrollments",
                .array(enrollments.map { e in
                    .object([
                        .init("id", .string(e.id)), .init("journey", .string(e.journey)), .init("version", .string(e.version)),
                        .init("step", .string(e.step)), .init("phase", .string(e.phase)), .init("entered_at", time(e.enteredAt)),
                        .init("key", .string(e.key)), .init("variant", e.variant.map(Value.string) ?? .null),
                    ])
                })),
            .init(
                "timers",
                .array(timers.map { t in
                    .object([.init("due", time(t.due)), .init("seq", .number(Double(t.seq))), .init("purpose", .string(t.purpose))])
                })),
            .init("trace_limit", .number(Double(traceLimit))),
            .init(
                "trace",
                .array(trace.map { record in
                    .object([
                        .init("at", time(record.at)), .init("input", .string(record.input)),
                        .init(
                            "decisions",
                            .array(record.decisions.map { d in
                                .object([
                                    .init("kind", .string(d.kind.rawValue)), .init("journey", .string(d.journey)),
                                    .init("step", .string(d.step)), .init("verdict", .string(d.verdict)), .init("reason", .string(d.reason)),
                                ])
                            })),
                    ])
                })),
            .init(
                "touches",
                .array(touches.map { entry in
                    .object([
                        .init("id", .string(entry.touch.id)), .init("journey", .string(entry.touch.journey)),
                        .init("step", .string(entry.touch.step)), .init("channel", .string(entry.touch.channel)),
                        .init("at", time(entry.touch.at)), .init("state", .string(entry.state.rawValue)),
                        .init("attempts", .number(Double(entry.attempts))), .init("first_attempt_at", time(entry.firstAttemptAt)),
                        .init("next_attempt", time(entry.nextAttempt)), .init("reason", entry.reason.map(Value.string) ?? .null),
                    ])
                })),
        ])
    }

    /// The explanation for people: sections, one line per fact, decisions indented under their input.
    public var text: String { Self.text(jsonValue) }

    /// The text of an explanation's JSON form, wherever it came from (the daemon answers JSON).
    public static func text(_ json: Value) -> String {
        func s(_ v: Value?, _ key: String) -> String { v?[key]?.stringValue ?? "" }
        func list(_ key: String) -> [Value] { json[key]?.arrayValue ?? [] }
        let known = json["known"] == .bool(true)
        var out = "user \(s(json, "user"))" + (known ? "" : " (no state kept for this user)") + "\n"
        if let owner = json["merged_into"]?.stringValue { out += "  merged into \(owner): its events apply to that user\n" }
        if let aliases = json["aliases"]?.arrayValue, !aliases.isEmpty {
            out += "  ids merged into it: \(aliases.compactMap(\.stringValue).joined(separator: ", "))\n"
        }
        if let source = json["handover"]?["source"]?.stringValue {
            let held = Int(json["handover"]?["held_events"]?.numberValue ?? 0)
            let timers = Int(json["handover"]?["held_timers"]?.numberValue ?? 0)
            out += "  waits for \(source)'s state from another partition, to merge it (cluster mode); \(held) event(s) wait with it"
                + (timers > 0 ? ", and \(timers) timer(s) that came due meanwhile" : "") + "\n"
        }
        out += "\nprofile\n"
        let members = json["profile"]?.members ?? []
        if members.isEmpty { out += "  (no traits)\n" }
        for member in members { out += "  \(member.key) = \(member.value.jsonText)\n" }
        if !list("history").isEmpty {
            out += "\nhistory\n"
            for t in list("history") {
                out += "  \(s(t, "event")): \(t["count"]?.jsonText ?? "0")×, first \(s(t, "first")), last \(s(t, "last"))\n"
            }
        }
        out += "\nenrollments\n"
        if list("enrollments").isEmpty { out += "  (none running)\n" }
        for e in list("enrollments") {
            out += "  \(s(e, "id")) \(s(e, "journey")) version \(s(e, "version")) step \(s(e, "step")) (\(s(e, "phase"))), entered \(s(e, "entered_at"))"
            if !s(e, "key").isEmpty { out += ", key \(s(e, "key"))" }
            if !s(e, "variant").isEmpty { out += ", variant \(s(e, "variant"))" }
            out += "\n"
        }
        out += "\ntimers\n"
        if list("timers").isEmpty { out += "  (none pending)\n" }
        for t in list("timers") { out += "  \(s(t, "due"))  \(s(t, "purpose"))\n" }
        let limit = json["trace_limit"]?.jsonText ?? "0"
        out += "\ndecisions (the last \(limit) inputs)\n"
        if limit == "0" {
            out += "  (the decision trace is off: explain.trace in journeyd.yaml)\n"
        } else if list("trace").isEmpty {
            out += "  (none recorded)\n"
        }
        for record in list("trace") {
            out += "  \(s(record, "at"))  \(s(record, "input"))\n"
            let decisions = record["decisions"]?.arrayValue ?? []
            if decisions.isEmpty { out += "      no journey concerned\n" }
            for d in decisions {
                var line = "      \(s(d, "kind"))"
                if !s(d, "journey").isEmpty { line += " \(s(d, "journey"))" }
                if !s(d, "step").isEmpty { line += "/\(s(d, "step"))" }
                line += ": \(s(d, "verdict"))"
                if !s(d, "reason").isEmpty { line += " — \(s(d, "reason"))" }
                out += line + "\n"
            }
        }
        if !list("touches").isEmpty {
            out += "\ntouches\n"
            for t in list("touches") {
                let attempts = t["attempts"]?.jsonText ?? "0"
                out += "  \(s(t, "id")) \(s(t, "journey"))/\(s(t, "step")) on \(s(t, "channel")) at \(s(t, "at")): "
                out += "\(s(t, "state")) after \(attempts) attempt\(attempts == "1" ? "" : "s")"
                if !s(t, "reason").isEmpty { out += " (\(s(t, "reason")))" }
                out += "\n"
            }
        }
        return out
    }
}
