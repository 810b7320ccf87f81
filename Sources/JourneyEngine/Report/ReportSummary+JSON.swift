public import JourneyCore

extension ReportSummary {
    /// The same figures as the HTML page, for people who chart them elsewhere (`journeyd report --json`).
    public var jsonValue: Value {
        func n(_ x: Int) -> Value { .number(Double(x)) }
        func object(_ members: [(String, Value)]) -> Value { .object(members.map { Value.Member($0.0, $0.1) }) }
        let journeys: [Value] = self.journeys.map { row in
            var members: [(String, Value)] = [
                ("journey", .string(row.id)), ("entered", n(row.entered)),
                ("steps", .array(row.steps.map { object([("step", .string($0.id)), ("reached", n($0.reached))]) })),
                ("touched", n(row.touched)), ("converted", n(row.converted)), ("goal", .string(row.goal)),
                ("held_back", object([
                    ("capped", n(row.capped)), ("deferred_quiet_hours", n(row.deferredQuietHours)),
                    ("deferred_cap", n(row.deferredCap)), ("suppressed_consent", n(row.suppressed)),
                    ("skipped_late", n(row.skippedLate)),
                ])),
                ("exited", object(row.exited.map { ($0.reason, n($0.count)) })),
            ]
            if let u = row.uplift {
                members.append(("uplift", object([
                    ("treatment", object([("users", n(u.treatment.total)), ("converted", n(u.treatment.successes)), ("rate", .number(u.treatment.rate))])),
                    ("holdout", object([("users", n(u.holdout.total)), ("converted", n(u.holdout.successes)), ("rate", .number(u.holdout.rate))])),
                    ("uplift", .number(u.uplift)), ("lower", .number(u.lower)), ("upper", .number(u.upper)),
                    ("method", .string(UpliftInterval.method)), ("sized_to_tell", .bool(u.isSizedToTell)),
                    ("minimum_group", n(UpliftInterval.minimumGroup)), ("verdict", .string(row.caveat ?? u.verdict)), ("comparable", .bool(row.caveat == nil)),
                ])))
            }
            return object(members)
        }
        var top: [(String, Value)] = [("source", .string(source))]
        if let period { top += [("first", .string(period.first.iso8601)), ("last", .string(period.last.iso8601))] }
        top += [
            ("journeys", .array(journeys)),
            ("touches_per_day", object(touchesPerDay.map { channel in (channel.channel, object(channel.days.map { ($0.day, n($0.count)) })) })),
            ("deliveries", deliveriesByState.map { object($0.map { ($0.state, n($0.count)) }) } ?? .null),
            ("deliveries_per_channel", deliveries.map { rows in object(rows.map { ($0.channel, object($0.states.map { ($0.state, n($0.count)) })) }) } ?? .null),
            ("stages", object(stages.map { ($0.name, n($0.users)) })),
            ("transitions", .array(transitions.map { object([("from", .string($0.from)), ("to", .string($0.to)), ("count", n($0.count))]) })),
            ("duplicates", n(duplicates)),
        ]
        return object(top)
    }
}
