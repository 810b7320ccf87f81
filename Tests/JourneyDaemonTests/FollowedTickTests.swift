import JourneyChannels
import JourneyCore
import JourneyEvents
import JourneyLog
import JourneyRules
import JourneyStore
import Logging
import Testing

@testable import JourneyDaemon

/// Cluster mode: other instances publish events to a partition's subject while its owner appends its own
/// ticks there. A tick is applied when the owner reads it back, after the events before it in the
/// subject — the order a new owner's replay applies them in — so the owner decides what the replay decides.
@Suite("A cluster owner's ticks, applied in the subject's order")
struct FollowedTickTests {
    static let t0 = Timestamp(iso8601: "2026-01-10T12:00:00Z")!

    /// A partition's owner over `base` (the subject), on the wall clock `wall`, with bench/rules' journeys.
    static func owner(of base: MemoryEventLog, wall: ManualClock) async throws -> PartitionProcessor {
        let (built, diagnostics) = await RuntimeBuilder.build(directory: repositoryRoot + "/bench/rules", channels: .none)
        let live = try #require(built, "\(diagnostics)")
        let store = MemoryCheckpointStore()
        let restored = try store.restore(partition: 0)
        let (runtime, engine) = try Daemon.startingRuntime(partition: 0, restored: restored, live: live, archive: store, logger: Logger(label: "test"))
        let state = PartitionState(
            partition: 0, store: store, restored: restored, settings: runtime.rules.settings, clock: restored.clock, maxUsersInMemory: 1_000_000)
        return PartitionProcessor(
            partition: 0, runtime: runtime, engine: engine, state: state, log: FollowedLog(base, committed: 0), archive: store, clock: wall,
            eventClock: nil, deliveries: NoSink(), inboxCapacity: 64, metrics: DaemonMetrics(), logger: Logger(label: "test"))
    }

    struct NoSink: DeliverySink {
        func submit(_ items: [PendingDelivery]) {}
    }

    /// Another instance's input publishing `events` received at `at` (as `ClusterPublisher` does).
    static func publish(_ events: [String], at: Timestamp, to base: MemoryEventLog) throws {
        let record = JournalRecord.EventsRecord(
            appliedAt: at, receivedAt: at, origin: "socket", namespace: "", lines: events.map { Array($0.utf8) }, positions: [:])
        _ = try base.append { JournalRecord.events(record).encode(into: &$0) }
    }

    static func records(of base: MemoryEventLog, after: UInt64) throws -> [(sequence: UInt64, payload: [UInt8])] {
        var out: [(sequence: UInt64, payload: [UInt8])] = []
        try base.read(after: after) { sequence, bytes in
            out.append((sequence, Array(bytes)))
            return true
        }
        return out
    }

    static func event(_ name: String, user: String, cart: String, at: Timestamp) -> String {
        #"{"type":"track","event":"\#(name)","userId":"\#(user)","messageId":"\#(name)-\#(user)-\#(cart)","timestamp":"\#(at.iso8601)","properties":{"price":60,"cart_id":"\#(cart)"}}"#
    }

    @Test("a purchase published before the owner's tick ends the wait before the tick fires the reminder")
    func aTickIsAppliedAfterTheEventsBeforeItInTheSubject() async throws {
        let base = MemoryEventLog()
        let wall = ManualClock(Self.t0)
        let processor = try await Self.owner(of: base, wall: wall)
        let parser = SegmentEventParser()
        // Two carts two hours ago: each waits an hour for a purchase, then the reminder is due.
        let twoHoursAgo = Self.t0 - .seconds(7200)
        try Self.publish([Self.event("cart_add", user: "u0", cart: "c0", at: twoHoursAgo), Self.event("cart_add", user: "u1", cart: "c1", at: twoHoursAgo)], at: twoHoursAgo, to: base)
        #expect(try processor.follow(Self.records(of: base, after: 0), parser: parser) == 1)
        #expect(processor.state.nextTimerDue == Self.t0 - .seconds(3600))

        // u0 buys 61 minutes ago — published by another instance, not read by the owner yet — and then the
        // owner's wall clock passes the reminders' due time: its tick lands after the purchase in the subject.
        let bought = Self.t0 - .seconds(3660)
        try Self.publish([Self.event("purchase", user: "u0", cart: "c0", at: bought)], at: bought, to: base)
        processor.fireDueTimers(at: Self.t0)
        #expect(base.lastSequence == 3, "the tick is appended")
        #expect(Array(processor.state.outbox.all).isEmpty, "and not applied before the owner reads it back")
        processor.fireDueTimers(at: Self.t0 + .seconds(1))
        #expect(base.lastSequence == 3, "no second tick while one is in flight")

        // Read back in the subject's order: the purchase ends u0's wait, then the tick sends u1's reminder only.
        #expect(try processor.follow(Self.records(of: base, after: 1), parser: parser) == 2)
        #expect(processor.tickInFlight == nil)
        let live = processor.state.outbox.all.map(\.touch).sorted { $0.id < $1.id }
        #expect(live.map(\.user) == ["u1"] && live.map(\.step) == ["remind"], "\(live)")

        // A new owner replaying the subject decides the same.
        let successor = try await Self.owner(of: base, wall: ManualClock(Self.t0 + .seconds(60)))
        _ = try successor.replay(after: 0, parser: parser)
        let replayed = successor.state.outbox.all.map(\.touch).sorted { $0.id < $1.id }
        #expect(replayed.map(\.id) == live.map(\.id) && replayed.map(\.at) == live.map(\.at), "live \(live), replayed \(replayed)")
    }
}
