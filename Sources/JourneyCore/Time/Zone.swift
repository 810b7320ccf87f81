import Foundation
import Synchronization

/// An IANA time zone (`Asia/Shanghai`, `America/New_York`, `UTC`) that answers the two questions
/// journeys ask: "what is the local date and time at this instant?" and "which instant is this local
/// date and time?" — correctly across daylight-saving transitions.
///
/// Offsets come from the system's tz database through Foundation; each zone remembers the offset
/// interval it last answered from, so repeated questions about nearby instants cost no tz lookup.
public final class Zone: Sendable, CustomStringConvertible {
    public let identifier: String
    private let timeZone: TimeZone
    /// The interval `[start, end)` over which `offset` seconds hold, from the last lookup.
    private let cache = Mutex<(start: Int64, end: Int64, offset: Int64)>((0, 0, 0))

    public static let utc = Zone(validated: "UTC", TimeZone(identifier: "UTC")!)
    /// Zones named so far (writers take the lock) ...
    private static let registry = Mutex<[String: Zone]>(["UTC": utc])
    /// ... and a snapshot of them that readers load without a lock: every event asks for its user's zone,
    /// from as many threads as there are partitions (64 in cluster mode, where one lock made them queue).
    /// A snapshot is replaced when a zone is first named and the old one is never freed (one per zone:
    /// a reader may still hold it).
    private static let published = Atomic<Unmanaged<Registry>>(.passRetained(Registry(["UTC": utc])))

    private final class Registry: Sendable {
        let zones: [String: Zone]
        init(_ zones: [String: Zone]) { self.zones = zones }
    }

    private init(validated identifier: String, _ timeZone: TimeZone) {
        self.identifier = identifier
        self.timeZone = timeZone
    }

    /// The zone for an IANA identifier, or `nil` when the tz database does not know it.
    /// Zones are shared: the same identifier always returns the same instance.
    public static func named(_ identifier: String) -> Zone? {
        if let zone = published.load(ordering: .acquiring).takeUnretainedValue().zones[identifier] { return zone }
        // Foundation also accepts abbreviations such as "EST"; journeys take IANA names only.
        guard identifier == "UTC" || identifier.contains("/") || identifier.hasPrefix("Etc"),
            let tz = TimeZone(identifier: identifier)
        else { return nil }
        let zone = Zone(validated: identifier, tz)
        return registry.withLock { registry in
            if let existing = registry[identifier] { return existing }
            registry[identifier] = zone
            published.store(.passRetained(Registry(registry)), ordering: .releasing)
            return zone
        }
    }

    public var description: String { identifier }

    /// Seconds east of UTC in force at `t`.
    public func offsetSeconds(at t: Timestamp) -> Int64 {
        let seconds = t.milliseconds >= 0 ? t.milliseconds / 1000 : (t.milliseconds - 999) / 1000
        let hit = cache.withLock { c -> Int64? in seconds >= c.start && seconds < c.end ? c.offset : nil }
        if let hit { return hit }
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let offset = Int64(timeZone.secondsFromGMT(for: date))
        // Remember the interval around `t` in which this offset holds (bounded to ±200 days).
        let next = timeZone.nextDaylightSavingTimeTransition(after: date).map { Int64($0.timeIntervalSince1970) }
        let end = min(next ?? seconds + 200 * 86_400, seconds + 200 * 86_400)
        cache.withLock { $0 = (seconds, end, offset) }
        return offset
    }

    /// The local calendar date and time of day (to the minute) at `t`, plus the seconds in the minute.
    public func local(_ t: Timestamp) -> LocalDateTime {
        let localMs = t.milliseconds + offsetSeconds(at: t) * 1000
        let days = localMs >= 0 ? localMs / 86_400_000 : (localMs - 86_399_999) / 86_400_000
        let msOfDay = localMs - days * 86_400_000
        return LocalDateTime(
            date: CivilDate(daysSinceEpoch: days),
            time: TimeOfDay(minutes: Int(msOfDay / 60_000)),
            millisecondsInMinute: Int(msOfDay % 60_000)
        )
    }

    /// The instant at which local `date` and `time` occur in this zone.
    ///
    /// - In a spring-forward gap (a local time that does not exist) the result is the same wall time
    ///   read with the offset before the gap, which lands after the gap: 02:30 on a day that skips
    ///   02:00–03:00 becomes 03:30. Nothing is ever scheduled before the requested wall time.
    /// - In a fall-back overlap (a local time that occurs twice) the result is the first occurrence.
    public func instant(date: CivilDate, time: TimeOfDay) -> Timestamp {
        let wallMs = date.daysSinceEpoch * 86_400_000 + Int64(time.minutes) * 60_000
        // Try the offsets in force a day either side of the wall time; keep those that reproduce it.
        let before = offsetSeconds(at: Timestamp(milliseconds: wallMs - 86_400_000)) * 1000
        let after = offsetSeconds(at: Timestamp(milliseconds: wallMs + 86_400_000)) * 1000
        var candidates: [Int64] = []
        for offset in [before, after] {
            let t = wallMs - offset
            if offsetSeconds(at: Timestamp(milliseconds: t)) * 1000 == offset { candidates.append(t) }
        }
        if let first = candidates.min() { return Timestamp(milliseconds: first) }
        // A gap: read the wall time with the offset from before the gap.
        return Timestamp(milliseconds: wallMs - before)
    }
}

/// A local date and time of day in some zone.
public struct LocalDateTime: Sendable, Hashable {
    public var date: CivilDate
    public var time: TimeOfDay
    public var millisecondsInMinute: Int
}
