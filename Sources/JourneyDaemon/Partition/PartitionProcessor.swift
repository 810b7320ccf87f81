import Foundation
import JourneyChannels
public import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import Logging
import Synchronization

/// The heart of a partition: applies its inputs — event batches, timer ticks, delivery decisions,
/// reloads — through the deterministic engine on in-memory state, appending each to the event log
/// first (DESIGN §6). One thread of its own; everything that changes the partition's state arrives
/// through its ``inbox``, so no lock guards the state.
///
/// A turn: take what is queued; apply it (appending log records); fire due timers; stage due touches
/// (`attempting`, logged); ask the ``LogSyncer`` to make the log durable. When a sync reports back,
/// the batches it covers are acknowledged to their sources and the staged touches it covers go to the
/// dispatcher — so nothing is acknowledged or delivered before the record that causes it is durable.
public final class PartitionProcessor: @unchecked Sendable {
    let partition: Int
    let log: any EventLog
    let archive: any JourneyArchive
    let inbox: ProcessorInbox
    let logger: Logger
    let clock: any JourneyClock
    /// Event time (`--clock event`): the clock the engine and the delivery pipeline read.
    let eventClock: ManualClock?
    let deliveries: any DeliverySink
    let metrics: DaemonMetrics

    private(set) var runtime: Runtime
    private(set) var engine: Engine
    let state: PartitionState
    var counters = DaemonCounters()
    var effects: [Effect] = []
    /// Whether log records are being replayed (recovery): nothing is logged to the journal then.
    var replaying = false

    private var syncer: LogSyncer!
    private var syncRequested: UInt64 = 0
    /// Batches appended and not yet durable: the syncer answers them.
    private let acks: PendingAcks
    /// The source of the batch being applied (for the metrics).
    var currentSource: String?
    private var publishedAt: UInt64 = 0
    /// Touches marked attempting and not yet durable: handed to the dispatcher once they are.
    var staged: [(sequence: UInt64, items: [PendingDelivery])] = []
    /// Touches with the dispatcher, by id (with when they were staged), and how many batches per channel.
    var inFlight: [String: (touch: Touch, staged: UInt64)] = [:]
    var busyChannels: [String: Int] = [:]
    var finishing: (until: Timestamp, reply: @Sendable () -> Void)?
    /// Cluster mode: the tick this owner appended and has not read back yet (it is applied when read back,
    /// in the subject's order); no other is appended meanwhile.
    var tickInFlight: Timestamp?
    /// Cluster mode: reloads whose `rules` record this owner appended and has not read back yet, in order;
    /// each goes live when its record is read back, in the subject's order.
    var reloadsInFlight: [Runtime] = []
    /// Cluster mode: the lease token of the partition's owner as the log says so far — the checkpoint's,
    /// then each ``JournalRecord/owner(token:)`` read. A record stamped with a lower token is a stale
    /// owner's: skipped, live and on replay alike. 0 in the embedded mode (nothing is stamped there).
    var streamOwner: Int64 = 0
    /// Cluster mode: the partition of a user id (the stream's), to route events whose ids another partition
    /// holds (``route(_:partitionOf:)``); nil in the embedded mode (one partition).
    var partitionOf: (@Sendable (String) -> Int)? {
        get { state.partitionOf }
        set { state.partitionOf = newValue }
    }
    /// Cluster mode: publishes a record (payload) to another partition's subject under a message id and
    /// returns once JetStream stored it: hand-over requests and answers, forwarded events.
    var publishTo: ((_ partition: Int, _ messageId: String, _ payload: [UInt8]) throws -> Void)?
    private var stopping: (@Sendable () -> Void)?
    private(set) var failure: String?
    var lastReload = "none"

    private let published = Mutex(PartitionFigures())
    /// The last readings of the wall and the monotonic clock, to notice the wall clock being stepped.
    private var lastReading: (wall: Timestamp, monotonic: UInt64)?
    /// The longest the loop sleeps when idle (a quarter of the watchdog interval, at most a second).
    var idleWaitMilliseconds: Int64 = 1000
    private var turns: UInt64 = 0

