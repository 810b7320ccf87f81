import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import PropertyBased
import Testing

/// A store that records every timer it hands out, with the engine's clock at that moment.
struct RecordingStore: StateStore {
    var inner = InMemoryStateStore()
    var clock = Timestamp.distantPast
    var fired: [(seq: UInt64, due: Timestamp, at: Timestamp)] = []

    mutating func withUser<R>(_ id: String, _ body: (inout UserState) throws -> R) rethrows -> R {
        try inner.withUser(id, body)
    }
    func user(_ id: String) -> UserState? { inner.user(id) }
    func contains(user id: String) -> Bool { inner.contains(user: id) }
    mutating func removeUser(_ id: String) { inner.removeUser(id) }
    var lastTimerSeq: UInt64 { inner.lastTimerSeq }
    mutating func schedule(_ timer: TimerEntry) { inner.schedule(timer) }
    mutating func popTimer(dueBy now: Timestamp) -> TimerEntry? {
        guard let timer = inner.popTimer(dueBy: now) else { return nil }
        fired.append((timer.seq, timer.due, clock))
        return timer
    }
    var nextTimerDue: Timestamp? { inner.nextTimerDue }
    mutating func markSeen(_ key: DedupWindow.Key, at: Timestamp) -> Bool { inner.markSeen(key, at: at) }
}

@Suite("Engine properties")
struct PropertyTests {
    static let journeys = [
        "cart": StepTests.cart,
        "drip": """
        journey: drip
        trigger: { event: "*" }
        entry: { reentry: always }
        exit_when: { event: "*" }
        steps:
          - wait: 3h
          - id: nudge
            send: email
            template: t
          - wait: { until: "09:30", weekdays: [mon, wed, fri] }
          - id: follow_up
            send: sms
            template: t
        """,
    ]

    @Test func timersNeverFireEarlyOrTwiceAndTouchesAreNeverDuplicated() async throws {
        let rules = try RuleFixtures.load(journeys: Self.journeys, templates: ["t", "cart_reminder"])
        let step = zip(Gen.int(in: 0...3), Gen.int(in: 0...2), Gen.int(in: 0...600))
        await propertyCheck(count: 60, input: step.array(of: 1...80)) { script in
            let engine = Engine(rules: rules)
            var store = RecordingStore()
            var effects: [Effect] = []
            var now = Timestamp(iso8601: "2025-03-07T08:00:00Z")!
            for (i, (user, kind, gapMinutes)) in script.enumerated() {
                let target = now + .minutes(Int64(gapMinutes))
                // Fire in simulated time: each timer exactly at its due time, before the next event.
                while let due = store.nextTimerDue, due <= target {
                    store.clock = due
                    engine.fireTimers(dueBy: due, firingAt: nil, store: &store, effects: &effects)
                }
                now = target
                store.clock = now
                let name = ["cart_add", "purchase", "app_open"][kind]
                let event = Event.track(
                    name, user: "u\(user)", at: now, properties: ["price": 80, "cart_id": .string("c\(i % 2)")],
                    messageId: "m\(i)")
                engine.handle(event, at: now, store: &store, effects: &effects)
            }
            let end = now + .days(30)
            while let due = store.nextTimerDue, due <= end {
                store.clock = due
                engine.fireTimers(dueBy: due, firingAt: nil, store: &store, effects: &effects)
            }
            for timer in store.fired { #expect(timer.due <= timer.at, "a timer fired before it was due") }
            #expect(Set(store.fired.map(\.seq)).count == store.fired.count, "a timer fired twice")
            let ids = effects.compactMap { if case .touch(let t) = $0 { return t.id } else { return nil } }
            #expect(Set(ids).count == ids.count, "a touch was produced twice")
        }
    }

    @Test func splitArmsReceiveTheirShare() async throws {
        await propertyCheck(count: 12, input: Gen.int(in: 1...99)) { percent in
            let rules = try! RuleFixtures.load(
                journeys: [
                    "s": """
                    journey: s
                    trigger: { event: go }
                    steps:
                      - split:
                          - { name: a, percent: \(percent), goto: a }
                          - { name: b, percent: \(100 - percent), goto: b }
                      - id: a
                        send: email
                        template: t
                        next: exit
                      - id: b
                        send: sms
                        template: t
                    """
                ],
                templates: ["t"])
            var h = EngineHarness(rules: rules, now: "2025-01-01T00:00:00Z")
            let n = 4000
            for u in 0..<n { h.track("go", user: "user-\(u)") }
            let share = Double(h.touches.filter { $0.step == "a" }.count) / Double(n) * 100
            // Binomial standard deviation at n = 4000 is at most 0.8 points: 4 points is five of them.
            #expect(abs(share - Double(percent)) < 4, "arm a got \(share)% instead of \(percent)%")
            #expect(h.touches.count == n)
        }
    }

    @Test func quietHourDeferralsLandAtTheEndOfTheWindowInTheUsersZone() async throws {
        let zones = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Shanghai", "America/Santiago"]
        await propertyCheck(
            count: 80, input: Gen.int(in: 0...(365 * 24 * 4)), Gen.int(in: 0...(zones.count - 1)), Gen.int(in: 0...23),
            Gen.int(in: 1...11)
        ) { quarterHours, zoneIndex, fromHour, length in
            let from = TimeOfDay(hour: fromHour, minute: 0)
            let to = TimeOfDay(hour: (fromHour + length) % 24, minute: 30)
            let rules = try! RuleFixtures.load(
                journeys: ["p": PolicyTests.pinger("{ quiet_hours: { from: \"\(from)\", to: \"\(to)\" } }")], templates: ["t"])
            let start = Timestamp(iso8601: "2025-01-01T00:00:00Z")! + .minutes(Int64(quarterHours) * 15)
            var h = EngineHarness(rules: rules, now: start)
            h.identify(user: "u", ["timezone": .string(zones[zoneIndex])])
            h.track("ping", user: "u")
            h.advance(by: .days(2))
            let touch = try! #require(h.touches.first)
            // Oracle: Foundation's calendar, minute by minute from the trigger.
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zones[zoneIndex])!
            func quiet(_ t: Timestamp) -> Bool {
                let c = calendar.dateComponents([.hour, .minute], from: Date(timeIntervalSince1970: Double(t.milliseconds) / 1000))
                return QuietHours(from: from, to: to).contains(TimeOfDay(hour: c.hour!, minute: c.minute!))
            }
            #expect(!quiet(touch.at), "sent during quiet hours at \(touch.at)")
            var t = start
            while t < touch.at {
                #expect(quiet(t), "held past the end of quiet hours: \(t) was not quiet, sent \(touch.at)")
                t = t + .minutes(1)
            }
        }
    }
}
