import JourneyCore
import JourneyRules

/// One evaluation for one user at one instant: an event or a timer, and everything it sets off
/// (trait-change triggers, segment entries, `enroll` steps), bounded in depth.
struct Run {
    let compiled: CompiledRules
    let now: Timestamp
    /// The event being applied (nil for timers). Events are copy-on-write boxes: holding one is a reference.
    let event: Event?
    var effects: [Effect] = []
    /// Traits changed by this run and not yet looked at by triggers.
    var changedTraits: [String] = []
    /// Journeys to enter because of `enroll` steps, processed after the current enrollment settles.
    var pendingEnrolls: [String] = []
    /// Set while running an enrollment woken by a late timer under `late: {then: skip}`.
    var skipTouches = false
    /// Timers armed by this run, for the caller to hand to the store.
    var timers: [TimerEntry] = []
    /// The last timer sequence number used.
    var timerSeq: UInt64
    /// The decision record of this run, when the trace is on for its user (nil: off, nothing is noted).
    var trace: DecisionRecord?
    /// Another profile was merged into the user by this run (Run+Identity): segments are evaluated again.
    var profileMerged = false

    init(compiled: CompiledRules, now: Timestamp, event: Event?, timerSeq: UInt64) {
        self.compiled = compiled
        self.now = now
        self.event = event
        self.timerSeq = timerSeq
    }

    mutating func schedule(_ due: Timestamp, user: String, purpose: TimerEntry.Purpose) -> UInt64 {
        timerSeq += 1
        timers.append(TimerEntry(due: due, seq: timerSeq, user: user, purpose: purpose))
        return timerSeq
    }


    /// Runs `body` with a scope over `user` (and this run's event when `withEvent`), borrowed, not copied.
    func withScope<R>(
        _ user: UserState, journey: Journey?, enrollment: Enrollment? = nil, withEvent: Bool,
        _ body: (EvaluationScope) -> R
    ) -> R {
        withUnsafePointer(to: user) { userPointer in
            withUnsafePointer(to: enrollment) { enrollmentPointer in
                body(
                    EvaluationScope(
                        userPointer: userPointer, event: withEvent ? event : nil,
                        enrollmentPointer: enrollmentPointer, journey: journey, now: now,
                        defaultZone: compiled.rules.settings.defaultZone, plan: compiled.history))
            }
        }
    }

    func test(_ condition: Expression, _ user: UserState, journey: Journey?, enrollment: Enrollment? = nil, withEvent: Bool) -> Bool {
        withScope(user, journey: journey, enrollment: enrollment, withEvent: withEvent) { condition.isTrue(in: $0) }
    }

    mutating func outcome(_ kind: Outcome.Kind, _ user: UserState, _ journey: String, step: String = "", detail: String = "") {
        effects.append(.outcome(Outcome(kind: kind, user: user.id, journey: journey, step: step, detail: detail, at: now)))
        if trace != nil { note(outcome: kind, journey: journey, step: step, detail: detail) }
    }

    // MARK: - Events

    mutating func apply(_ event: Event, to user: inout UserState) {
        switch event.kind {
        case .identify:
            merge(traits: event.traits, into: &user)
        case .track:
            applyConsent(event, to: &user)
            record(event, in: &user)
            if !user.enrollments.isEmpty { react(to: event, user: &user) }
            for index in compiled.eventTriggers[event.name] ?? [] { trigger(index, by: event, user: &user) }
            for index in compiled.anyEventTriggers { trigger(index, by: event, user: &user) }
        case .page, .screen:
            for index in compiled.viewTriggers(event) { trigger(index, by: event, user: &user) }
        case .group, .alias:
            break
        }
        settle(user: &user, profileChanged: event.kind == .identify || event.kind == .track || profileMerged)
    }

    /// Merges identify traits: a `null` value removes the trait. Records which traits changed.
    mutating func merge(traits: Value, into user: inout UserState) {
        guard case .object(let members) = traits else { return }
        for member in members {
            let old = user.traits[member.key]
            if member.value.isNull {
                if old != nil {
                    user.traits.remove(member.key)
                    changedTraits.append(member.key)
                }
            } else if old != member.value {
                user.traits.set(member.key, to: member.value)
                changedTraits.append(member.key)
            }
        }
    }

