import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

/// Segment triggers that time alone can make true are evaluated again by one timer per user and journey
/// at the instant they could change — never by polling. Manual clock only.
@Suite("Segment rechecks")
struct SegmentRecheckTests {
    static let lapsed = """
        journey: lapsed
        trigger: { segment: 'days_since(last("purchase")) >= 30' }
        entry: { reentry: always }
        steps:
          - id: miss_you
            send: email
            template: t
        """
    static let quiet = """
        journey: quiet
        trigger: { segment: 'count("visit") > 0 and count("visit", within: 7d) == 0' }
        entry: { reentry: always }
        steps:
          - id: come_back
            send: email
            template: t
        """

    static func harness() throws -> EngineHarness {
        let rules = try RuleFixtures.load(journeys: ["lapsed": lapsed, "quiet": quiet], templates: ["t"], settings: "explain: { trace: 20 }")
        return EngineHarness(rules: rules, now: "2025-01-01T12:00:00.000Z")
    }

    @Test func thirtyDaysWithoutPurchaseFiresOnDayThirtyWithNoEventArriving() throws {
        var h = try Self.harness()
        h.track("purchase", user: "u1")
        h.advance(by: .days(10))
        h.track("purchase", user: "u1")  // restarts the 30 days: the first recheck becomes stale
        #expect(h.store.user("u1")?.rechecks.map(\.due) == [Timestamp(iso8601: "2025-02-10T12:00:00Z")!])
        h.advance(by: .days(60))
        #expect(h.touches.map { "\($0.journey) \($0.at.iso8601)" } == ["lapsed 2025-02-10T12:00:00.000Z"])
        // One timer armed per condition change, none polling: after it fired nothing is pending.
        #expect(h.store.user("u1")?.rechecks.isEmpty == true)
        #expect(h.store.pendingTimerCount == 0)
        let record = try #require(h.store.user("u1")?.trace.last)
        #expect(record.decisions.contains { $0.kind == .recheck && $0.verdict == "due" })
        #expect(record.decisions.contains { $0.kind == .trigger && $0.reason.contains("days_since(last(\"purchase\")) = 30") })
    }

    @Test func aWindowedCountIsRecheckedWhenTheLastOccurrenceLeavesTheWindow() throws {
        var h = try Self.harness()
        h.track("visit", user: "v")
        h.advance(by: .days(2))
        h.track("visit", user: "v")
        // Two occurrences in the window: the condition can change when the older leaves (day 7), and is
        // evaluated there again; it becomes true only when the newer leaves too (day 9).
        h.advance(by: .days(20))
        #expect(h.touches.map { "\($0.journey) \($0.at.iso8601)" } == ["quiet 2025-01-10T12:00:00.000Z"])
        #expect(h.store.pendingTimerCount == 0)
    }

    @Test func conditionsTimeCannotChangeArmNoTimer() throws {
        var h = try Self.harness()
        h.track("signup", user: "w")  // no purchase ever: days_since(null) is null, time cannot change that
        h.track("purchase", user: "x")
        h.advance(by: .days(40))  // x is lapsed (true): staying true needs no recheck
        #expect(h.store.user("w")?.rechecks.isEmpty == true)
        #expect(h.store.user("x")?.rechecks.isEmpty == true)
        #expect(h.store.pendingTimerCount == 0)
    }

    @Test func nextChangeOfTheUsualShapes() throws {
        func next(_ source: String, at now: String, last: String? = nil) throws -> String? {
            let expression = try ExpressionCompiler.compile(source, allowedRoots: [.user]).get()
            var scope = FixedScope(now: Timestamp(iso8601: now)!)
            scope.last = last.flatMap { Timestamp(iso8601: $0) }
            return expression.nextChange(in: scope)?.iso8601
        }
        let t = "2025-01-01T00:00:00Z"
        #expect(try next(#"days_since(last("p")) >= 30"#, at: "2025-01-05T06:00:00Z", last: t) == "2025-01-31T00:00:00.000Z")
        #expect(try next(#"days_since(last("p")) > 30"#, at: "2025-01-05T06:00:00Z", last: t) == "2025-02-01T00:00:00.000Z")
        #expect(try next(#"days_since(last("p")) < 30"#, at: "2025-01-05T06:00:00Z", last: t) == "2025-01-31T00:00:00.000Z")
        #expect(try next(#"days_since(last("p")) >= 30"#, at: "2025-02-05T00:00:00Z", last: t) == nil)
        #expect(try next(#"days_since(last("p")) == 3"#, at: "2025-01-04T01:00:00Z", last: t) == "2025-01-05T00:00:00.000Z")
        #expect(try next(#"days_since(last("p")) >= 30 and user.vip == true"#, at: "2025-01-05T00:00:00Z", last: t) == nil)
        #expect(try next(#"days_since(last("p")) >= 30 or user.vip == true"#, at: "2025-01-05T00:00:00Z", last: t) == "2025-01-31T00:00:00.000Z")
        #expect(try next(#"now() >= date("2025-03-01T00:00:00Z")"#, at: "2025-01-05T00:00:00Z") == "2025-03-01T00:00:00.000Z")
        #expect(try next(#"hour() >= 9"#, at: "2025-01-05T07:20:30Z") == "2025-01-05T08:00:00.000Z")
        #expect(try next(#"user.tier == "gold""#, at: "2025-01-05T00:00:00Z") == nil)
    }
}

/// A scope with one event name's last time and nothing else.
struct FixedScope: ExpressionScope {
    var now: Timestamp
    var last: Timestamp?
    var zone: Zone { .utc }
    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value { .null }
    func count(event: String, within: TimeSpan?) -> Int { 0 }
    func sum(event: String, property: String, within: TimeSpan?) -> Double { 0 }
    func lastTime(event: String) -> Timestamp? { last }
    func firstTime(event: String) -> Timestamp? { last }
}
