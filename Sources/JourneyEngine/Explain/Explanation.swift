public import JourneyCore
public import JourneyRules

/// Everything journeyd can say about one user (`journeyd explain`): the profile, the running enrollments
/// with their journey version and step, the pending timers and when they are due, the decision trace, and
/// the touches still known to the outbox with their delivery attempts and outcome.
///
/// Built from state alone — the daemon's, a checkpoint database's or a replay's — so the three answer alike.
public struct Explanation: Sendable {
    public struct EnrollmentRow: Sendable {
        public var id: String
        public var journey: String
        public var version: String
        public var step: String
        public var phase: String
        public var enteredAt: Timestamp
        public var key: String
        public var variant: String?
    }

    public struct TimerRow: Sendable {
        public var due: Timestamp
        public var seq: UInt64
        /// What the timer does when it fires: `resume cart#2 at step wait_1 (waiting)`, `date trigger birthday`.
        public var purpose: String
    }

    public var user: String
    /// Whether any state is kept for the user.
    public var known: Bool
    public var traits: Value
    /// Per tracked event name: count, first and last time.
    public var history: [HistoryTrack]
    public var enrollments: [EnrollmentRow]
    public var timers: [TimerRow]
    public var trace: [DecisionRecord]
    /// Decision records kept per user where this was read (0: the trace is off).
    public var traceLimit: Int
    /// The user's touches the outbox still knows, oldest first.
    public var touches: [OutboxEntry]
    /// Identity (docs/IDENTITY.md): the id this one was merged into, and the ids merged into it.
    public var mergedInto: String?
    public var aliases: [String]
    /// Cluster mode: the id whose state this user waits for from another partition (a merge's hand-over,
    /// docs/CLUSTER.md), and how many of the user's events and timers wait with it; nil otherwise.
    public var handover: (source: String, held: Int, timers: Int)?

    /// - Parameters:
    ///   - journey: the journey version with this content hash, for step names (nil: shown by index).
    public init(
        user: String, state: UserState?, outbox: [OutboxEntry], traceLimit: Int, journey: (String) -> Journey?
    ) {
        self.user = user
        self.known = state != nil
        self.traits = state?.traits ?? .emptyObject
        self.history = state?.history ?? []
        self.trace = state?.trace ?? []
        self.traceLimit = traceLimit
        self.mergedInto = state?.mergedInto
        self.aliases = state?.aliases ?? []
        self.handover = state?.handover.map { ($0.source, $0.held.count, $0.timers.count) }
        self.touches = outbox.sorted { ($0.touch.at, $0.touch.id) < ($1.touch.at, $1.touch.id) }
        var enrollments: [EnrollmentRow] = []
        var timers: [TimerRow] = []
        for e in state?.enrollments ?? [] {
            let version = journey(e.version)
            let step = version.flatMap { e.step < $0.steps.count ? $0.steps[e.step].id : nil } ?? "#\(e.step)"
            let id = "\(user)#\(e.seq)"
            enrollments.append(
                EnrollmentRow(
                    id: id, journey: e.journey, version: e.version, step: step, phase: Self.name(e.phase), enteredAt: e.enteredAt,
                    key: e.key, variant: e.variant))
            if e.phase == .watching {
                timers.append(TimerRow(due: e.due, seq: e.timer, purpose: "goal window of \(id) (\(e.journey)) closes"))
            } else if e.timer != 0 {
                timers.append(TimerRow(due: e.due, seq: e.timer, purpose: "resume \(id) (\(e.journey)) at step \(step), \(Self.name(e.phase))"))
            }
        }
        for schedule in state?.dateSchedules ?? [] {
            timers.append(TimerRow(due: schedule.due, seq: schedule.timer, purpose: "date trigger of \(schedule.journey)"))
        }
        for recheck in state?.rechecks ?? [] {
            timers.append(TimerRow(due: recheck.due, seq: recheck.timer, purpose: recheck.journey == Run.stagesKey ? "stage recheck" : "segment recheck of \(recheck.journey)"))
        }
        self.enrollments = enrollments
        self.timers = timers.sorted { ($0.due, $0.seq) < ($1.due, $1.seq) }
    }

    static func name(_ phase: Enrollment.Phase) -> String {
        switch phase {
        case .running: "running"
        case .waiting: "waiting"
        case .waitingForEvent: "waiting_for_event"
        case .deferred: "deferred"
        case .holding: "holdout"
        case .watching: "watching_goal"
        }
    }
}

extension Engine {
    /// The journey version with this content hash, if this engine has it loaded.
    public func journey(version: String) -> Journey? { compiled.versions[version] }
}