    /// Unsubscribe and resubscribe events change the `unsubscribed` trait the consent check reads:
    /// `unsubscribed` / `Unsubscribed` (with `properties.channel`, a name or type or a list of them; none
    /// means every channel), `Email Unsubscribed` (channel `email`), and `subscribed` / `Resubscribed`
    /// to reopen a channel (or everything).
    mutating func applyConsent(_ event: Event, to user: inout UserState) {
        let closing: Bool
        var channels: [String]
        switch event.name {
        case "unsubscribed", "Unsubscribed", "Email Unsubscribed": closing = true
        case "subscribed", "Subscribed", "resubscribed", "Resubscribed", "Email Subscribed": closing = false
        default: return
        }
        switch event.properties["channel"] {
        case .string(let c)?: channels = [c]
        case .array(let items)?: channels = items.compactMap(\.stringValue)
        default: channels = event.name.hasPrefix("Email") ? ["email"] : []
        }
        var closed = user.unsubscribedChannels
        if closing {
            closed = channels.isEmpty ? ["all"] : closed + channels.filter { !closed.contains($0) }
        } else {
            closed = channels.isEmpty ? [] : closed.filter { !channels.contains($0) }
        }
        guard user.setUnsubscribedChannels(closed) else { return }
        changedTraits.append("unsubscribed")
    }

    /// Keeps the history the rules ask about (and nothing for other event names).
    func record(_ event: Event, in user: inout UserState) {
        guard !compiled.history.isEmpty, let plan = compiled.history.tracks[event.name] else { return }
        let index: Int
        if let found = user.history.firstIndex(where: { $0.event == event.name }) {
            index = found
        } else {
            user.history.append(HistoryTrack(event: event.name, at: now, propertyCount: plan.properties.count))
            index = user.history.count - 1
        }
        var values: [Double] = []
        if !plan.properties.isEmpty {
            values = plan.properties.map { event.properties[$0]?.numberValue ?? 0 }
        }
        user.history[index].count += 1
        if now < user.history[index].first { user.history[index].first = now }
        if now > user.history[index].last { user.history[index].last = now }
        for (i, v) in values.enumerated() { user.history[index].sums[i] += v }
        if let window = plan.window {
            let horizon = now - window
            user.history[index].recent.removeAll { $0.at <= horizon }
            user.history[index].recent.append(HistoryEntry(at: now, values: values))
        }
    }

    /// Running enrollments see a track event: goals, `exit_when`, `wait_for`.
    mutating func react(to event: Event, user: inout UserState) {
        var i = 0
        while i < user.enrollments.count {
            // Most events concern none of a user's enrollments: look before taking one out of the array.
            if let pinned = compiled.versions[user.enrollments[i].version], compiled.current.contains(ObjectIdentifier(pinned)),
                !Self.concerns(pinned, user.enrollments[i], eventName: event.name)
            {
                i += 1
                continue
            }
            var enrollment = user.enrollments.remove(at: i)
            if enrollment.phase == .watching {
                if watch(enrollment, sees: event, user: user) {
                    user.enrollments.insert(enrollment, at: i)
                    i += 1
                }
                continue
            }
            guard let journey = follow(&enrollment, user: user) else {
                outcome(.exited, user, enrollment.journey, detail: "journey removed")
                continue
            }
            let alive = reactOne(&enrollment, journey: journey, to: event, user: &user)
            if Self.keeps(enrollment, alive: alive) {
                user.enrollments.insert(enrollment, at: i)
                i += 1
            }
        }
    }

    /// Whether a track event named `eventName` can affect the enrollment: a goal, an exit_when, or the
    /// wait_for it is in.
    static func concerns(_ journey: Journey, _ e: Enrollment, eventName: String) -> Bool {
        if let goal = journey.goal, goal.match.event == eventName || goal.match.event == "*" { return true }
        if e.phase == .watching { return false }
        for match in journey.exitWhen where match.event == eventName || match.event == "*" { return true }
        if e.phase == .waitingForEvent, case .waitFor(let waitFor) = journey.steps[e.step].kind {
            return waitFor.match.event == eventName || waitFor.match.event == "*"
        }
        return false
    }

