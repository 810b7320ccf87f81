public import JourneyCore
public import JourneyRules

/// Calendar arithmetic in a user's zone: when waits end, when quiet hours end, when date triggers fire.
/// Every result is strictly after the instant asked about, so nothing is ever scheduled in the past.
public enum Schedule {
    public enum Due: Sendable, Equatable {
        case at(Timestamp)
        /// The moment has passed already: continue at once.
        case now
        /// The date the wait depends on is missing: go here.
        case missing(Target)
    }

    static func due(of wait: Wait, after now: Timestamp, user: UserState, defaultZone: Zone) -> Due {
        switch wait {
        case .duration(let span):
            return .at(now + span)
        case .until(let time, let weekdays):
            return .at(nextLocal(time, weekdays: weekdays, after: now, zone: user.zone(default: defaultZone)))
        case .untilDate(let trait, let offsetDays, let at, let ifMissing):
            let zone = user.zone(default: defaultZone)
            guard let value = user.traits[trait], let date = date(from: value, zone: zone) else { return .missing(ifMissing) }
            let due = zone.instant(date: date.adding(days: Int64(offsetDays)), time: at)
            return due > now ? .at(due) : .now
        }
    }

    /// The first instant strictly after `now` whose local time in `zone` is `time` on one of `weekdays`
    /// (ISO numbers, Monday = 1; empty = every day).
    public static func nextLocal(_ time: TimeOfDay, weekdays: Set<Int>, after now: Timestamp, zone: Zone) -> Timestamp {
        let today = zone.local(now).date
        for offset in 0..<9 {
            let day = today.adding(days: Int64(offset))
            if !weekdays.isEmpty && !weekdays.contains(day.weekday) { continue }
            let t = zone.instant(date: day, time: time)
            if t > now { return t }
        }
        return now + .days(7)  // unreachable with a non-empty weekday set
    }

    /// When the quiet-hours window that contains `now` ends, or nil when `now` is outside it.
    public static func endOfQuietHours(_ quiet: QuietHours, at now: Timestamp, zone: Zone) -> Timestamp? {
        let local = zone.local(now)
        guard quiet.contains(local.time) else { return nil }
        // Past `from` in a window that wraps midnight: it ends tomorrow.
        let endDay = quiet.from > quiet.to && local.time >= quiet.from ? local.date.adding(days: 1) : local.date
        let end = zone.instant(date: endDay, time: quiet.to)
        return end > now ? end : nil
    }

    /// A profile date: `YYYY-MM-DD` as written, or an RFC 3339 instant read as a local date in `zone`.
    public static func date(from value: Value, zone: Zone) -> CivilDate? {
        guard case .string(let text) = value, let t = Timestamp(iso8601: text) else { return nil }
        if text.utf8.count == 10 { return CivilDate(daysSinceEpoch: t.milliseconds / 86_400_000) }
        return zone.local(t).date
    }

    /// When a date trigger fires for a profile date: the date shifted by the offset, at the trigger's local
    /// time; for yearly triggers the next anniversary after `now` (29 February falls on the 28th).
    public static func due(of trigger: DateTrigger, date: CivilDate, after now: Timestamp, zone: Zone) -> Timestamp? {
        if !trigger.yearly {
            let t = zone.instant(date: date.adding(days: Int64(trigger.offsetDays)), time: trigger.at)
            return t > now ? t : nil
        }
        let year = zone.local(now).date.year
        for y in (year - 1)...(year + 2) {
            let day = min(date.day, CivilDate.daysIn(month: date.month, year: y))
            let anniversary = CivilDate(year: y, month: date.month, day: day).adding(days: Int64(trigger.offsetDays))
            let t = zone.instant(date: anniversary, time: trigger.at)
            if t > now { return t }
        }
        return nil
    }
}