    init(
        partition: Int, runtime: Runtime, engine: Engine, state: PartitionState, log: any EventLog, archive: any JourneyArchive,
        clock: any JourneyClock, eventClock: ManualClock?, deliveries: any DeliverySink, inboxCapacity: Int, metrics: DaemonMetrics,
        logger: Logger
    ) {
        self.metrics = metrics
        self.partition = partition
        self.runtime = runtime
        self.engine = engine
        self.state = state
        self.log = log
        self.archive = archive
        self.clock = clock
        self.eventClock = eventClock
        self.deliveries = deliveries
        self.logger = logger
        inbox = ProcessorInbox(capacity: inboxCapacity)
        acks = PendingAcks(metrics: metrics)
        syncer = LogSyncer(log: log, acks: acks) { [inbox] work in inbox.post(work) }
    }

    /// The figures of the last turn (any thread).
    public var figures: PartitionFigures { published.withLock { $0 } }

    /// The time the engine runs at now.
    var now: Timestamp {
        if let eventClock { return eventClock.now }
        return max(state.clock, clock.now)
    }

    var resendableChannels: Set<String> {
        Set((runtime.channels?.channels ?? []).filter { $0.adapter.acceptsIdempotencyKeys }.map(\.name))
    }

    // MARK: - The loop

    /// Runs until stopped (on the calling thread, which it keeps). Returns the reason it failed, if it did.
    func run() -> String? {
        syncer.start()
        defer { syncer.stop() }
        let failure = loop()
        inbox.finish(failure ?? "journeyd is stopping")
        return failure
    }

    private func loop() -> String? {
        while true {
            let deadline = wakeDeadline()
            let work = inbox.take(waitingUntil: deadline)
            watchClock()
            for item in work { handle(item) }
            if failure == nil {
                if eventClock == nil && stopping == nil { fireDueTimers(at: now) }
                // Stopping, nothing new goes out: the dispatcher has drained already, and in cluster mode the
                // lease may be lost (a stale owner's fresh `attempting` record is skipped by the new owner,
                // which would send the touch again). Due touches stay queued for the next start.
                if stopping == nil { stageDeliveries() }
                if let (until, reply) = finishing, finished(until) {
                    finishing = nil
                    reply()
                }
                requestSync()
                // After the sync is asked for, so compaction overlaps the fsync instead of delaying it.
                if state.compactionPending { state.compact(1024) }
            }
            turns &+= 1
            publish()
            if let reply = stopping, failure != nil || (acks.isEmpty && staged.isEmpty && log.durableSequence >= log.lastSequence) {
                reply()
                return failure
            }
            if let failure, stopping == nil {
                // Nothing more can be made durable: refuse everything waiting and stop (crash-only).
                return failure
            }
        }
    }

    /// Asks the syncer for a sync of what was appended since the last request. Asked after every batch,
    /// not once per turn: the `fdatasync` then overlaps the batches applied after it in the same turn.
    /// Cluster mode: `lastSequence` is the read position, which stays behind the records the processor
    /// appended itself until the follower reads them back — and a stopping partition's follower has
    /// stopped first. The durable position covers those appends: touches staged under one of them
    /// (the dispatcher's drain frees a channel, the next due touches are staged) would otherwise wait for a
    /// sync nobody asks for, and the processor's stop for them (issue 13's hand-over hang).
    private func requestSync() {
        let appended = max(log.lastSequence, log.durableSequence)
        if appended > syncRequested {
            syncRequested = appended
            syncer.request()
        }
    }

