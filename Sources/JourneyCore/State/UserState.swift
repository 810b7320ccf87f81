/// Everything journeyd keeps about one user: the profile (traits and the event history rules need)
/// and the user's running enrollments. The engine changes it; a ``StateStore`` keeps it.
public struct UserState: Sendable, Equatable {
    public var id: String
    /// Merged traits from `identify` (and `update` steps), an object.
    public var traits: Value
    /// Per event name, only for the names rules ask about (see ``HistoryTrack``).
    public var history: [HistoryTrack]
    /// Running enrollments, oldest first.
    public var enrollments: [Enrollment]
    /// When the user last entered each journey, per entry key (for `reentry`).
    public var entries: [EntryRecord]
    /// Recent touches, for caps; pruned to the longest cap window.
    public var touchLog: [TouchRecord]
    /// Segment journeys whose condition held at the last evaluation (to detect "becomes true").
    public var segments: [String]
    /// Armed date triggers: journey id → timer.
    public var dateSchedules: [DateSchedule]
    /// The next enrollment sequence number for this user (enrollment ids are `user#seq`).
    public var nextEnrollmentSeq: UInt64
    /// The engine's recent decisions for this user, oldest first (`journeyd explain`), bounded by
    /// `explain.trace`; empty when the trace is off.
    public var trace: [DecisionRecord]
    /// Set when this id was merged into another user (`alias`, `identify` with an `anonymousId`): the
    /// state is then only this pointer, and events for this id apply to that user (docs/IDENTITY.md).
    public var mergedInto: String?
    /// The ids merged into this user (directly; each keeps its own), for `forget` and `explain`.
    public var aliases: [String]
    /// When the traits last changed (event time): which side's traits win in a merge.
    public var traitsChangedAt: Timestamp
    /// Pending re-evaluations of conditions that time alone can make true: segment triggers (journey id →
    /// timer) and the lifecycle stages (key `(stages)`).
    public var rechecks: [DateSchedule]
    /// The user's lifecycle stage (journeyd.yaml `stages`), "" before the first one holds or without stages.
    public var stage: String
    /// Cluster mode: set while this user waits for another partition's owner to hand over the state of
    /// an id that an `identify` or `alias` merges into the user (docs/CLUSTER.md, "Identity across
    /// partitions"); the user's events are held meanwhile, in order. Always nil in the embedded mode.
    public var handover: PendingHandover?

    public init(id: String) {
        self.id = id
        self.traits = .emptyObject
        self.history = []
        self.enrollments = []
        self.entries = []
        self.touchLog = []
        self.segments = []
        self.dateSchedules = []
        self.nextEnrollmentSeq = 1
        self.trace = []
        self.mergedInto = nil
        self.aliases = []
        self.traitsChangedAt = .distantPast
        self.rechecks = []
        self.stage = ""
        self.handover = nil
    }
}

/// A merge waiting for another partition's answer (cluster mode): the request's id, the id whose state
/// was asked for, the user's events held until the answer — the merging event first — and the user's
/// timers that came due meanwhile, earliest first. When the answer comes, events and timers go through
/// the engine in the order of their times, as one partition would have applied them.
public struct PendingHandover: Sendable, Equatable {
    public var request: String
    public var source: String
    public var held: [HeldEvent]
    public var timers: [TimerEntry]

    public init(request: String, source: String, held: [HeldEvent], timers: [TimerEntry] = []) {
        self.request = request
        self.source = source
        self.held = held
        self.timers = timers
    }
}

/// An event held for a user waiting for a hand-over: the line as received (parsed again when it is
/// applied), when and where it was received, and its deduplication namespace.
public struct HeldEvent: Sendable, Equatable {
    public var line: [UInt8]
    public var receivedAt: Timestamp
    public var origin: String
    public var namespace: String

    public init(line: [UInt8], receivedAt: Timestamp, origin: String, namespace: String) {
        self.line = line
        self.receivedAt = receivedAt
        self.origin = origin
        self.namespace = namespace
    }
}

/// What the rules need to know about one event name for one user.
public struct HistoryTrack: Sendable, Equatable {
    public var event: String
    public var count: Int
    public var first: Timestamp
    public var last: Timestamp
    /// Lifetime sums of the tracked properties (same order as the engine's property list for the name).
    public var sums: [Double]
    /// Occurrences inside the longest window rules ask about, oldest first.
    public var recent: [HistoryEntry]

    public init(event: String, at: Timestamp, propertyCount: Int) {
        self.event = event
        self.count = 0
        self.first = at
        self.last = at
        self.sums = Array(repeating: 0, count: propertyCount)
        self.recent = []
    }
}

public struct HistoryEntry: Sendable, Equatable {
    public var at: Timestamp
    /// Values of the tracked properties at that occurrence (non-numbers as 0).
    public var values: [Double]
    public init(at: Timestamp, values: [Double]) {
        self.at = at
        self.values = values
    }
}

public struct EntryRecord: Sendable, Equatable {
    public var journey: String
    public var key: String
    public var lastEnteredAt: Timestamp
    public init(journey: String, key: String, lastEnteredAt: Timestamp) {
        self.journey = journey
        self.key = key
        self.lastEnteredAt = lastEnteredAt
    }
}

public struct TouchRecord: Sendable, Equatable {
    public var at: Timestamp
    public var journey: String
    public var channel: String
    public init(at: Timestamp, journey: String, channel: String) {
        self.at = at
        self.journey = journey
        self.channel = channel
    }
}

public struct DateSchedule: Sendable, Equatable {
    public var journey: String
    public var timer: UInt64
    public var due: Timestamp
    public init(journey: String, timer: UInt64, due: Timestamp) {
        self.journey = journey
        self.timer = timer
        self.due = due
    }
}

/// One user's run through one journey.
public struct Enrollment: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Running (only between steps of one evaluation; never stored).
        case running
        /// In a `wait` until its timer.
        case waiting
        /// In a `wait_for`: until the event or the timeout timer.
        case waitingForEvent
        /// A touch held by quiet hours or a `defer` cap until its timer.
        case deferred
        /// In a split's holdout: receives nothing; stays for the goal window so conversions are measured.
        case holding
        /// Ended other than by its goal while the goal window is open: receives nothing and refuses no
        /// re-entry, but a goal event before the window closes (its timer) still counts as its conversion.
        case watching
    }

    /// Per-user sequence number; the enrollment id is `user#seq`.
    public var seq: UInt64
    public var journey: String
    /// Content hash of the journey version the user runs.
    public var version: String
    /// The entry key (`entry.key`), or "" when the journey has none.
    public var key: String
    /// Index of the current step in that version.
    public var step: Int
    public var phase: Phase
    public var enteredAt: Timestamp
    /// The event that started the enrollment (`enrollment.trigger`), as a Segment-shaped object, or null.
    public var trigger: Value
    /// The armed timer (0 = none). A timer that fires with another sequence number is stale and ignored.
    public var timer: UInt64
    /// When the armed timer is due.
    public var due: Timestamp
    /// Touches produced so far (the occurrence part of touch ids).
    public var touches: UInt32
    /// The split arm taken, if any.
    public var variant: String?

    public init(
        seq: UInt64, journey: String, version: String, key: String, step: Int, enteredAt: Timestamp, trigger: Value
    ) {
        self.seq = seq
        self.journey = journey
        self.version = version
        self.key = key
        self.step = step
        self.phase = .running
        self.enteredAt = enteredAt
        self.trigger = trigger
        self.timer = 0
        self.due = enteredAt
        self.touches = 0
        self.variant = nil
    }
}
