import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyStore
import JourneyTesting
import Testing

func temporaryDatabase() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("journeyd-store-\(UUID().uuidString).sqlite").path
}

func ts(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }

@Suite("SQLite state store")
struct SQLiteStateStoreTests {
    static let journeys = [
        "cart": """
        journey: cart
        trigger: { event: cart_add, where: event.properties.price >= 50 }
        entry: { reentry: always, key: event.properties.cart_id }
        exit_when: { event: purchase }
        steps:
          - id: wait_purchase
            wait_for: { event: purchase, timeout: 1h }
            on_event: exit
          - id: remind
            send: email
            template: t
        """,
        "birthday": """
        journey: birthday
        trigger: { date: birthday, at: "09:00", every: year }
        entry: { reentry: always }
        steps:
          - id: greet
            send: email
            template: t
        """,
    ]

    @Test func committedStateTimersAndMessageIdsSurviveAReopen() throws {
        let rules = try RuleFixtures.load(journeys: Self.journeys, templates: ["t"])
        let engine = Engine(rules: rules)
        let path = temporaryDatabase()
        var effects: [Effect] = []
        do {
            var store = try SQLiteStateStore(path: path)
            let now = ts("2025-01-06T10:00:00Z")
            engine.handle(
                .identify(user: "u1", at: now, traits: ["birthday": "1990-03-10", "tier": "gold"], messageId: "m1"), at: now,
                store: &store, effects: &effects)
            engine.handle(
                .track("cart_add", user: "u1", at: now, properties: ["price": 80, "cart_id": "c1", "sku": "été"], messageId: "m2"),
                at: now, store: &store, effects: &effects)
            #expect(store.pendingTimerCount == 2)
            try store.commit(positions: ["spool": 42])
        }
        var store = try SQLiteStateStore(path: path)
        #expect(try store.position(of: "spool") == 42)
        #expect(store.pendingTimerCount == 2)
        let user = try #require(store.user("u1"))
        #expect(user.traits["tier"] == "gold")
        #expect(user.enrollments.count == 1)
        #expect(user.enrollments[0].phase == .waitingForEvent)
        #expect(user.enrollments[0].trigger.value(at: ["properties", "sku"]) == "été")
        #expect(user.dateSchedules.count == 1)
        // A duplicate of an already committed message is still recognised after the reopen.
        engine.handle(.track("cart_add", user: "u1", at: ts("2025-01-06T10:01:00Z"), messageId: "m2"), at: ts("2025-01-06T10:01:00Z"), store: &store, effects: &effects)
        #expect(effects.contains { if case .outcome(let o) = $0 { o.kind == .duplicate } else { false } })
        // The reloaded timer fires and the reminder goes out once.
        effects.removeAll()
        engine.fireDueTimers(until: ts("2025-01-06T11:00:00Z"), clock: .wallClock, store: &store, effects: &effects)
        let touches = effects.compactMap { if case .touch(let t) = $0 { t } else { nil } }
        #expect(touches.map(\.step) == ["remind"])
        try store.commit(outbox: touches + touches)
        #expect(try store.outbox().map(\.step) == ["remind"], "the same touch id is queued once")
        #expect(try SQLiteStateStore(path: path).pendingTimerCount == 1, "the fired timer is gone, the birthday remains")
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func nothingIsWrittenWithoutACommit() throws {
        let rules = try RuleFixtures.load(journeys: Self.journeys, templates: ["t"])
        let engine = Engine(rules: rules)
        let path = temporaryDatabase()
        var effects: [Effect] = []
        do {
            var store = try SQLiteStateStore(path: path)
            let now = ts("2025-01-06T10:00:00Z")
            engine.handle(.track("cart_add", user: "u1", at: now, properties: ["price": 80], messageId: "m1"), at: now, store: &store, effects: &effects)
            try store.commit(positions: ["spool": 1])
            engine.handle(.track("cart_add", user: "u2", at: now, properties: ["price": 80], messageId: "m2"), at: now, store: &store, effects: &effects)
            // The process "dies" here: no commit.
        }
        let store = try SQLiteStateStore(path: path)
        #expect(store.contains(user: "u1"))
        #expect(!store.contains(user: "u2"))
        #expect(store.pendingTimerCount == 1)
        #expect(try store.position(of: "spool") == 1)
    }

    @Test func theDurableStoreGivesTheSameTouchesAsTheInMemoryOne() throws {
        let rules = try RuleFixtures.load(journeys: Self.journeys, templates: ["t"])
        let engine = Engine(rules: rules)
        var durable = try SQLiteStateStore(path: temporaryDatabase())
        var memory = InMemoryStateStore()
        var a: [Effect] = []
        var b: [Effect] = []
        var now = ts("2025-01-06T10:00:00Z")
        for i in 0..<300 {
            let event = Event.track(
                i % 4 == 3 ? "purchase" : "cart_add", user: "u\(i % 17)", at: now,
                properties: ["price": .number(Double(30 + i % 50)), "cart_id": .string("c\(i % 3)")], messageId: "m\(i)")
            engine.fireTimers(dueBy: now, firingAt: nil, store: &durable, effects: &a)
            engine.fireTimers(dueBy: now, firingAt: nil, store: &memory, effects: &b)
            engine.handle(event, at: now, store: &durable, effects: &a)
            engine.handle(event, at: now, store: &memory, effects: &b)
            if i % 10 == 0 { try durable.commit() }  // reloads users from disk after each commit
            now = now + .minutes(7)
        }
        #expect(a == b)
        #expect(a.contains { if case .touch = $0 { true } else { false } })
    }
}
