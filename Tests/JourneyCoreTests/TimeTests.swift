import JourneyCore
import Testing

@Suite("Time")
struct TimeTests {
    @Test(arguments: [
        ("2025-01-06T10:00:00Z", Int64(1_736_157_600_000)),
        ("2025-01-06T10:00:00.123Z", 1_736_157_600_123),
        ("2025-01-06T10:00:00.123456789Z", 1_736_157_600_123),
        ("2025-01-06T18:00:00+08:00", 1_736_157_600_000),
        ("2025-01-06T18:00:00+0800", 1_736_157_600_000),
        ("2025-01-06 10:00:00Z", 1_736_157_600_000),
        ("2025-01-06T10:00:00", 1_736_157_600_000),
        ("2025-01-06", 1_736_121_600_000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
    ])
    func parsesRFC3339AsClientsSendIt(text: String, milliseconds: Int64) {
        #expect(Timestamp(iso8601: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "yesterday", "2025-13-01", "2025-02-29", "2025-01-06T25:00:00Z", "2025-01-06T10:00:00Zjunk", "2025-1-6"])
    func refusesWhatIsNotADateTime(text: String) {
        #expect(Timestamp(iso8601: text) == nil)
    }

    @Test func formatsFixedWidthUTCWithMillisecondsAndRoundTrips() {
        for ms: Int64 in [0, 1, -1, 1_736_157_600_123, 253_402_300_799_999, -2_208_988_800_000] {
            let t = Timestamp(milliseconds: ms)
            #expect(Timestamp(iso8601: t.iso8601) == t, "\(t.iso8601)")
        }
        #expect(Timestamp(milliseconds: 1_736_157_600_123).iso8601 == "2025-01-06T10:00:00.123Z")
    }

    @Test(arguments: [
        ("90s", Int64(90_000)), ("15m", 900_000), ("1h30m", 5_400_000), ("7d", 604_800_000), ("2w", 1_209_600_000),
        ("500ms", 500), ("30m1h", 5_400_000), ("0s", 0),
    ])
    func parsesDurations(text: String, milliseconds: Int64) {
        #expect(TimeSpan(parsing: text)?.milliseconds == milliseconds)
        #expect(TimeSpan(parsing: TimeSpan(milliseconds: milliseconds).description)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "1", "h", "1 hour", "-1h", "1y", "1.5h", "99999999999999999999d"])
    func refusesBadDurations(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    @Test func civilDatesRoundTripAndKnowTheirWeekday() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
        #expect(CivilDate(year: 1970, month: 1, day: 1).weekday == 4)  // Thursday
        #expect(CivilDate(year: 2025, month: 3, day: 10).weekday == 1)  // Monday
        #expect(CivilDate(year: 2024, month: 2, day: 29).adding(days: 1) == CivilDate(year: 2024, month: 3, day: 1))
    }

    @Test func zonesConvertAcrossDaylightSavingTransitions() throws {
        let ny = try #require(Zone.named("America/New_York"))
        // Spring forward: 2025-03-09 02:00 EST → 03:00 EDT. 02:30 does not exist and lands at 03:30 EDT.
        #expect(ny.instant(date: CivilDate(year: 2025, month: 3, day: 9), time: TimeOfDay(hour: 2, minute: 30))
            == Timestamp(iso8601: "2025-03-09T07:30:00Z"))
        #expect(ny.instant(date: CivilDate(year: 2025, month: 3, day: 10), time: TimeOfDay(hour: 10, minute: 0))
            == Timestamp(iso8601: "2025-03-10T14:00:00Z"))
        // Fall back: 2025-11-02 01:30 happens twice; the first (EDT) is chosen.
        #expect(ny.instant(date: CivilDate(year: 2025, month: 11, day: 2), time: TimeOfDay(hour: 1, minute: 30))
            == Timestamp(iso8601: "2025-11-02T05:30:00Z"))
        let local = ny.local(Timestamp(iso8601: "2025-03-09T07:30:00Z")!)
        #expect(local.date == CivilDate(year: 2025, month: 3, day: 9) && local.time == TimeOfDay(hour: 3, minute: 30))
        #expect(Zone.named("Mars/Olympus") == nil)
        #expect(Zone.named("EST") == nil, "abbreviations are not IANA zone names")
    }
}
