import Foundation
import JourneyChannels
import JourneyCore
import JourneyEvents
import JourneyLog
import JourneyRules
import JourneyStore
import JourneyTesting
import Logging
import Testing

@testable import JourneyDaemon

/// Cluster mode: other instances publish events to a partition's subject while its owner appends its own
/// ticks and reloads there. Those are applied when the owner reads them back, after the events before them
/// in the subject — the order a new owner's replay applies them in — so the owner decides what the replay
/// decides.
@Suite("A cluster owner's ticks and reloads, applied in the subject's order")
struct OwnRecordOrderTests {
    static let t0 = Timestamp(iso8601: "2026-01-10T12:00:00Z")!

    /// A partition's owner over `base` (the subject), on the wall clock `wall`, with bench/rules' journeys,
    /// its archive `store`.
    static func owner(
        of base: MemoryEventLog, wall: ManualClock, store: MemoryCheckpointStore = MemoryCheckpointStore(), token: FencingToken? = nil
    ) async throws -> PartitionProcessor {
        let live = try await Self.runtime(repositoryRoot + "/bench/rules")
        try store.keep(live.snapshot)
        let restored = try store.restore(partition: 0)
        let (runtime, engine) = try Daemon.startingRuntime(partition: 0, restored: restored, live: live, archive: store, logger: Logger(label: "test"))
        let state = PartitionState(
            partition: 0, store: store, restored: restored, settings: runtime.rules.settings, clock: restored.clock, maxUsersInMemory: 1_000_000)
        return PartitionProcessor(
            partition: 0, runtime: runtime, engine: engine, state: state, log: FollowedLog(base, committed: 0, token: token), archive: store, clock: wall,
            eventClock: nil, deliveries: NoSink(), inboxCapacity: 64, metrics: DaemonMetrics(), logger: Logger(label: "test"))
    }

