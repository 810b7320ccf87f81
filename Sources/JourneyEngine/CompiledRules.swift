import JourneyCore
import JourneyRules

/// A rule set prepared for evaluation: journeys indexed by what can start or touch them, so an event
/// costs only the journeys it can trigger, and the history plan derived from every expression.
/// Immutable, and a class so that each evaluation holds it by one reference.
final class CompiledRules: Sendable {
    /// Every journey version loaded in the engine's life, by content hash (see ``Engine``).
    let versions: [String: Journey]
    let rules: RuleSet
    /// Current journeys by id.
    let journeysByID: [String: Int]
    /// Track event name → journeys it triggers; `*` triggers are in `anyEventTriggers`.
    let eventTriggers: [String: [Int]]
    let anyEventTriggers: [Int]
    /// `page` and `screen` triggers by name (a page's also by path), `*` for any page or screen.
    let pageTriggers: [String: [Int]]
    let screenTriggers: [String: [Int]]
    /// Trait name → journeys whose trait-change trigger watches it.
    let traitTriggers: [String: [Int]]
    /// Trait name → journeys with a date trigger on it.
    let dateTriggers: [String: [Int]]
    let segmentJourneys: [Int]
    /// Stage name → journeys triggered when a user's stage becomes it.
    let stageTriggers: [String: [Int]]
    let history: HistoryPlan
    /// The current version of every journey, by identity: an enrollment on one of these needs no migration.
    let current: Set<ObjectIdentifier>
    /// The longest cap window (journey or global): touch records older than this are pruned.
    let capHorizon: TimeSpan

    init(_ rules: RuleSet, versions: [String: Journey]) {
        self.rules = rules
        self.versions = versions
        var byID: [String: Int] = [:]
        var events: [String: [Int]] = [:]
        var anyEvent: [Int] = []
        var pages: [String: [Int]] = [:]
        var screens: [String: [Int]] = [:]
        var traits: [String: [Int]] = [:]
        var dates: [String: [Int]] = [:]
        var segments: [Int] = []
        var stages: [String: [Int]] = [:]
        var needs: [HistoryNeed] = rules.settings.stages.compactMap(\.condition).flatMap(\.historyNeeds)
        var horizon = TimeSpan.zero
        for cap in rules.settings.caps { horizon = max(horizon, cap.reach) }
        for (i, journey) in rules.journeys.enumerated() {
            byID[journey.id] = i
            switch journey.trigger {
            case .event(let match):
                switch match.kind {
                case .track: if match.event == "*" { anyEvent.append(i) } else { events[match.event, default: []].append(i) }
                case .page: pages[match.event, default: []].append(i)
                case .screen: screens[match.event, default: []].append(i)
                }
            case .traitChange(let trait, _): traits[trait, default: []].append(i)
            case .date(let trigger): dates[trigger.trait, default: []].append(i)
            case .segment: segments.append(i)
            case .stage(let becomes, _): stages[becomes, default: []].append(i)
            }
            needs.append(contentsOf: journey.expressions.flatMap(\.historyNeeds))
            if let cap = journey.limits.cap { horizon = max(horizon, cap.reach) }
        }
        self.journeysByID = byID
        self.current = Set(rules.journeys.map(ObjectIdentifier.init))
        self.eventTriggers = events
        self.anyEventTriggers = anyEvent
        self.pageTriggers = pages
        self.screenTriggers = screens
        self.traitTriggers = traits
        self.dateTriggers = dates
        self.segmentJourneys = segments
        self.stageTriggers = stages
        self.history = HistoryPlan(needs)
        self.capHorizon = horizon
    }

    func journey(id: String) -> Journey? { journeysByID[id].map { rules.journeys[$0] } }
}

/// Which event names the engine keeps history for, for how long, and which properties it sums.
struct HistoryPlan: Sendable {
    struct Track: Sendable {
        /// The longest `within:` asked for; nil when only lifetime figures are needed.
        var window: TimeSpan?
        var properties: [String]
    }
    let tracks: [String: Track]

    init(_ needs: [HistoryNeed]) {
        var tracks: [String: Track] = [:]
        for need in needs {
            var track = tracks[need.event] ?? Track(window: nil, properties: [])
            if let within = need.within { track.window = max(track.window ?? .zero, within) }
            if let property = need.property, !track.properties.contains(property) { track.properties.append(property) }
            tracks[need.event] = track
        }
        self.tracks = tracks
    }

    var isEmpty: Bool { tracks.isEmpty }
}

extension Journey {
    /// Every compiled expression in the journey (for history needs).
    var expressions: [Expression] {
        var all: [Expression] = []
        switch trigger {
        case .event(let match): all += match.condition.map { [$0] } ?? []
        case .traitChange(_, let condition): all += condition.map { [$0] } ?? []
        case .segment(let condition): all.append(condition)
        case .date, .stage: break
        }
        all += [entry.condition, entry.key].compactMap { $0 }
        all += exitWhen.compactMap(\.condition)
        if let goal, let condition = goal.match.condition { all.append(condition) }
        for step in steps {
            switch step.kind {
            case .branch(let arms, _): all += arms.map(\.condition)
            case .waitFor(let waitFor): all += waitFor.match.condition.map { [$0] } ?? []
            default: break
            }
        }
        return all
    }
}

extension Cap {
    /// How far back touches can still count: `per`, and a day more for calendar caps (a local day
    /// can last 25 hours, and the window starts at a local midnight).
    var reach: TimeSpan { window == .calendar ? per + .days(1) : per }
}

extension CompiledRules {
    /// The journeys a `page` or `screen` event may trigger, in journey order, each once: by name, a page
    /// also by `properties.path`, and those for any page or screen (`*`).
    func viewTriggers(_ event: Event) -> [Int] {
        let table = event.kind == .page ? pageTriggers : screenTriggers
        guard !table.isEmpty else { return [] }
        var indices = (table[event.name] ?? []) + (table["*"] ?? [])
        if event.kind == .page, let path = event.properties["path"]?.stringValue, path != event.name { indices += table[path] ?? [] }
        return indices.count < 2 ? indices : Array(Set(indices)).sorted()
    }
}
