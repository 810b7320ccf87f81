import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

/// A conversion is the goal within the goal window from entry, however the enrollment ended: an enrollment
/// that finishes early is watched until its window closes, like a holdout one. Manual clock only.
@Suite("Goal window")
struct GoalWindowTests {
    /// Sends at once and ends: without watching, no purchase after the send could ever count.
    static let nudge = """
        journey: nudge
        trigger: { event: cart_add }
        entry: { reentry: always }
        exit_when: { event: unsubscribe }
        goal: { event: purchase, within: 7d }
        steps:
          - id: pick
            split:
              - { name: control, percent: 50, holdout: true }
              - { name: treat, percent: 50, goto: remind }
          - id: remind
            send: email
            template: t
        """

    static func harness(_ journey: String = nudge) throws -> EngineHarness {
        let rules = try RuleFixtures.load(journeys: ["nudge": journey], templates: ["t"], settings: "explain: { trace: 20 }")
        return EngineHarness(rules: rules, now: "2025-01-06T10:00:00.000Z")
    }

    /// Users whose (only) enrollment drew `arm`.
    static func users(in arm: String, of h: EngineHarness) -> [String] {
        let held = Set(h.outcomes(.heldOut).map(\.user))
        let entered = h.outcomes(.entered).map(\.user)
        return entered.filter { arm == "control" ? held.contains($0) : !held.contains($0) }
    }

    @Test func aCompletedEnrollmentStillConvertsWithinItsWindow() throws {
        var h = try Self.harness()
        for i in 0..<40 { h.track("cart_add", user: "u\(i)") }
        let treated = Self.users(in: "treat", of: h)
        try #require(!treated.isEmpty)
        #expect(h.touches.count == treated.count)
        let user = treated[0]
        let exited = try #require(h.outcomes(.exited).first { $0.user == user })
        #expect(exited.detail == "completed")
        #expect(h.store.user(user)?.enrollments.map(\.phase) == [.watching])
        h.advance(by: .days(3))
        h.track("purchase", user: user)
        let converted = h.outcomes(.converted).filter { $0.user == user }
        #expect(converted.map(\.detail) == ["treat"])
        #expect(h.store.user(user)?.enrollments.isEmpty == true, "a conversion ends the watch")
        let record = try #require(h.store.user(user)?.trace.first)
        #expect(record.decisions.contains { $0.kind == .goal && $0.verdict == "watching" && $0.reason == "for purchase until 2025-01-13T10:00:00.000Z, the end of the goal window" })
    }

    @Test func stepsThatEndOnATimerLeaveAWatcherToo() throws {
        var h = try Self.harness(Self.nudge.replacingOccurrences(of: "  - id: pick\n", with: "  - wait: 1h\n  - id: pick\n"))
        for i in 0..<40 { h.track("cart_add", user: "u\(i)") }
        #expect(h.touches.isEmpty)
        h.advance(by: .hours(2))
        let user = try #require(Self.users(in: "treat", of: h).first)
        #expect(h.touches.contains { $0.user == user })
        #expect(h.store.user(user)?.enrollments.map(\.phase) == [.watching])
        h.advance(by: .days(2))
        h.track("purchase", user: user)
        #expect(h.outcomes(.converted).map(\.user) == [user])
    }

    @Test func treatmentAndHoldoutAreWatchedForTheSameWindow() throws {
        var h = try Self.harness()
        for i in 0..<200 { h.track("cart_add", user: "u\(i)") }
        let treated = Self.users(in: "treat", of: h)
        let held = Self.users(in: "control", of: h)
        try #require(treated.count > 50 && held.count > 50)
        // Everyone buys on day 6: inside the window for both arms, so both convert alike.
        h.advance(by: .days(6))
        for i in 0..<200 { h.track("purchase", user: "u\(i)") }
        let byArm = Dictionary(grouping: h.outcomes(.converted), by: \.detail).mapValues(\.count)
        #expect(byArm["treat"] == treated.count)
        #expect(byArm["control"] == held.count)
        var figures = ReportFigures()
        for effect in h.effects { figures.record(effect) }
        let row = try #require(ReportSummary(figures: figures, rules: h.engine.rules, outbox: nil, source: "test").journeys.first)
        #expect(row.caveat == nil)
        #expect(row.uplift?.treatment.successes == treated.count && row.uplift?.holdout.successes == held.count)
        #expect(abs(row.uplift?.uplift ?? 1) < 1e-9)
    }

