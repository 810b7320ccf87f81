import Foundation
import JourneyChannels
import JourneyCore
import JourneyEngine
import JourneyNATS
import JourneyPostgres
import JourneyRules
import Logging
import ServiceLifecycle
import Synchronization

/// A partition this instance holds the lease of: its processor over the partition's subject
/// (``FollowedLog`` over a ``JetStreamLog``), restored from the last checkpoint in PostgreSQL, with its
/// checkpointer (each checkpoint carries the lease's token), delivery dispatcher and follower, run as one
/// service group. It stops gracefully when the instance lets the partition go (a last checkpoint), at once
/// when the lease is lost, and by itself when a checkpoint is fenced or the log fails.
final class OwnedPartition: Sendable {
    let partition: Int
    let token: FencingToken
    let group: ServiceGroup
    let processor: PartitionProcessor
    let dispatcher: DeliveryDispatcher
    /// When each service was asked to stop and returned (a hand-over's log line).
    let stages: StopStages
    /// The partition's subject as the processor reads it (its read position) and as the server has it.
    let log: FollowedLog
    let base: JetStreamLog
    private let task: Task<String?, Never>

    private init(
        partition: Int, token: FencingToken, group: ServiceGroup, processor: PartitionProcessor, dispatcher: DeliveryDispatcher, stages: StopStages,
        log: FollowedLog, base: JetStreamLog
    ) {
        self.partition = partition
        self.log = log
        self.base = base
        self.stages = stages
        self.dispatcher = dispatcher
        self.token = token
        self.group = group
        self.processor = processor
        let flag = SharedFlag()
        task = Task {
            defer { flag.set() }
            do {
                try await group.run()
                return nil
            } catch {
                return "\(error)"
            }
        }
        self.flag = flag
    }

    private let flag: SharedFlag

    /// A partition is checkpointed once it applied this many log bytes (or `state.checkpoint.log_bytes`,
    /// if smaller) since its last checkpoint — its replay after a takeover included —, besides every
    /// `state.checkpoint.every`: a new owner then replays at most about this much of it (about a thousand
    /// events) after a kill. A takeover starts some P / instances partitions at once, CPU-bound: their
    /// replays, not the checkpoints (PostgreSQL spends well under 1 µs per event on them), set its time.
    static let checkpointBytes = 256 << 10

