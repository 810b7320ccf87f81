import JourneyCore
import JourneyEngine
import JourneyRules
import JourneyTesting
import Testing

/// Identity merge (docs/IDENTITY.md): `alias` and `identify` with an `anonymousId` merge the anonymous
/// profile, history and running enrollments into the known user, exactly once. Manual clock only.
@Suite("Identity merge")
struct IdentityMergeTests {
    static let cart = """
        journey: cart
        trigger: { event: cart_add }
        entry: { reentry: always, key: event.properties.cart_id }
        exit_when: { event: purchase }
        steps:
          - id: wait_purchase
            wait_for: { event: purchase, timeout: 1h }
            on_event: exit
          - id: remind
            send: email
            template: t
        """
    static let loyal = """
        journey: loyal
        trigger: { segment: 'count("purchase") >= 2' }
        steps:
          - id: thanks
            send: email
            template: t
        """

    static func rules() throws -> RuleSet {
        try RuleFixtures.load(journeys: ["cart": cart, "loyal": loyal], templates: ["t"], settings: "explain: { trace: 20 }")
    }

    var seq = 0
    mutating func send(_ kind: Event.Kind, user: String, anonymous: String? = nil, previous: String? = nil, name: String = "",
                       properties: Value = .emptyObject, traits: Value = .emptyObject, h: inout EngineHarness) {
        seq += 1
        h.send(Event(kind: kind, userId: user, anonymousId: anonymous, messageId: "i\(seq)", timestamp: h.now, name: name,
                     properties: properties, traits: traits, previousId: previous))
    }

    @Test mutating func anAnonymousVisitorsCartJourneyContinuesAfterTheySignUpAndAlias() throws {
        var h = EngineHarness(rules: try Self.rules(), now: "2025-03-01T10:00:00.000Z")
        send(.track, user: "anon-1", anonymous: "anon-1", name: "cart_add", properties: ["cart_id": "c1"], h: &h)
        h.advance(by: .minutes(20))
        send(.identify, user: "ada", traits: ["email": "ada@example.com", "plan": "pro"], h: &h)
        send(.alias, user: "ada", previous: "anon-1", h: &h)
        // The wait_for's timer moved with the enrollment: it fires at the original due time, for ada.
        h.advance(by: .minutes(50))
        #expect(h.touches.map { "\($0.user) \($0.step) \($0.at.iso8601)" } == ["ada remind 2025-03-01T11:00:00.000Z"])
        // The anonymous id is now only a pointer; ada keeps the alias and the trace says what moved.
        let anon = try #require(h.store.user("anon-1"))
        #expect(anon.mergedInto == "ada" && anon.enrollments.isEmpty && anon.history.isEmpty)
        let ada = try #require(h.store.user("ada"))
        #expect(ada.aliases == ["anon-1"])
        #expect(ada.trace.contains { record in record.decisions.contains { $0.kind == .identity && $0.verdict == "enrollment moved" } })
        // A second identical alias is a no-op; a later event with only the anonymous id applies to ada.
        h.clearEffects()
        send(.alias, user: "ada", previous: "anon-1", h: &h)
        #expect(h.outcomes.isEmpty && h.store.user("ada")?.aliases == ["anon-1"])
        send(.track, user: "anon-1", anonymous: "anon-1", name: "purchase", h: &h)
        send(.track, user: "ada", name: "purchase", h: &h)
        #expect(h.store.user("ada")?.history.first { $0.event == "purchase" }?.count == 2)
        #expect(h.touches.map { "\($0.user) \($0.journey)" } == ["ada loyal"], "the segment saw both purchases on one profile")
    }

    @Test mutating func historyIsSummedTraitsFollowTheNewerSideAndConsentIsTheUnion() throws {
        var h = EngineHarness(rules: try Self.rules(), now: "2025-03-01T10:00:00.000Z")
        send(.identify, user: "ada", traits: ["plan": "free", "city": "Oslo"], h: &h)
        h.advance(by: .days(1))
        send(.identify, user: "anon-2", anonymous: "anon-2", traits: ["plan": "pro", "color": "red"], h: &h)
        send(.track, user: "anon-2", anonymous: "anon-2", name: "purchase", h: &h)
        send(.track, user: "anon-2", anonymous: "anon-2", name: "Email Unsubscribed", h: &h)
        h.advance(by: .days(1))
        send(.track, user: "ada", name: "purchase", h: &h)
        // identify with both ids merges the anonymous profile (its traits changed later: they win).
        send(.identify, user: "ada", anonymous: "anon-2", h: &h)
        let ada = try #require(h.store.user("ada"))
        #expect(ada.traits["plan"] == "pro" && ada.traits["city"] == "Oslo" && ada.traits["color"] == "red")
        #expect(ada.unsubscribedChannels == ["email"])
        let purchases = try #require(ada.history.first { $0.event == "purchase" })
        #expect(purchases.count == 2 && purchases.first == Timestamp(iso8601: "2025-03-02T10:00:00Z"))
        // Consent closed on the anonymous side holds for the merged person: the loyal email is suppressed.
        #expect(h.touches.isEmpty)
        #expect(h.outcomes(.suppressed).map(\.user) == ["ada"])
    }