    private mutating func reactOne(
        _ e: inout Enrollment, journey: Journey, to event: Event, user: inout UserState
    ) -> Bool {
        if let goal = journey.goal, matches(goal.match, event, user, e, journey) {
            if trace != nil, let within = goal.within, now > e.enteredAt + within {
                note(.goal, journey.id, step: stepID(e, journey), "too late",
                    "goal \(goal.match.event) after the window: entered \(e.enteredAt.iso8601), within \(within)")
            }
            if goal.within.map({ now <= e.enteredAt + $0 }) ?? true {
                outcome(.converted, user, journey.id, detail: e.variant ?? "")
                outcome(.exited, user, journey.id, detail: "goal")
                return false
            }
        }
        for match in journey.exitWhen where matches(match, event, user, e, journey) {
            return end(&e, journey: journey, user: user, step: stepID(e, journey), detail: "exit_when \(match.event)")
        }
        if e.phase == .waitingForEvent, case .waitFor(let waitFor) = journey.steps[e.step].kind,
            matches(waitFor.match, event, user, e, journey)
        {
            e.timer = 0
            guard go(&e, to: waitFor.onEvent, journey: journey, user: user) else { return false }
            return runSteps(&e, journey: journey, user: &user)
        }
        return true
    }

    /// Whether this run's event matches (name, then condition).
    func matches(_ match: EventMatch, _ event: Event, _ user: UserState, _ e: Enrollment?, _ journey: Journey?) -> Bool {
        guard Self.names(match, event) else { return false }
        guard let condition = match.condition else { return true }
        return test(condition, user, journey: journey, enrollment: e, withEvent: true)
    }

    /// Whether `event` is of the match's kind and name: `*`, the name, or a page's `properties.path`.
    static func names(_ match: EventMatch, _ event: Event) -> Bool {
        switch (match.kind, event.kind) {
        case (.track, .track), (.screen, .screen):
            return match.event == "*" || match.event == event.name
        case (.page, .page):
            return match.event == "*" || match.event == event.name || event.properties["path"]?.stringValue == match.event
        default:
            return false
        }
    }

    /// Maps an enrollment on an outdated version to the current one when the journey says `follow`.
    /// Returns the journey version to run, or nil when the enrollment must end.
    mutating func follow(_ e: inout Enrollment, user: UserState) -> Journey? {
        guard let pinned = compiled.versions[e.version] else { return nil }
        guard let current = compiled.journey(id: e.journey) else {
            return pinned.onChange == .pin ? pinned : nil
        }
        guard current.version != e.version, current.onChange == .follow else { return pinned }
        let stepID = pinned.steps[e.step].id
        guard let index = current.stepIndex(id: stepID) else {
            outcome(.exited, user, e.journey, step: stepID, detail: "step \(stepID) is gone in version \(current.version)")
            return nil
        }
        e.version = current.version
        e.step = index
        return current
    }

    // MARK: - Entering journeys

    mutating func trigger(_ index: Int, by event: Event, user: inout UserState) {
        let journey = compiled.rules.journeys[index]
        guard case .event(let match) = journey.trigger else { return }
        guard matches(match, event, user, nil, journey) else {
            if trace != nil, let condition = match.condition {
                note(.trigger, journey.id, "not matched", "trigger.where " + verdict(of: condition, false, user, journey: journey, withEvent: true))
            }
            return
        }
        if trace != nil {
            note(.trigger, journey.id, "matched", "trigger event \(match.event)"
                + (match.condition.map { "; where " + verdict(of: $0, true, user, journey: journey, withEvent: true) } ?? ""))
        }
        enter(journey, user: &user, withEvent: true)
    }

    /// Enters `journey` if the entry condition, the key and the re-entry policy allow, and runs it.
    mutating func enter(_ journey: Journey, user: inout UserState, withEvent: Bool) {
        if let condition = journey.entry.condition {
            let holds = test(condition, user, journey: journey, withEvent: withEvent)
            if trace != nil {
                note(.entry, journey.id, holds ? "condition met" : "refused",
                    "entry.condition " + verdict(of: condition, holds, user, journey: journey, withEvent: withEvent))
            }
            if !holds { return }
        }
        var key = ""
        if let keyExpression = journey.entry.key {
            switch withScope(user, journey: journey, withEvent: withEvent, { keyExpression.evaluate(in: $0) }) {
            case .null: key = ""
            case .string(let s): key = s
            case let other: key = other.jsonText
            }
        }
        if let running = user.enrollments.first(where: { $0.journey == journey.id && $0.key == key && $0.phase != .watching }) {
            if trace != nil { note(.reentry, journey.id, "refused", "already running as \(user.id)#\(running.seq)" + (key.isEmpty ? "" : " (entry key \(key))")) }
            return
        }
        if let record = user.entries.firstIndex(where: { $0.journey == journey.id && $0.key == key }) {
            let last = user.entries[record].lastEnteredAt
            switch journey.entry.reentry {
            case .once:
                if trace != nil { note(.reentry, journey.id, "refused", "reentry: once; entered before at \(last.iso8601)") }
                return
            case .always: break
            case .after(let span):
                if now < last + span {
                    if trace != nil {
                        note(.reentry, journey.id, "refused",
                            "reentry: after \(span); last entered \(last.iso8601), allowed from \((last + span).iso8601)")
                    }
                    return
                }
            }
            user.entries[record].lastEnteredAt = now
        } else {
            user.entries.append(EntryRecord(journey: journey.id, key: key, lastEnteredAt: now))
        }
        var e = Enrollment(
            seq: user.nextEnrollmentSeq, journey: journey.id, version: journey.version, key: key, step: 0,
            enteredAt: now, trigger: withEvent ? event.map(Self.snapshot) ?? .null : .null
        )
        user.nextEnrollmentSeq += 1
        outcome(.entered, user, journey.id, detail: key)
        outcome(.reached, user, journey.id, step: journey.steps[0].id)
        let alive = runSteps(&e, journey: journey, user: &user)
        if Self.keeps(e, alive: alive) {
            user.enrollments.append(e)
        }
    }