    /// Restores the partition and starts processing it; `fence` (the lease, ``HeldLeases/deliveryFence(_:token:)``)
    /// stops its deliveries the moment the lease lapses.
    static func start(partition p: Int, token: FencingToken, fence: DeliveryFence, context c: ClusterContext) async throws -> OwnedPartition {
        let store = c.store
        let started = MonotonicClock.nanoseconds
        let restored = try await blocking("journeyd restore") { try store.restore(partition: p) }
        let restoredAt = MonotonicClock.nanoseconds
        let (base, reader) = try await blocking("journeyd follow") {
            let base = try JetStreamLog(stream: c.stream, partition: p)
            // This owner starts here, before the replay's end: what a staler owner appends after it is
            // skipped by this owner's replay and follower and by every later replay alike.
            _ = try base.append { JournalRecord.owner(token: token.value).encode(into: &$0) }
            return (base, try PartitionReader(log: base, after: restored.logSequence))
        }
        let openedAt = MonotonicClock.nanoseconds
        let log = FollowedLog(base, committed: restored.logSequence, reader: reader, token: token)
        let live = c.partitions.live
        let (initial, engine) = try Daemon.startingRuntime(partition: p, restored: restored, live: live, archive: store, logger: c.logger)
        let settings = live.rules.settings.daemonSettings
        var logger = c.logger
        logger[metadataKey: "partition"] = "\(p)"
        // `--clock event`: each partition's own event time (what a replay of the partition's events gives).
        let eventClock = c.options.eventClock ? ManualClock(restored.clock) : nil
        let clock: any JourneyClock = eventClock ?? c.clock
        let dispatcher = DeliveryDispatcher(
            channels: live.channels, clock: clock, concurrency: settings.deliveryConcurrency, metrics: c.metrics, ownsChannels: false,
            fence: fence, logger: logger)
        let state = PartitionState(
            partition: p, store: store, restored: restored, settings: initial.rules.settings, clock: restored.clock,
            maxUsersInMemory: settings.maxUsersInMemory)
        let processor = PartitionProcessor(
            partition: p, runtime: initial, engine: engine, state: state, log: log, archive: store, clock: clock, eventClock: eventClock,
            deliveries: dispatcher, inboxCapacity: max(4 * c.options.batchSize, 8192), metrics: c.metrics, logger: logger)
        processor.streamOwner = restored.fence?.value ?? 0
        processor.partitionOf = { [stream = c.stream] in stream.partition(of: $0) }
        processor.publishTo = { [publisher = c.publisher] partition, messageId, payload in
            _ = try publisher.publish(.init(partition: partition, messageId: messageId, payload: payload))
        }
        let inbox = processor.inbox
        dispatcher.report = { reports, channel in inbox.post(ProcessorWork.deliveries(reports, channel: channel)) }
        let parser = c.parser
        let builtAt = MonotonicClock.nanoseconds
        let (replayed, replayedAt) = try await blocking("journeyd recovery") {
            let replayed = try processor.replay(after: restored.logSequence, parser: parser)
            let replayedAt = MonotonicClock.nanoseconds
            try processor.goLive(with: live)
            dispatcher.restore(processor.state.channelStates)
            return (replayed, replayedAt)
        }
        let now = MonotonicClock.nanoseconds
        func ms(_ from: UInt64, _ to: UInt64) -> UInt64 { (to - from) / 1_000_000 }
        logger.notice(
            "partition \(p) taken over under lease token \(token.value): \(replayed) records replayed after the checkpoint at stream sequence \(restored.logSequence) in \(ms(started, now)) ms (restore \(ms(started, restoredAt)), consumer \(ms(restoredAt, openedAt)), build \(ms(openedAt, builtAt)), replay \(ms(builtAt, replayedAt)), going live \(ms(replayedAt, now)))",
            metadata: [RecordField.kind: "partition_owned"])
        var checkpointer = Checkpointer(
            processor: processor, store: store, log: log, every: settings.checkpointEvery,
            logBytes: min(settings.checkpointLogBytes, Self.checkpointBytes),
            retention: settings.logRetention, logger: logger, covered: restored.logSequence)
        checkpointer.fence = token
        checkpointer.bytesCovered = 0  // the followed log counts from the restored checkpoint: the replay counts
        checkpointer.eraseByDiscarding = true
        let stages = StopStages()
        func staged(_ name: String, _ service: any Service) -> StagedService { StagedService(name: name, service: service, stages: stages) }
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: staged("processor", ProcessorService(processor: processor)), successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: staged("checkpointer", checkpointer), failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: staged("dispatcher", dispatcher), failureTerminationBehavior: .gracefullyShutdownGroup),
            // Last, so it stops first.
            .init(
                service: staged("follower", PartitionFollower(processor: processor, parser: parser, reader: reader, wait: .seconds(1))),
                failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        let group = ServiceGroup(
            configuration: .init(services: services, logger: Logger(label: "journeyd.partition", factory: { _ in SwiftLogNoOpLogHandler() })))
        return OwnedPartition(partition: p, token: token, group: group, processor: processor, dispatcher: dispatcher, stages: stages, log: log, base: base)
    }

    /// Whether the partition's services have stopped (by themselves: fenced, failed; or stopped).
    var hasEnded: Bool { flag.isSet }

    /// Cancels the partition's services without waiting for them (a graceful stop that did not end).
    func abandon() { task.cancel() }

    /// What the processor still waits for before it can stop (asked on its thread; nil when it does not
    /// answer within `within`): for the log of a stop that does not end.
    func pending(within: Duration) async -> String? {
        let answer = Mutex<String?>(nil)
        let processor = self.processor
        processor.inbox.post(.query { p in answer.withLock { $0 = p.stopPending } })
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if let text = answer.withLock({ $0 }) { return text }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Stops the partition at once — its lease is lost, so nothing more is written — and waits at most
    /// `bound` for its services to end; false when they did not (``stages`` says which one still runs).
    func cancel(within bound: Duration) async -> Bool {
        stages.begin()
        task.cancel()
        let deadline = ContinuousClock.now + bound
        while !hasEnded && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return hasEnded
    }

    /// Lets the partition go: a last checkpoint (graceful) or nothing more at all (the lease is lost).
    /// Returns the reason it failed, if it did.
    @discardableResult
    func stop(graceful: Bool) async -> String? {
        stages.begin()
        if graceful {
            await group.triggerGracefulShutdown()
        } else {
            task.cancel()
        }
        return await task.value
    }
}
