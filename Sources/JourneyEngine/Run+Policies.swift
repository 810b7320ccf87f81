import JourneyCore
import JourneyRules

/// Policies decided when a touch is due (DESIGN §5): late skip, consent, quiet hours, caps.
extension Run {
    enum Delivery {
        /// The touch was produced, dropped, suppressed or skipped: carry on to the next step.
        case proceed
        /// Hold the send step until then.
        case hold(until: Timestamp)
    }

    /// The cap's window at `now`: touches after `from` count. For calendar caps also when the next day
    /// starts in `zone` (the window moves then).
    static func window(of cap: Cap, at now: Timestamp, zone: Zone) -> (from: Timestamp, nextStart: Timestamp?) {
        guard cap.window == .calendar else { return (now - cap.per, nil) }
        let today = zone.local(now).date
        let first = zone.instant(date: today.adding(days: -(cap.days - 1)), time: TimeOfDay(minutes: 0))
        let tomorrow = zone.instant(date: today.adding(days: 1), time: TimeOfDay(minutes: 0))
        return (first - .milliseconds(1), tomorrow)
    }

    mutating func deliver(_ send: Send, e: inout Enrollment, journey: Journey, step: Step, user: inout UserState) -> Delivery {
        if skipTouches {
            if trace != nil { note(.late, journey.id, step: step.id, "skipped", "touch on \(send.channel) skipped: the timer fired late (late: then skip)") }
            outcome(.skippedLate, user, journey.id, step: step.id, detail: send.channel)
            return .proceed
        }
        if !Self.consents(user, to: send.channel, type: compiled.rules.channel(named: send.channel)?.type) {
            if trace != nil {
                note(.consent, journey.id, step: step.id, "suppressed",
                    "user.unsubscribed = \(user.traits["unsubscribed"]?.jsonText ?? "null") closes channel \(send.channel)")
            }
            outcome(.suppressed, user, journey.id, step: step.id, detail: send.channel)
            return .proceed
        }
        if !journey.transactional {
            let settings = compiled.rules.settings
            if let quiet = journey.limits.quietHours ?? settings.quietHours,
                let end = Schedule.endOfQuietHours(quiet, at: now, zone: user.zone(default: settings.defaultZone))
            {
                if trace != nil {
                    let zone = user.zone(default: settings.defaultZone)
                    note(.quietHours, journey.id, step: step.id, "deferred until \(end.iso8601)",
                        "\(journey.limits.quietHours != nil ? "journey" : "global") quiet hours \(quiet.from)–\(quiet.to) in \(zone.identifier); "
                            + "local time \(zone.local(now).time)")
                }
                outcome(.deferred(until: end), user, journey.id, step: step.id, detail: "quiet hours")
                return .hold(until: end)
            }
            var caps: [(Cap, journeyOnly: Bool)] = journey.limits.cap.map { [($0, true)] } ?? []
            caps += settings.caps.filter { $0.channel == nil || $0.channel == send.channel }.map { ($0, false) }
            let zone = user.zone(default: settings.defaultZone)
            for (cap, journeyOnly) in caps {
                let (from, nextStart) = Self.window(of: cap, at: now, zone: zone)
                let counted = user.touchLog.filter { record in
                    record.at > from
                        && (journeyOnly ? record.journey == journey.id : (cap.channel == nil || record.channel == send.channel))
                }
                guard counted.count >= cap.touches else { continue }
                let scope = "\(journeyOnly ? "journey" : "global") cap \(cap.touches)/\(cap.per)\(cap.window == .calendar ? " (calendar days)" : "")"
                switch cap.over {
                case .drop:
                    if trace != nil { note(.cap, journey.id, step: step.id, "dropped", "\(scope): \(counted.count) touches since \(from.iso8601)") }
                    outcome(.capped, user, journey.id, step: step.id, detail: scope)
                    return .proceed
                case .defer:
                    // Rolling: the moment the oldest counted touch leaves the window. Calendar: the next
                    // local midnight (checked again then; never early).
                    let until = nextStart ?? (counted[counted.count - cap.touches].at + cap.per)
                    if trace != nil { note(.cap, journey.id, step: step.id, "deferred until \(until.iso8601)", "\(scope): \(counted.count) touches since \(from.iso8601)") }
                    outcome(.deferred(until: until), user, journey.id, step: step.id, detail: scope)
                    return .hold(until: until)
                }
            }
        }
        e.touches += 1
        let touch = Touch(
            id: Touch.makeID(
                journey: journey.id, version: journey.version, user: user.id, enrollment: e.seq, step: step.id,
                occurrence: e.touches),
            user: user.id, journey: journey.id, version: journey.version, enrollment: "\(user.id)#\(e.seq)",
            step: step.id, channel: send.channel, template: send.template, at: now, transactional: journey.transactional,
            origin: Touch.Origin(key: e.key, enteredAt: e.enteredAt, trigger: e.trigger, variant: e.variant)
        )
        effects.append(.touch(touch))
        if trace != nil { note(.touch, journey.id, step: step.id, "produced", "touch \(touch.id) on \(send.channel), template \(send.template)") }
        if compiled.capHorizon > .zero {
            let horizon = now - compiled.capHorizon
            if let first = user.touchLog.first, first.at <= horizon { user.touchLog.removeAll { $0.at <= horizon } }
            user.touchLog.append(TouchRecord(at: now, journey: journey.id, channel: send.channel))
        }
        return .proceed
    }

    /// Consent: a user whose `unsubscribed` trait is `true`, or lists this channel's name or type, gets no
    /// touch on it — transactional journeys included (they bypass caps and quiet hours, not consent).
    static func consents(_ user: UserState, to channel: String, type: String?) -> Bool {
        switch user.traits["unsubscribed"] {
        case .bool(true)?: return false
        case .string(let s)?: return s != channel && s != type && s != "all"
        case .array(let items)?:
            return !items.contains { $0 == .string(channel) || (type != nil && $0 == .string(type!)) || $0 == .string("all") }
        default: return true
        }
    }

    mutating func scheduleDateTrigger(_ journey: Journey, user: inout UserState) {
        guard case .date(let trigger) = journey.trigger else { return }
        user.dateSchedules.removeAll { $0.journey == journey.id }
        let zone = user.zone(default: compiled.rules.settings.defaultZone)
        guard let value = user.traits[trigger.trait], let date = Schedule.date(from: value, zone: zone),
            let due = Schedule.due(of: trigger, date: date, after: now, zone: zone)
        else { return }
        let seq = schedule(due, user: user.id, purpose: .dateTrigger(journey.id))
        user.dateSchedules.append(DateSchedule(journey: journey.id, timer: seq, due: due))
    }
}
