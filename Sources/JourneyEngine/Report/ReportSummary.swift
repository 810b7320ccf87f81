public import JourneyCore
public import JourneyRules

/// What `journeyd report` shows, computed from ``ReportFigures`` and the rules they were taken under
/// (step order, holdout arms, stage order), plus the outbox's delivery states when there is an outbox.
/// The HTML page (``ReportPage``) and `--json` both print this.
public struct ReportSummary: Sendable {
    public struct JourneyRow: Sendable {
        public var id: String
        public var description: String
        public var entered: Int
        /// Arrivals per step, in file order.
        public var steps: [(id: String, reached: Int)]
        public var touched: Int
        public var converted: Int
        public var goal: String
        /// Treatment against holdout, for journeys whose split has a holdout arm.
        public var uplift: UpliftInterval?
        /// Why treatment and holdout are not watched alike (nil when they are): then the uplift is biased.
        public var caveat: String?
        public var capped: Int
        public var deferredQuietHours: Int
        public var deferredCap: Int
        public var suppressed: Int
        public var skippedLate: Int
        public var exited: [(reason: String, count: Int)]
    }

    /// Where the figures come from ("replay of events.jsonl", "the running daemon", "state.sqlite").
    public var source: String
    public var period: (first: Timestamp, last: Timestamp)?
    public var journeys: [JourneyRow] = []
    /// Channel → (UTC day, touches), days ascending.
    public var touchesPerDay: [(channel: String, days: [(day: String, count: Int)])] = []
    /// Touches per channel and delivery state (every state, in ``JourneyCore/DeliveryState`` order), channels
    /// by name; nil for a back-test (nothing is sent).
    public var deliveries: [(channel: String, states: [(state: String, count: Int)])]?
    /// Users per stage now, in declared order.
    public var stages: [(name: String, users: Int)] = []
    public var transitions: [(from: String, to: String, count: Int)] = []
    public var duplicates: Int

    /// - Parameter outbox: the touches not final yet (pending, attempting, retry) per channel and state, as the
    ///   outbox holds them now; nil for a back-test. The final states come from the figures.
    public init(figures: ReportFigures, rules: RuleSet, outbox: [String: [DeliveryState: Int]]?, source: String) {
        self.source = source
        self.period = figures.period
        self.duplicates = figures["D\tduplicates"]
        for journey in rules.journeys { journeys.append(Self.row(journey, figures)) }
        var channels: [String: [(String, Int)]] = [:]
        for (key, n) in figures.group("T\t") {
            let parts = key.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { continue }
            channels[parts[0], default: []].append((parts[1], n))
        }
        touchesPerDay = channels.keys.sorted().map { ($0, channels[$0]!.sorted { $0.0 < $1.0 }) }
        self.deliveries = outbox.map { Self.deliveries(figures.group("O\t"), waiting: $0) }
        let users = figures.group("U\t")
        stages = rules.settings.stages.map { ($0.name, users[$0.name] ?? 0) }
        transitions = figures.group("S\t").compactMap { key, n in
            let parts = key.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1], n) : nil
        }.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
    }

    static func deliveries(_ final: [String: Int], waiting: [String: [DeliveryState: Int]]) -> [(channel: String, states: [(state: String, count: Int)])] {
        var counts = waiting.mapValues { $0.filter { !$0.key.isFinal } }
        for (key, n) in final {
            let parts = key.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2, let state = DeliveryState(rawValue: String(parts[1])), state.isFinal else { continue }
            counts[String(parts[0]), default: [:]][state, default: 0] += n
        }
        return counts.keys.sorted().map { channel in (channel, DeliveryState.allCases.map { ($0.rawValue, counts[channel]?[$0] ?? 0) }) }
    }

    /// Touches per delivery state over every channel.
    public var deliveriesByState: [(state: String, count: Int)]? {
        deliveries.map { rows in
            DeliveryState.allCases.map { state in (state.rawValue, rows.reduce(0) { $0 + ($1.states.first { $0.state == state.rawValue }?.count ?? 0) }) }
        }
    }

    static func row(_ journey: Journey, _ figures: ReportFigures) -> JourneyRow {
        let j = "J\t\(journey.id)\t"
        let reached = figures.group(j + "reached\t")
        let converted = figures.group(j + "converted\t")
        let heldOut = figures.group(j + "held_out\t")
        var uplift: UpliftInterval?
        for step in journey.steps {
            guard case .split(let arms) = step.kind, arms.contains(where: \.holdout) else { continue }
            let holdoutArms = arms.filter(\.holdout).map(\.name)
            let treatmentArms = arms.filter { !$0.holdout }.map(\.name)
            let held = holdoutArms.reduce(0) { $0 + (heldOut[$1] ?? 0) }
            let total = reached[step.id] ?? 0
            uplift = UpliftInterval(
                treatment: .init(treatmentArms.reduce(0) { $0 + (converted[$1] ?? 0) }, of: max(0, total - held)),
                holdout: .init(holdoutArms.reduce(0) { $0 + (converted[$1] ?? 0) }, of: held))
            break
        }
        let caveat = uplift == nil ? nil : Self.caveat(journey)
        let goal = journey.goal.map { goal in "\(goal.match.event)" + (goal.within.map { " within \($0)" } ?? "") } ?? ""
        return JourneyRow(
            id: journey.id, description: journey.description, entered: figures[j + "entered"],
            steps: journey.steps.map { ($0.id, reached[$0.id] ?? 0) }, touched: figures[j + "touched"],
            converted: converted.values.reduce(0, +), goal: goal, uplift: uplift, caveat: caveat, capped: figures[j + "capped"],
            deferredQuietHours: figures[j + "deferred\tquiet_hours"], deferredCap: figures[j + "deferred\tcap"],
            suppressed: figures[j + "suppressed"], skippedLate: figures[j + "skipped_late"],
            exited: figures.group(j + "exited\t").sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Every enrollment, treatment or holdout, is watched for its goal until the goal window closes, however
    /// it ended (Run+GoalWatch), so the two groups compare alike — when there is a window to watch.
    static func caveat(_ journey: Journey) -> String? {
        guard journey.goal?.within != nil else {
            return "not comparable: the goal has no window (within), so the holdout is not watched for conversions; give it one, e.g. goal: {event: \(journey.goal?.match.event ?? "purchase"), within: 7d}"
        }
        return nil
    }
}