    /// What an enrollment remembers of the event that started it (`enrollment.trigger.…`): its name,
    /// message id and properties. (Its time is `enrollment.entered_at`.)
    static func snapshot(_ event: Event) -> Value {
        .object([
            Value.Member("name", .string(event.name)),
            Value.Member("messageId", .string(event.messageId)),
            Value.Member("properties", event.properties),
        ])
    }

    /// After the profile changed: trait triggers, date schedules, segment entries, `enroll` steps —
    /// repeated while `update` steps keep changing traits, at most a few rounds.
    mutating func settle(user: inout UserState, profileChanged: Bool) {
        var evaluateSegments = profileChanged
        for _ in 0..<8 {
            let changed = changedTraits
            changedTraits.removeAll()
            let enrolls = pendingEnrolls
            pendingEnrolls.removeAll()
            if changed.isEmpty && enrolls.isEmpty && !evaluateSegments { return }
            if !changed.isEmpty { user.traitsChangedAt = max(user.traitsChangedAt, now) }
            for name in changed {
                for index in compiled.traitTriggers[name] ?? [] {
                    let journey = compiled.rules.journeys[index]
                    guard case .traitChange(_, let condition) = journey.trigger else { continue }
                    let holds = condition.map({ test($0, user, journey: journey, withEvent: false) }) ?? true
                    if trace != nil {
                        note(.trigger, journey.id, holds ? "matched" : "not matched",
                            "trait \(name) changed" + (condition.map { "; " + verdict(of: $0, holds, user, journey: journey, withEvent: false) } ?? ""))
                    }
                    if holds { enter(journey, user: &user, withEvent: true) }
                }
                for index in compiled.dateTriggers[name] ?? [] {
                    scheduleDateTrigger(compiled.rules.journeys[index], user: &user)
                }
            }
            if evaluateSegments || !changed.isEmpty {
                evaluateSegments = false
                for index in compiled.segmentJourneys {
                    let journey = compiled.rules.journeys[index]
                    guard case .segment(let condition) = journey.trigger else { continue }
                    let isMember = test(condition, user, journey: journey, withEvent: false)
                    let wasMember = user.segments.contains(journey.id)
                    if isMember && !wasMember {
                        if trace != nil { note(.trigger, journey.id, "matched", "segment became true: " + verdict(of: condition, true, user, journey: journey, withEvent: false)) }
                        user.segments.append(journey.id)
                        enter(journey, user: &user, withEvent: true)
                    } else if !isMember && wasMember {
                        user.segments.removeAll { $0 == journey.id }
                    }
                    recheck(journey, condition, user: &user)  // Run+Recheck: when time alone could change it
                }
            }
            if !compiled.rules.settings.stages.isEmpty { updateStage(&user) }
            for id in enrolls {
                if let journey = compiled.journey(id: id) { enter(journey, user: &user, withEvent: false) }
            }
        }
    }

    // MARK: - Timers