    /// Notices the wall clock being stepped (NTP, a resumed VM): due times are wall-clock instants, so a
    /// jump forward makes timers due at once (they fire late, under their journey's `late` policy); a
    /// jump back makes time stand still (``now`` never goes back) until the wall clock catches up — no
    /// timer fires early or twice. Either way the record says what happened.
    private func watchClock() {
        guard eventClock == nil else { return }
        let wall = clock.now
        let monotonic = MonotonicClock.nanoseconds
        defer { lastReading = (wall, monotonic) }
        guard let last = lastReading else { return }
        let drift = (wall - last.wall).milliseconds - Int64((monotonic - last.monotonic) / 1_000_000)
        guard abs(drift) >= 1000 else { return }
        // Both readings are truncated to milliseconds, so the difference is off by a millisecond or two:
        // jumps are reported to the nearest second ("back 1h", not "back 59m59s999ms").
        let size = TimeSpan(milliseconds: (abs(drift) + 500) / 1000 * 1000)
        if drift > 0 {
            var due = 0
            for timer in state.timers.unordered where timer.due > last.wall && timer.due <= wall { due += 1 }
            logger.warning(
                "the wall clock jumped forward by \(size): \(due) timers due within the jump fire now, late (each journey's late policy applies)",
                metadata: [RecordField.kind: "\(RecordKind.clockJump.rawValue)", RecordField.reason: "forward \(size)"])
        } else {
            logger.warning(
                "the wall clock jumped back by \(size): journeyd's time stays at \(state.clock.iso8601) until the clock catches up; no timer fires early or twice",
                metadata: [RecordField.kind: "\(RecordKind.clockJump.rawValue)", RecordField.reason: "back \(size)"])
        }
    }

    /// How long the loop may sleep: until the next timer or touch is due (at most a second, so the
    /// watchdog sees turns), or not at all when work is pending.
    private func wakeDeadline() -> UInt64 {
        let start = MonotonicClock.nanoseconds
        var waitMilliseconds: Int64 = state.compactionPending ? 0 : idleWaitMilliseconds
        if eventClock == nil {
            let current = now
            // A tick in flight is applied when the follower reads it back (inbox work wakes the loop).
            if tickInFlight == nil, let due = state.nextTimerDue { waitMilliseconds = min(waitMilliseconds, max(0, (due - current).milliseconds)) }
            if let due = state.outbox.nextDue() { waitMilliseconds = min(waitMilliseconds, max(0, (due - current).milliseconds)) }
        }
        return start + UInt64(max(1, waitMilliseconds)) * 1_000_000
    }

    private func handle(_ work: ProcessorWork) {
        switch work {
        case .intake(let batch, let receipt):
            if let failure {
                receipt.resolve(.refused(failure))
            } else if stopping != nil {
                receipt.resolve(.refused("journeyd is stopping"))
            } else {
                apply(batch, receipt: receipt)
                if failure == nil { requestSync() }
            }
        case .deliveries(let reports, let channel):
            record(reports)
            if let channel, state.record(channel: channel.name, state: channel.state) {
                _ = try? log.append { JournalRecord.channels([channel.name: channel.state]).encode(into: &$0) }
            }
        case .reload(let new, let reply):
            swapIn(new)
            publish()  // so that whoever waits reads the new figures (systemd's STATUS= right after a reload)
            reply()
        case .reloadRefused(let reply):
            noteRefusedReload()
            publish()
            reply()
        case .query(let body):
            body(self)
        case .checkpoint(let reply):
            // A failed processor's state may hold a record applied in part: never checkpointed.
            guard failure == nil else { return reply(nil) }
            reply(state.snapshot(logSequence: log.lastSequence, rulesVersion: runtime.version, takenAt: clock.now))
            counters.checkpoints += 1
        case .checkpointWritten:
            state.checkpointWritten()
        case .synced(let durable, let nanoseconds):
            metrics.logSync(nanoseconds: nanoseconds, records: 0)
            acknowledge(through: durable)
        case .failed(let reason, let diskFull):
            fail(reason, diskFull: diskFull)
        case .finish(let until, let reply):
            finish(until: until, reply: reply)
        case .stop(let reply):
            stopping = reply
            inbox.close()
        }
        if let error = state.failure, failure == nil {
            fail("the state store failed: \(error)", diskFull: error.isDiskFull)
        }
    }

    /// What a sync made durable: the batches it covers are acknowledged, the touches staged under it go
    /// to their channels.
    private func acknowledge(through durable: UInt64) {
        acks.resolve(through: durable)  // the syncer answered them already; this only keeps the order of the two
        var released = 0
        while released < staged.count, staged[released].sequence <= durable {
            deliveries.submit(staged[released].items)
            released += 1
        }
        staged.removeFirst(released)
    }