    @Test func afterTheWindowNothingCountsAndNothingIsLeft() throws {
        var h = try Self.harness()
        for i in 0..<20 { h.track("cart_add", user: "u\(i)") }
        h.advance(to: ts("2025-01-13T10:00:00.000Z"))  // the window's last instant: the timer closes it
        h.advance(by: .milliseconds(1))
        for i in 0..<20 { h.track("purchase", user: "u\(i)") }
        #expect(h.outcomes(.converted).isEmpty)
        #expect(h.store.pendingTimerCount == 0)
        for i in 0..<20 { #expect(h.store.user("u\(i)")?.enrollments.isEmpty == true) }
        let closed = try #require(h.store.user(Self.users(in: "treat", of: h)[0])?.trace.flatMap(\.decisions).first { $0.verdict == "not converted" })
        #expect(closed.reason.hasPrefix("no purchase within the goal window of u"))
    }

    @Test func aWatcherRefusesNoReEntryAndEachEnrollmentConvertsOnce() throws {
        var h = try Self.harness(Self.nudge.replacingOccurrences(of: "percent: 50, holdout", with: "percent: 0, holdout")
            .replacingOccurrences(of: "percent: 50, goto", with: "percent: 100, goto"))
        h.track("cart_add", user: "a")
        h.advance(by: .days(1))
        h.track("cart_add", user: "a")
        #expect(h.outcomes(.entered).count == 2, "the first enrollment completed: it watches, it does not run")
        #expect(h.touches.count == 2)
        h.advance(by: .days(1))
        h.track("purchase", user: "a")
        h.track("purchase", user: "a")
        #expect(h.outcomes(.converted).count == 2, "one conversion per enrollment whose window holds the purchase")
        #expect(h.store.user("a")?.enrollments.isEmpty == true)
        h.advance(by: .days(7))  // the converted watchers' timers find nothing to close
        #expect(h.store.pendingTimerCount == 0)
        #expect(h.outcomes(.converted).count == 2)
    }

    @Test func exitWhenEndsTheStepsButNotTheWatch() throws {
        var h = try Self.harness()
        for i in 0..<40 { h.track("cart_add", user: "u\(i)") }
        let held = try #require(Self.users(in: "control", of: h).first)
        h.track("unsubscribe", user: held)
        #expect(h.outcomes(.exited).contains { $0.user == held && $0.detail == "exit_when unsubscribe" })
        h.advance(by: .days(2))
        h.track("purchase", user: held)
        #expect(h.outcomes(.converted).map(\.user) == [held])
    }

    @Test func aGoalWithoutWindowLeavesNoWatcherAndTheReportSaysSo() throws {
        var h = try Self.harness(Self.nudge.replacingOccurrences(of: ", within: 7d", with: ""))
        for i in 0..<20 { h.track("cart_add", user: "u\(i)") }
        for i in 0..<20 { #expect(h.store.user("u\(i)")?.enrollments.isEmpty == true) }
        var figures = ReportFigures()
        for effect in h.effects { figures.record(effect) }
        let row = try #require(ReportSummary(figures: figures, rules: h.engine.rules, outbox: nil, source: "test").journeys.first)
        #expect(row.caveat?.hasPrefix("not comparable: the goal has no window") == true)
    }

    @Test func aWatcherSurvivesTheStateFormat() throws {
        var h = try Self.harness()
        for i in 0..<10 { h.track("cart_add", user: "u\(i)") }
        let user = try #require(Self.users(in: "treat", of: h).first)
        let state = try #require(h.store.user(user))
        let decoded = try UserState(id: user, encoded: state.encoded())
        #expect(decoded == state)
        #expect(decoded.enrollments.map(\.phase) == [.watching])
    }
}
