import JourneyCore
import JourneyRules
import Testing

/// Purchases 1, 10, 40 and 100 days before 2025-06-15T12:00:00Z, and a login 90 minutes before.
private let buyer: TestScope = {
    var scope = TestScope()
    let now = scope.now
    scope.history = [
        .init(event: "purchase", at: now - .days(100), properties: ["price": 400]),
        .init(event: "purchase", at: now - .days(40), properties: ["price": 300]),
        .init(event: "purchase", at: now - .days(10), properties: ["price": 200]),
        .init(event: "purchase", at: now - .days(1), properties: ["price": 100, "note": "x"]),
        .init(event: "purchase", at: now - .days(30), properties: ["price": "n/a"]),
        .init(event: "login", at: now - .minutes(90)),
    ]
    scope.user = [
        "signup_at": "2025-06-01T08:00:00Z", "signup_local": "2025-06-01T16:00:00+08:00",
        "birthday": "1990-06-20", "epoch": 1_749_988_800,  // 2025-06-15T12:00:00Z
        "soon": "2025-06-15T13:00:00Z", "garbage": "last tuesday", "flag": true,
    ]
    return scope
}()

private func at(_ text: String, zone: String) -> TestScope {
    var scope = TestScope()
    scope.now = TestScope.instant(text)
    scope.zone = Zone.named(zone)!
    return scope
}

@Suite("Expression time and history functions")
struct ExpressionTimeTests {
    @Test func countAndSumOverWindowsAndEver() throws {
        #expect(try value("count('purchase')", in: buyer) == 5)
        #expect(try value("count('purchase', within: 30d)", in: buyer) == 2)  // the one exactly 30d ago is out
        #expect(try value("count('purchase', within: 31d)", in: buyer) == 3)
        #expect(try holds("count('purchase', within: 30d) >= 3", in: buyer) == false)
        #expect(try holds("count('refund') == 0", in: buyer))
        #expect(try value("sum('purchase', 'price', within: 90d)", in: buyer) == 600)  // "n/a" counts 0
        #expect(try value("sum('purchase', 'price')", in: buyer) == 1000)
        #expect(try holds("sum('purchase', 'price', within: 90d) > 500", in: buyer))
        #expect(try value("count('login', within: 1h30m)", in: buyer) == 0)
        #expect(try value("count('login', within: 91m)", in: buyer) == 1)
    }

    @Test func lastAndFirstAreRFC3339OrNull() throws {
        #expect(try value("last('purchase')", in: buyer) == "2025-06-14T12:00:00.000Z")
        #expect(try value("first('purchase')", in: buyer) == "2025-03-07T12:00:00.000Z")
        #expect(try value("last('refund')", in: buyer) == .null)
        #expect(try holds("last('refund') == null", in: buyer))
        #expect(try holds("last('purchase') != null", in: buyer))
    }

    @Test func sinceFunctionsCountWholeUnitsRoundedDown() throws {
        #expect(try value("days_since(last('purchase'))", in: buyer) == 1)
        #expect(try holds("days_since(last('purchase')) >= 30", in: buyer) == false)
        #expect(try value("days_since(first('purchase'))", in: buyer) == 100)
        #expect(try value("days_since(user.signup_at)", in: buyer) == 14)  // 14 days 4 hours
        #expect(try holds("days_since(user.signup_at) > 7", in: buyer))
        #expect(try value("days_since(user.signup_local)", in: buyer) == 14)  // same instant, other offset
        #expect(try value("hours_since(user.signup_at)", in: buyer) == 340)
        #expect(try value("minutes_since(last('login'))", in: buyer) == 90)
        #expect(try value("hours_since(last('login'))", in: buyer) == 1)
        #expect(try value("days_since('2025-06-15')", in: buyer) == 0)
        // In the future: rounded down, so one hour ahead is day -1.
        #expect(try value("days_since(user.soon)", in: buyer) == -1)
        #expect(try value("hours_since(user.soon)", in: buyer) == -1)
        // Numbers are seconds since the epoch.
        #expect(try value("hours_since(user.epoch)", in: buyer) == 0)
        #expect(try value("days_since(user.epoch - 86400 * 3)", in: buyer) == 3)
    }

    @Test func sinceFunctionsAreNullForWhatIsNoTimestamp() throws {
        #expect(try value("days_since(user.garbage)", in: buyer) == .null)
        #expect(try value("days_since(user.missing)", in: buyer) == .null)
        #expect(try value("days_since(user.flag)", in: buyer) == .null)
        #expect(try value("days_since(last('refund'))", in: buyer) == .null)
        #expect(try holds("days_since(last('refund')) >= 30", in: buyer) == false)
    }

    @Test func nowAndDateNormaliseToRFC3339() throws {
        #expect(try value("now()", in: buyer) == "2025-06-15T12:00:00.000Z")
        #expect(try value("date(user.signup_local)", in: buyer) == "2025-06-01T08:00:00.000Z")
        #expect(try value("date(user.birthday)", in: buyer) == "1990-06-20T00:00:00.000Z")
        #expect(try value("date(user.epoch)", in: buyer) == "2025-06-15T12:00:00.000Z")
        #expect(try value("date(user.garbage)", in: buyer) == .null)
        #expect(try value("date('2025-01-02T03:04:05.678+01:00')") == "2025-01-02T02:04:05.678Z")
    }

