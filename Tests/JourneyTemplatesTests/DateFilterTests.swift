import JourneyCore
import JourneyTemplates
import Testing

@Suite("date filter")
struct DateFilterTests {
    func context(zone: String) -> TemplateContext {
        var context = Samples.context
        context.zone = Zone.named(zone)!
        return context
    }

    @Test func instantsAreShownInTheUsersZone() throws {
        // 2025-01-06T09:30:00Z is 17:30 in Shanghai and 04:30 in New York.
        let t = "{{ event.timestamp | date: \"%Y-%m-%d %H:%M %Z %z\" }}"
        #expect(try render(t, context(zone: "Asia/Shanghai")) == "2025-01-06 17:30 CST +0800")
        #expect(try render(t, context(zone: "America/New_York")) == "2025-01-06 04:30 EST -0500")
        #expect(try render(t, context(zone: "UTC")) == "2025-01-06 09:30 UTC +0000")
    }

    @Test func daylightSavingTimeChangesTheAbbreviationAndOffset() throws {
        let t = "{{ \"2025-07-01T12:00:00Z\" | date: \"%H:%M %Z %z\" }}"
        #expect(try render(t, context(zone: "Europe/Berlin")) == "14:00 CEST +0200")
        #expect(try render(t, context(zone: "Asia/Kolkata")) == "17:30 IST +0530")
    }

    @Test func calendarDatesAreTheSameDayEverywhere() throws {
        // A birthday or renewal date has no time: it must not move a day west of UTC.
        let t = "{{ user.renewal_date | date: \"%B %-d, %Y (%A)\" }}"
        #expect(try render(t, context(zone: "America/Los_Angeles")) == "March 15, 2025 (Saturday)")
        #expect(try render(t, context(zone: "Pacific/Auckland")) == "March 15, 2025 (Saturday)")
        #expect(try render("{{ \"2025-03-15 18:45\" | date: \"%H:%M\" }}", context(zone: "Asia/Tokyo")) == "18:45")
    }

    @Test func directives() throws {
        // 2025-01-06T09:05:07Z in Shanghai: Monday 17:05:07.
        let cases: [(String, String)] = [
            ("%Y %y %C %m %-m %B %b %h", "2025 25 20 01 1 January Jan Jan"),
            ("%d %-d %e %j", "06 6  6 006"),
            ("%H %k %I %-I %l %M %S %L %p %P", "17 17 05 5  5 05 07 000 PM pm"),
            ("%A %a %u %w %^a %^B", "Monday Mon 1 1 MON JANUARY"),
            ("%F %T %D %R", "2025-01-06 17:05:07 01/06/25 17:05"),
            ("%s", "1736154307"),
            ("100%% %Q %", "100% %Q %"),
        ]
        for (format, expected) in cases {
            #expect(try render("{{ \"2025-01-06T09:05:07Z\" | date: \"\(format)\" }}") == expected, "\(format)")
        }
    }

    @Test func nowIsTheTouchsTimeAndNumbersAreUnixTimes() throws {
        #expect(try render("{{ \"now\" | date: \"%Y-%m-%d %H:%M\" }}") == "2025-01-06 18:00")
        #expect(try render("{{ \"today\" | date: \"%b %-d\" }}") == "Jan 6")
        #expect(try render("{{ 0 | date: \"%Y-%m-%d %H:%M\" }}") == "1970-01-01 08:00")
        #expect(try render("{{ \"1736154307\" | date: \"%H:%M\" }}") == "17:05")
    }

    @Test func aFormatFromAVariableWorksToo() throws {
        #expect(try render("{% assign f = \"%d/%m\" %}{{ event.timestamp | date: f }}") == "06/01")
    }

    @Test func whatIsNotADateIsReturnedUnchanged() throws {
        #expect(try render("{{ \"next tuesday\" | date: \"%Y\" }}") == "next tuesday")
        #expect(try render("[{{ user.missing | date: \"%Y\" }}]") == "[]")
        #expect(try render("{{ \"2025-13-45\" | date: \"%Y\" }}") == "2025-13-45")
    }
}