    @Test mutating func whenBothRunTheSameJourneyTheOneEnteredFirstIsKept() throws {
        var h = EngineHarness(rules: try Self.rules(), now: "2025-03-01T10:00:00.000Z")
        send(.track, user: "anon-3", anonymous: "anon-3", name: "cart_add", properties: ["cart_id": "c9"], h: &h)
        h.advance(by: .minutes(10))
        send(.track, user: "bob", name: "cart_add", properties: ["cart_id": "c9"], h: &h)
        send(.alias, user: "bob", previous: "anon-3", h: &h)
        let ended = h.outcomes(.exited)
        #expect(ended.count == 1 && ended[0].user == "bob" && ended[0].detail.hasPrefix("identity merge: anon-3#1 entered first"))
        h.advance(by: .hours(1))
        // One reminder, at the anonymous enrollment's time (entered 10:00, timeout 1h).
        #expect(h.touches.map { "\($0.user) \($0.at.iso8601)" } == ["bob 2025-03-01T11:00:00.000Z"])
    }

    @Test mutating func anIdentifyNeverMergesTwoKnownPeopleButAnAliasDoes() throws {
        var h = EngineHarness(rules: try Self.rules(), now: "2025-03-01T10:00:00.000Z")
        send(.track, user: "device", anonymous: "device", name: "purchase", h: &h)
        send(.identify, user: "ann", anonymous: "device", h: &h)
        // Someone else signs in on the same device: their identify carries the same anonymousId.
        send(.identify, user: "ben", anonymous: "device", h: &h)
        #expect(h.store.user("device")?.mergedInto == "ann")
        #expect(h.store.user("ben")?.history.isEmpty == true)
        #expect(h.store.user("ben")?.trace.last?.decisions.contains { $0.verdict == "not merged" } == true)
        // An explicit alias merges ann (and with her, the device) into ben; chains resolve.
        send(.alias, user: "ben", previous: "ann", h: &h)
        send(.track, user: "device", anonymous: "device", name: "purchase", h: &h)
        #expect(h.store.user("ben")?.history.first?.count == 2)
        #expect(Identity.person("device", in: h.store).owner == "ben")
        #expect(Set(Identity.person("ben", in: h.store).merged) == ["ann", "device"])
    }

    @Test mutating func tracingOneUserFollowsTheIdsMergedIntoThem() throws {
        var h = EngineHarness(rules: try Self.rules(), now: "2025-03-01T10:00:00.000Z")
        h.engine.traceUser = "ada"  // replay --explain ada
        send(.track, user: "anon-4", anonymous: "anon-4", name: "cart_add", properties: ["cart_id": "c4"], h: &h)
        send(.alias, user: "ada", previous: "anon-4", h: &h)
        send(.track, user: "anon-4", anonymous: "anon-4", name: "purchase", h: &h)
        let inputs = try #require(h.store.user("ada")?.trace.map(\.input))
        #expect(inputs.count == 2 && inputs[0].hasPrefix("alias") && inputs[1].hasPrefix("track \"purchase\""), "\(inputs)")
        #expect(h.store.user("ada")?.trace.last?.decisions.contains { $0.kind == .exit && $0.journey == "cart" } == true)
    }

    @Test func theSameStreamWithAliasesGivesTheSameTouchesEveryTime() throws {
        let rules = try Self.rules()
        func run() -> [String] {
            var test = IdentityMergeTests()
            var h = EngineHarness(rules: rules, now: "2025-03-01T10:00:00.000Z")
            for i in 0..<30 {
                let anon = "a\(i % 6)"
                test.send(.track, user: anon, anonymous: anon, name: i % 5 == 0 ? "purchase" : "cart_add",
                          properties: ["cart_id": .string("c\(i % 4)")], h: &h)
                if i % 7 == 3 { test.send(.alias, user: "k\(i % 3)", previous: anon, h: &h) }
                h.advance(by: .minutes(13))
            }
            h.advance(by: .hours(3))
            return h.touches.map { "\($0.id) \($0.user)" }
        }
        let first = run()
        #expect(!first.isEmpty)
        #expect(run() == first)
    }
}