    @Test func comparisonsWithAnInstantCompareInstants() throws {
        #expect(try holds("date(user.signup_at) < now()", in: buyer))
        #expect(try holds("user.signup_local == date(user.signup_at)", in: buyer))  // text differs, instant same
        #expect(try holds("user.signup_local != date(user.signup_at)", in: buyer) == false)
        #expect(try holds("last('purchase') >= '2025-06-14'", in: buyer))
        #expect(try holds("last('purchase') > '2025-06-14T12:00:00Z'", in: buyer) == false)
        #expect(try holds("first('purchase') < last('purchase')", in: buyer))
        #expect(try holds("now() == user.epoch", in: buyer))
        #expect(try holds("now() > user.garbage", in: buyer) == false)
        #expect(try holds("now() <= user.garbage", in: buyer) == false)
        #expect(try holds("last('refund') < now()", in: buyer) == false)
        #expect(try holds("last('refund') == null", in: buyer))
    }

    // MARK: The user's zone

    @Test func clockFunctionsReadTheUsersZone() throws {
        let shanghai = at("2025-06-15T12:34:00Z", zone: "Asia/Shanghai")  // 20:34 Sunday local
        #expect(try value("hour()", in: shanghai) == 20)
        #expect(try value("minute()", in: shanghai) == 34)
        #expect(try value("weekday()", in: shanghai) == "sun")
        #expect(try value("local_time()", in: shanghai) == "20:34")
        #expect(try value("local_date()", in: shanghai) == "2025-06-15")
        #expect(try holds("hour() >= 9 and hour() < 21", in: shanghai))
        #expect(try holds("weekday() in ['sat', 'sun']", in: shanghai))
        #expect(try holds("local_time() >= '09:30'", in: shanghai))
        let lateInShanghai = at("2025-06-15T16:05:00Z", zone: "Asia/Shanghai")  // 00:05 Monday local
        #expect(try value("weekday()", in: lateInShanghai) == "mon")
        #expect(try value("local_time()", in: lateInShanghai) == "00:05")
        #expect(try value("local_date()", in: lateInShanghai) == "2025-06-16")
        #expect(try holds("hour() >= 9 and hour() < 21", in: lateInShanghai) == false)
    }

    @Test func timeOfDayLiteralsAreNormalised() throws {
        let morning = at("2025-06-16T09:45:00Z", zone: "UTC")
        // "9:30" is read as 09:30, not compared as text ("09:45" < "9:30" as text).
        #expect(try holds("local_time() >= '9:30'", in: morning))
        #expect(try holds("local_time() in ['9:45', '10:00']", in: morning))
        #expect(try holds("local_time() == '09:45'", in: morning))
    }

    @Test(arguments: [
        // America/New_York springs forward at 2025-03-09 02:00 EST → 03:00 EDT.
        ("2025-03-09T03:00:00Z", 22, "sat", "22:00", "2025-03-08"),
        ("2025-03-09T06:30:00Z", 1, "sun", "01:30", "2025-03-09"),  // EST, UTC-5
        ("2025-03-09T06:59:00Z", 1, "sun", "01:59", "2025-03-09"),
        ("2025-03-09T07:00:00Z", 3, "sun", "03:00", "2025-03-09"),  // EDT, UTC-4: 02:xx never happens
        ("2025-03-09T07:30:00Z", 3, "sun", "03:30", "2025-03-09"),
        ("2025-03-10T13:00:00Z", 9, "mon", "09:00", "2025-03-10"),
        // …and falls back at 2025-11-02 02:00 EDT → 01:00 EST: 01:30 happens twice.
        ("2025-11-02T05:30:00Z", 1, "sun", "01:30", "2025-11-02"),
        ("2025-11-02T06:30:00Z", 1, "sun", "01:30", "2025-11-02"),
        ("2025-11-02T07:30:00Z", 2, "sun", "02:30", "2025-11-02"),
    ])
    func clockFunctionsAcrossDaylightSavingChanges(
        instant: String, hour: Int, weekday: String, time: String, date: String
    ) throws {
        let scope = at(instant, zone: "America/New_York")
        #expect(try value("hour()", in: scope) == .number(Double(hour)))
        #expect(try value("weekday()", in: scope) == .string(weekday))
        #expect(try value("local_time()", in: scope) == .string(time))
        #expect(try value("local_date()", in: scope) == .string(date))
    }

    @Test func theLocalTimeIsComputedOncePerEvaluation() throws {
        let scope = ClockCountingScope()
        let expression = try compiled("hour() >= 9 and hour() < 21 and weekday() in ['sat', 'sun'] and minute() >= 0")
        #expect(expression.isTrue(in: scope))
        #expect(scope.log.calls == ["localNow"])
        #expect(expression.evaluate(in: scope) == true)
        #expect(scope.log.calls == ["localNow", "localNow"])
    }

    @Test func quietHoursConditionAroundTheSpringForwardGap() throws {
        let condition = try compiled("local_time() >= '09:30' and local_time() < '21:00' and weekday() not in ['sat']")
        #expect(condition.isTrue(in: at("2025-03-09T13:29:00Z", zone: "America/New_York")) == false)  // 09:29 EDT
        #expect(condition.isTrue(in: at("2025-03-09T13:30:00Z", zone: "America/New_York")))  // 09:30 EDT
        #expect(condition.isTrue(in: at("2025-03-08T14:30:00Z", zone: "America/New_York")) == false)  // Saturday
    }
}

/// Saturday 2025-06-14 10:30 UTC; records each time the local time is asked for.
private struct ClockCountingScope: ExpressionScope {
    let log = CallLog()
    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value { .null }
    func count(event: String, within: TimeSpan?) -> Int { 0 }
    func sum(event: String, property: String, within: TimeSpan?) -> Double { 0 }
    func lastTime(event: String) -> Timestamp? { nil }
    func firstTime(event: String) -> Timestamp? { nil }
    var now: Timestamp { TestScope.instant("2025-06-14T10:30:00Z") }
    var zone: Zone { .utc }
    var localNow: LocalDateTime {
        log.calls.append("localNow")
        return zone.local(now)
    }
}