    mutating func fire(_ timer: TimerEntry, user: inout UserState) {
        switch timer.purpose {
        case .dateTrigger(let journeyID):
            guard let slot = user.dateSchedules.firstIndex(where: { $0.journey == journeyID && $0.timer == timer.seq })
            else { return }
            user.dateSchedules.remove(at: slot)
            guard let journey = compiled.journey(id: journeyID) else { return }
            if trace != nil { note(.trigger, journeyID, "matched", "date trigger due \(timer.due.iso8601)") }
            enter(journey, user: &user, withEvent: false)
            if case .date(let trigger) = journey.trigger, trigger.yearly {
                scheduleDateTrigger(journey, user: &user)
            }
        case .segmentRecheck(let journeyID):
            guard takeRecheck(journeyID, timer: timer, user: &user) else { return }
            settle(user: &user, profileChanged: true)
            return
        case .enrollment(let seq):
            guard let i = user.enrollments.firstIndex(where: { $0.seq == seq }), user.enrollments[i].timer == timer.seq
            else { return }
            var e = user.enrollments.remove(at: i)
            e.timer = 0
            if e.phase == .watching {
                closeWindow(of: e, user: user)
                break
            }
            let alive = resume(&e, due: timer.due, user: &user)
            if Self.keeps(e, alive: alive) { user.enrollments.insert(e, at: i) }
        }
        settle(user: &user, profileChanged: false)
    }

    /// Continues an enrollment whose timer fired. Returns whether it is still running.
    private mutating func resume(_ e: inout Enrollment, due: Timestamp, user: inout UserState) -> Bool {
        guard let journey = follow(&e, user: user) else {
            outcome(.exited, user, e.journey, detail: "journey removed")
            return false
        }
        if let late = journey.limits.late, now - due > late.after {
            if trace != nil {
                note(.late, journey.id, step: stepID(e, journey), "late: then \(late.then.rawValue)",
                    "timer due \(due.iso8601) fired \(now - due) late, more than late.after \(late.after)")
            }
            switch late.then {
            case .send: break
            case .skip: skipTouches = true
            case .exit:
                return end(&e, journey: journey, user: user, step: stepID(e, journey), detail: "late by \(now - due)")
            }
        }
        defer { skipTouches = false }
        let step = journey.steps[e.step]
        switch e.phase {
        case .waiting:
            guard go(&e, to: step.next, journey: journey, user: user) else { return false }
        case .waitingForEvent:
            guard case .waitFor(let waitFor) = step.kind, go(&e, to: waitFor.onTimeout, journey: journey, user: user)
            else { return false }
        case .deferred:
            break  // run the held send step again
        case .holding:
            outcome(.exited, user, journey.id, step: step.id, detail: "holdout")
            return false
        case .watching:
            return false  // a watcher's timer closes its goal window (the caller, `closeWindow`)
        case .running:
            break
        }
        return runSteps(&e, journey: journey, user: &user)
    }

    mutating func arm(_ e: inout Enrollment, user: UserState, at due: Timestamp) {
        e.timer = schedule(due, user: user.id, purpose: .enrollment(e.seq))
        e.due = due
    }

    // MARK: - Steps

    /// Moves to `target`. Returns false when the enrollment ends there.
    mutating func go(_ e: inout Enrollment, to target: Target, journey: Journey, user: UserState) -> Bool {
        switch target {
        case .exit:
            return end(&e, journey: journey, user: user, step: journey.steps[e.step].id, detail: "completed")
        case .step(let index):
            e.step = index
            e.phase = .running
            outcome(.reached, user, journey.id, step: journey.steps[index].id)
            return true
        }
    }

    func stepID(_ e: Enrollment, _ journey: Journey) -> String {
        e.step < journey.steps.count ? journey.steps[e.step].id : ""
    }

