import JourneyCore
public import JourneyEngine
public import JourneyRules

/// Per-journey counters built from the engine's effects: the funnel `replay` prints and tests assert.
public struct Funnel: Sendable, Equatable {
    public struct Counters: Sendable, Equatable {
        public var entered = 0
        /// Arrivals per step id.
        public var reached: [String: Int] = [:]
        public var touched = 0
        public var converted = 0
        public var capped = 0
        public var deferred = 0
        public var suppressed = 0
        public var skippedLate = 0
        public var heldOut = 0
        public var updated = 0
        /// Exits per reason.
        public var exited: [String: Int] = [:]
        public init() {}

        /// A counter by its name in test files: entered, touched, converted, capped, deferred, suppressed,
        /// skipped_late, held_out, updated, exited (all reasons), `exited.<reason>`, `reached.<step>`.
        public func value(named name: String) -> Int? {
            switch name {
            case "entered": return entered
            case "touched": return touched
            case "converted": return converted
            case "capped": return capped
            case "deferred": return deferred
            case "suppressed": return suppressed
            case "skipped_late": return skippedLate
            case "held_out": return heldOut
            case "updated": return updated
            case "exited": return exited.values.reduce(0, +)
            default:
                if name.hasPrefix("reached.") { return reached[String(name.dropFirst(8))] ?? 0 }
                if name.hasPrefix("exited.") { return exited[String(name.dropFirst(7))] ?? 0 }
                return nil
            }
        }
    }

    public private(set) var journeys: [String: Counters] = [:]
    public private(set) var duplicates = 0

    public init() {}

    public mutating func record(_ effect: Effect) {
        switch effect {
        case .touch(let touch):
            journeys[touch.journey, default: Counters()].touched += 1
        case .outcome(let outcome):
            if case .duplicate = outcome.kind {
                duplicates += 1
                return
            }
            if case .stageChanged = outcome.kind { return }  // about the user, not a journey: in the report
            // Mutate in place: copying the counters out and back would copy their dictionaries each time.
            Self.count(outcome, in: &journeys[outcome.journey, default: Counters()])
        }
    }

    private static func count(_ outcome: Outcome, in c: inout Counters) {
        switch outcome.kind {
        case .entered: c.entered += 1
        case .reached: c.reached[outcome.step, default: 0] += 1
        case .converted: c.converted += 1
        case .exited:
            // Reasons with a variable part ("exit_when purchase", "late by 2h") count under their first word.
            let reason = outcome.detail.firstIndex(of: " ").map { String(outcome.detail[..<$0]) } ?? outcome.detail
            c.exited[reason, default: 0] += 1
        case .capped: c.capped += 1
        case .deferred: c.deferred += 1
        case .suppressed: c.suppressed += 1
        case .skippedLate: c.skippedLate += 1
        case .heldOut: c.heldOut += 1
        case .updated: c.updated += 1
        case .duplicate, .stageChanged: break
        }
    }

    /// A fixed-width table, one block per journey in rule-set order, steps in file order.
    public func table(for rules: RuleSet) -> String {
        var lines: [String] = []
        func row(_ label: String, _ n: Int, _ of: Int? = nil) {
            var line = label.rightPadded(36) + String(n).leftPadded(9)
            if let of, of > 0 {
                let pct = Double(n) * 100 / Double(of)
                line += "  " + String(format1(pct)).leftPadded(6) + "%"
            }
            lines.append(line)
        }
        for journey in rules.journeys {
            let c = journeys[journey.id] ?? Counters()
            lines.append("journey \(journey.id) (version \(journey.version))")
            row("  entered", c.entered)
            for step in journey.steps { row("  reached \(step.id)", c.reached[step.id] ?? 0, c.entered) }
            row("  touched", c.touched)
            row("  converted", c.converted, c.entered)
            row("  capped", c.capped)
            row("  deferred", c.deferred)
            if c.suppressed > 0 { row("  suppressed", c.suppressed) }
            if c.skippedLate > 0 { row("  skipped (late)", c.skippedLate) }
            if c.heldOut > 0 { row("  held out", c.heldOut, c.entered) }
            row("  exited", c.exited.values.reduce(0, +))
            for reason in c.exited.keys.sorted() { row("    \(reason)", c.exited[reason]!) }
        }
        if duplicates > 0 { lines.append("duplicate events ignored: \(duplicates)") }
        return lines.joined(separator: "\n")
    }
}

func format1(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

extension String {
    func rightPadded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