    static func runtime(_ directory: String) async throws -> Runtime {
        let (built, diagnostics) = await RuntimeBuilder.build(directory: directory, channels: .none)
        return try #require(built, "\(diagnostics)")
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

    @Test("a cart published before the owner's reload is taken in under the rules it came under")
    func aReloadGoesLiveAfterTheEventsBeforeItInTheSubject() async throws {
        // The reload raises cart_abandonment's threshold from 50 to 500: a 60 cart no longer enrolls.
        let directory = try TemporaryDirectory(prefix: "journeyd-reload-order")
        defer { directory.remove() }
        let fm = FileManager.default
        try fm.copyItem(atPath: repositoryRoot + "/bench/rules", toPath: directory.path + "/rules")
        let journey = directory.path + "/rules/journeys/cart_abandonment.yaml"
        try (try String(contentsOfFile: journey, encoding: .utf8)).replacingOccurrences(of: "price >= 50", with: "price >= 500")
            .write(toFile: journey, atomically: true, encoding: .utf8)
        let raised = try await Self.runtime(directory.path + "/rules")

        let base = MemoryEventLog()
        let store = MemoryCheckpointStore()
        try store.keep(raised.snapshot)
        let processor = try await Self.owner(of: base, wall: ManualClock(Self.t0), store: store)
        let first = processor.runtime.version
        #expect(first != raised.version)
        let parser = SegmentEventParser()
        try Self.publish([Self.event("cart_add", user: "u0", cart: "c0", at: Self.t0)], at: Self.t0, to: base)
        try processor.follow(Self.records(of: base, after: 0), parser: parser)
        #expect(processor.state.timerCount == 1)

        // u1's cart is published (not read yet), then this instance reloads: its rules record lands after it.
        try Self.publish([Self.event("cart_add", user: "u1", cart: "c1", at: Self.t0 + .seconds(1))], at: Self.t0 + .seconds(1), to: base)
        processor.swapIn(raised)
        #expect(base.lastSequence == 3, "the rules record is appended")
        #expect(processor.runtime.version == first, "and the new rules wait for it to be read back")

        #expect(try processor.follow(Self.records(of: base, after: 1), parser: parser) == 2)
        #expect(processor.runtime.version == raised.version && processor.reloadsInFlight.isEmpty)
        #expect(processor.state.timerCount == 2, "u1's cart came under the old rules, and waits for its purchase")

        // A new owner replaying the subject gets the same.
        let successor = try await Self.owner(of: base, wall: ManualClock(Self.t0 + .seconds(60)), store: store)
        _ = try successor.replay(after: 0, parser: parser)
        #expect(successor.runtime.version == raised.version)
        #expect(successor.state.timerCount == 2)
        // After the reload a 60 cart enrolls no one, live or replayed.
        try Self.publish([Self.event("cart_add", user: "u2", cart: "c2", at: Self.t0 + .seconds(2))], at: Self.t0 + .seconds(2), to: base)
        try processor.follow(Self.records(of: base, after: 3), parser: parser)
        #expect(processor.state.timerCount == 2)
    }

    @Test("a stale owner's tick, appended after the new owner took over, is skipped live and on every replay")
    func aStaleOwnersRecordsAreSkippedLiveAndOnReplay() async throws {
        let base = MemoryEventLog()
        let parser = SegmentEventParser()
        // Owner 1 starts (its `owner` record first, as OwnedPartition appends it) and takes in two carts.
        _ = try base.append { JournalRecord.owner(token: 1).encode(into: &$0) }
        let stale = try await Self.owner(of: base, wall: ManualClock(Self.t0), token: FencingToken(1))
        try stale.replay(after: 0, parser: parser)
        let twoHoursAgo = Self.t0 - .seconds(7200)
        try Self.publish([Self.event("cart_add", user: "u0", cart: "c0", at: twoHoursAgo), Self.event("cart_add", user: "u1", cart: "c1", at: twoHoursAgo)], at: twoHoursAgo, to: base)
        #expect(try stale.follow(Self.records(of: base, after: 0), parser: parser) == 1)

        // Owner 1 is paused past its lease; owner 2 takes the partition over and replays the subject.
        _ = try base.append { JournalRecord.owner(token: 2).encode(into: &$0) }
        let owner = try await Self.owner(of: base, wall: ManualClock(Self.t0), token: FencingToken(2))
        try owner.replay(after: 0, parser: parser)
        #expect(owner.streamOwner == 2 && owner.state.timerCount == 2)

        // Owner 1 wakes and appends a tick (its reminders are due); u0's purchase is published after it.
        stale.fireDueTimers(at: Self.t0)
        let staleTick = base.lastSequence
        let bought = Self.t0 - .seconds(3660)
        try Self.publish([Self.event("purchase", user: "u0", cart: "c0", at: bought)], at: bought, to: base)

        // Owner 2 skips the stale tick, applies the purchase, then its own tick sends u1's reminder only.
        #expect(try owner.follow(Self.records(of: base, after: 0), parser: parser) == 1, "the purchase; not the stale tick")
        owner.fireDueTimers(at: Self.t0 + .seconds(1))
        #expect(base.lastSequence == staleTick + 2)
        #expect(try owner.follow(Self.records(of: base, after: 0), parser: parser) == 1)
        let live = owner.state.outbox.all.map(\.touch).sorted { $0.id < $1.id }
        #expect(live.map(\.user) == ["u1"], "\(live)")

        // Any later replay of the subject skips the stale tick too, and decides the same.
        let successor = try await Self.owner(of: base, wall: ManualClock(Self.t0 + .seconds(60)))
        _ = try successor.replay(after: 0, parser: parser)
        let replayed = successor.state.outbox.all.map(\.touch).sorted { $0.id < $1.id }
        #expect(replayed.map(\.id) == live.map(\.id) && replayed.map(\.at) == live.map(\.at), "live \(live), replayed \(replayed)")
    }
}