    /// Stops the processor for good (crash-only): refuses input, acknowledges nothing more, checkpoints nothing.
    func fail(_ reason: String, diskFull: Bool) {
        guard failure == nil else { return }
        failure = reason
        inbox.close()
        if diskFull {
            logger.critical(
                "the disk is full: \(reason); \(Self.freeSpace(at: log.location)) free; refusing input, acknowledging nothing more, and stopping",
                metadata: [RecordField.kind: "\(RecordKind.diskFull.rawValue)", RecordField.reason: "\(reason)"])
        } else {
            logger.critical(
                "\(reason); refusing input and stopping",
                metadata: [RecordField.kind: "\(RecordKind.storeFailure.rawValue)", RecordField.reason: "\(reason)"])
        }
        acks.refuseAll(diskFull ? "disk full" : "journeyd cannot store events")
        staged.removeAll()
    }

    /// The free space of the file system holding `path`, readably ("312 KiB").
    static func freeSpace(at path: String) -> String {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return "unknown space" }
        let bytes = Double(info.f_bavail) * Double(info.f_frsize)
        for (unit, size) in [("GiB", 1073741824.0), ("MiB", 1048576.0), ("KiB", 1024.0)] where bytes >= size {
            return String(format: "%.1f %@", bytes / size, unit)
        }
        return "\(Int(bytes)) bytes"
    }

    func remember(_ sequence: UInt64, _ receipt: IntakeReceipt, refused: [(line: Int, path: String, reason: String)]) {
        acks.add(sequence, receipt, refused: refused) { log.durableSequence }
    }

    /// Swaps in a new runtime (built and checked aside): one assignment each for rules and renderer. In
    /// cluster mode only once its `rules` record is read back (``follow(_:parser:)``): events other
    /// instances published before it are applied under the rules they came under, as a replay applies them.
    func swapIn(_ new: Runtime) {
        do {
            _ = try log.append { JournalRecord.rules(version: new.version).encode(into: &$0) }
        } catch {
            fail("the event log cannot be written: \(error)", diskFull: error.isDiskFull)
            return
        }
        if log is FollowedLog {
            reloadsInFlight.append(new)
        } else {
            goLive(reloaded: new)
        }
    }

    /// A reload's runtime goes live (its `rules` record is in the log before this point).
    func goLive(reloaded new: Runtime) {
        let summary = engine.load(new.rules)
        runtime = new
        counters.reloads += 1
        lastReload = "ok"
        metrics.reload(ok: true, version: new.version)
        logger.notice(
            "rules reloaded: \(new.rules.journeys.count) journeys (added \(summary.added.count), changed \(summary.changed.count), removed \(summary.removed.count), unchanged \(summary.unchanged.count))",
            metadata: [RecordField.kind: "\(RecordKind.rulesReloaded.rawValue)", RecordField.outcome: "live"])
    }

    /// Notes a refused reload (the reloader logged its errors).
    private func noteRefusedReload() {
        counters.reloadsRefused += 1
        lastReload = "refused"
        metrics.reload(ok: false, version: nil)
    }

    private func publish() {
        var figures = PartitionFigures()
        figures.counters = counters
        figures.journeys = runtime.rules.journeys.count
        figures.rulesVersion = runtime.version
        figures.timers = state.timerCount
        figures.usersInMemory = state.usersInMemory
        figures.outboxWaiting = state.outbox.waiting
        figures.outboxAttempting = inFlight.count
        figures.intakeQueued = inbox.depth
        figures.logSequence = log.lastSequence
        figures.durableSequence = log.durableSequence
        figures.lastReload = lastReload
        figures.clock = state.clock
        figures.turns = turns
        published.withLock { $0 = figures }
        let now = MonotonicClock.nanoseconds
        if now - publishedAt >= 250_000_000 {
            publishedAt = now
            let (pending, retry) = state.outbox.waitingByState()
            let byState: [DeliveryState: Int] = [.attempting: inFlight.count, .pending: pending, .retry: retry]
            metrics.publish(figures, activeEnrollments: state.activeEnrollments, outboxByState: byState)
        }
    }
}

extension PartitionProcessor {
    /// Loads `new` into the engine (pinned users keep their versions) and makes it the runtime.
    func engineLoad(_ new: Runtime) -> ReloadSummary {
        let summary = engine.load(new.rules)
        runtime = new
        return summary
    }

    func setRuntime(_ new: Runtime) { runtime = new }
}