    /// Runs steps from the current one until the enrollment suspends (returns true) or ends (false).
    mutating func runSteps(_ e: inout Enrollment, journey: Journey, user: inout UserState) -> Bool {
        // Loading refuses cycles without a wait; this bound only protects against a bug.
        for _ in 0..<(journey.steps.count * 4 + 16) {
            let step = journey.steps[e.step]
            switch step.kind {
            case .send(let send):
                switch deliver(send, e: &e, journey: journey, step: step, user: &user) {
                case .proceed:
                    guard go(&e, to: step.next, journey: journey, user: user) else { return false }
                case .hold(let until):
                    e.phase = .deferred
                    arm(&e, user: user, at: until)
                    return true
                }
            case .wait(let wait):
                switch Schedule.due(of: wait, after: now, user: user, defaultZone: compiled.rules.settings.defaultZone) {
                case .at(let due):
                    e.phase = .waiting
                    arm(&e, user: user, at: due)
                    if trace != nil { note(.step, journey.id, step: step.id, "waiting", "until \(due.iso8601)") }
                    return true
                case .now:
                    guard go(&e, to: step.next, journey: journey, user: user) else { return false }
                case .missing(let target):
                    guard go(&e, to: target, journey: journey, user: user) else { return false }
                }
            case .waitFor(let waitFor):
                e.phase = .waitingForEvent
                arm(&e, user: user, at: now + waitFor.timeout)
                if trace != nil { note(.step, journey.id, step: step.id, "waiting for \(waitFor.match.event)", "until \(e.due.iso8601)") }
                return true
            case .branch(let arms, let otherwise):
                let taken = arms.first { test($0.condition, user, journey: journey, enrollment: e, withEvent: false) }
                let target = taken?.target ?? otherwise
                if trace != nil {
                    note(.step, journey.id, step: step.id, taken == nil ? "branch: otherwise" : "branch taken",
                        taken.map { verdict(of: $0.condition, true, user, journey: journey, enrollment: e, withEvent: false) } ?? "no condition held")
                }
                guard go(&e, to: target, journey: journey, user: user) else { return false }
            case .split(let arms):
                let chosen = Self.pick(arms, journey: journey.id, user: user.id, enrollment: e.seq, step: step.id)
                e.variant = chosen.name
                if chosen.holdout {
                    if trace != nil {
                        note(.holdout, journey.id, step: step.id, "held out",
                            "split arm \(chosen.name) (\(Double(chosen.basisPoints) / 100)%), drawn from a stable hash of journey, user, enrollment and step")
                    }
                    outcome(.heldOut, user, journey.id, step: step.id, detail: chosen.name)
                    guard let within = journey.goal?.within else {
                        outcome(.exited, user, journey.id, step: step.id, detail: "holdout")
                        return false
                    }
                    e.phase = .holding
                    arm(&e, user: user, at: max(now, e.enteredAt + within))
                    return true
                }
                if trace != nil { note(.step, journey.id, step: step.id, "split arm \(chosen.name)", "\(Double(chosen.basisPoints) / 100)% of enrollments") }
                guard go(&e, to: chosen.target, journey: journey, user: user) else { return false }
            case .update(let updates):
                apply(updates, to: &user)
                outcome(.updated, user, journey.id, step: step.id)
                guard go(&e, to: step.next, journey: journey, user: user) else { return false }
            case .enroll(let other):
                pendingEnrolls.append(other)
                guard go(&e, to: step.next, journey: journey, user: user) else { return false }
            case .exit:
                return end(&e, journey: journey, user: user, step: step.id, detail: "completed")
            }
        }
        return end(&e, journey: journey, user: user, step: stepID(e, journey), detail: "step limit reached")
    }

    /// The split arm for this enrollment: a stable hash of (journey, user, enrollment, step) in basis points,
    /// so tests and replays reproduce the same assignment.
    static func pick(_ arms: [SplitArm], journey: String, user: String, enrollment: UInt64, step: String) -> SplitArm {
        var h = StableHash()
        h.combine(journey)
        h.combine(user)
        h.combine(enrollment)
        h.combine(step)
        let bucket = Int(h.finalized % 10_000)
        var cumulative = 0
        for arm in arms {
            cumulative += arm.basisPoints
            if bucket < cumulative { return arm }
        }
        return arms[arms.count - 1]
    }

    mutating func apply(_ updates: [TraitUpdate], to user: inout UserState) {
        for update in updates {
            let name: String
            let newValue: Value?
            switch update {
            case .set(let key, let value):
                (name, newValue) = (key, value)
            case .unset(let key):
                (name, newValue) = (key, nil)
            case .increment(let key, let by):
                (name, newValue) = (key, .number((user.traits[key]?.numberValue ?? 0) + by))
            case .addTag(let tag):
                var tags = user.traits["tags"]?.arrayValue ?? []
                if tags.contains(.string(tag)) { continue }
                tags.append(.string(tag))
                (name, newValue) = ("tags", .array(tags))
            case .removeTag(let tag):
                var tags = user.traits["tags"]?.arrayValue ?? []
                guard tags.contains(.string(tag)) else { continue }
                tags.removeAll { $0 == .string(tag) }
                (name, newValue) = ("tags", .array(tags))
            }
            let old = user.traits[name]
            if let newValue {
                if old == newValue { continue }
                user.traits.set(name, to: newValue)
            } else {
                guard old != nil else { continue }
                user.traits.remove(name)
            }
            changedTraits.append(name)
        }
    }
}
