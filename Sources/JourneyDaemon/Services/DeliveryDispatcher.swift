import Foundation
import JourneyChannels
import JourneyCore
import Logging
import ServiceLifecycle
import Synchronization

/// Hands staged touches to the ``DeliveryPipeline`` and their decisions back to the processor, which
/// logs them. One task per channel per batch, so a slow SMTP relay does not hold back the webhooks; the
/// pipeline owns retries, rate limits and the breaker.
///
/// At shutdown (after the sources have stopped) deliveries in flight get `drainSeconds` to finish;
/// what is still running then is cancelled and reported `interrupted` — in doubt.
final class DeliveryDispatcher: DeliverySink, Service, @unchecked Sendable {
    private let state: Mutex<(channels: ChannelSet?, pipeline: DeliveryPipeline?)>
    private let tasks = Mutex<[UUID: Task<Void, Never>]>([:])
    private let clock: any JourneyClock
    private let logger: Logger
    private let drainSeconds: Double
    /// `delivery.concurrency`: deliveries in flight at once over all channels.
    private let concurrency: Int
    /// Where decisions go (the processor's inbox), with the channel's state after the batch.
    var report: @Sendable ([DeliveryReport], (name: String, state: [UInt8])?) -> Void = { _, _ in }
    private let metrics: DaemonMetrics?
    /// Whether the channels are this dispatcher's to shut down (at shutdown, and the old ones after a
    /// reload). In cluster mode every partition's dispatcher shares the instance's channels: not its own.
    private let ownsChannels: Bool
    /// Asked before each attempt (``DeliveryPipeline/deliver(_:fence:)``) and before the processor stages
    /// touches (``accepting``): in cluster mode, whether the partition's lease is still held.
    private let fence: DeliveryFence

    init(
        channels: ChannelSet?, clock: any JourneyClock, concurrency: Int = 64, drainSeconds: Double = 5, metrics: DaemonMetrics? = nil,
        ownsChannels: Bool = true, fence: DeliveryFence = .open, logger: Logger
    ) {
        self.metrics = metrics
        self.fence = fence
        self.ownsChannels = ownsChannels
        self.clock = clock
        self.concurrency = concurrency
        self.logger = logger
        self.drainSeconds = drainSeconds
        state = Mutex((channels, channels.map { DeliveryPipeline(channels: $0, clock: clock, maxConcurrency: concurrency, logger: logger) }))
    }

    /// Swaps in the channels of reloaded rules. A channel whose definition did not change keeps its
    /// delivery state (rate windows, breaker, disabled) as it is; deliveries in flight finish on the old
    /// channels, which are shut down afterwards.
    func replace(with channels: ChannelSet) async {
        let saved = await state.withLock({ $0.pipeline })?.channelStates() ?? [:]
        let old = state.withLock { state in
            defer {
                state = (channels, DeliveryPipeline(channels: channels, clock: clock, maxConcurrency: concurrency, logger: logger, restoring: saved))
            }
            return state.channels
        }
        guard ownsChannels else { return }
        let running = tasks.withLock { Array($0.values) }
        Task {
            for task in running { await task.value }
            await old?.shutdown()
        }
    }

    /// Set once the drain at shutdown is over: touches submitted later are not sent (they stay
    /// `attempting`, resolved by the next start as after a crash) — nothing goes out whose outcome nobody
    /// would record, nor after a cluster partition's lease may have passed to another instance.
    private let drained = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)

    /// False from the start of the drain at shutdown, and while the fence is closed (a lapsed lease): the
    /// processor stages no new touches then.
    var accepting: Bool { !draining.load(ordering: .relaxed) && fence.isOpen }

    func submit(_ items: [PendingDelivery]) {
        guard let pipeline = state.withLock({ $0.pipeline }) else { return }
        var byChannel: [String: [PendingDelivery]] = [:]
        for item in items { byChannel[item.message.touch.channel, default: []].append(item) }
        let (report, fence) = (self.report, self.fence)
        for (_, batch) in byChannel {
            let id = UUID()
            // Registered under the lock the task takes to deregister: it cannot finish before it is known
            // (and under the lock the drain takes to end: none starts after it).
            tasks.withLock { tasks in
                guard !drained.load(ordering: .relaxed) else { return }
                tasks[id] = Task { [self] in
                    let reports = await pipeline.deliver(batch, fence: fence)
                    let channel = batch[0].message.touch.channel
                    report(reports, await pipeline.channelState(of: channel).map { (channel, $0.encoded()) })
                    self.tasks.withLock { _ = $0.removeValue(forKey: id) }
                }
            }
        }
    }

    /// Restores the channels' delivery state as the log left it (at start, before any delivery).
    func restore(_ encoded: [String: [UInt8]]) {
        let saved = encoded.compactMapValues { try? ChannelState(encoded: $0) }
        guard !saved.isEmpty else { return }
        state.withLock { state in
            if let channels = state.channels {
                state.pipeline = DeliveryPipeline(channels: channels, clock: clock, maxConcurrency: concurrency, logger: logger, restoring: saved)
            }
        }
    }

    /// Waits for the deliveries running now (a `--until` run that ends when everything is delivered).
    var idle: Bool { tasks.withLock { $0.isEmpty } }

    func run() async throws {
        // Until shutdown: each channel's breaker state as a gauge, once a second.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let metrics, let (channels, pipeline) = state.withLock({ state in state.pipeline.map { (state.channels?.names ?? [], $0) } }) {
                for channel in channels {
                    guard let status = await pipeline.status(of: channel) else { continue }
                    metrics.breaker(channel: channel, state: status.disabledReason != nil ? 3 : status.breaker.metricValue)
                }
            }
            await nap(.seconds(1))
        }
        // Drain: give deliveries in flight a few seconds, then cancel them (reported `interrupted`).
        draining.store(true, ordering: .relaxed)
        let deadline = ContinuousClock.now + .seconds(drainSeconds)
        while !idle && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        let running = tasks.withLock { tasks in
            drained.store(true, ordering: .relaxed)
            return Array(tasks.values)
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
        if ownsChannels { await state.withLock { $0.channels }?.shutdown() }
    }
}

extension CircuitBreaker.State {
    /// 0 closed, 1 half-open, 2 open (3 is a disabled channel).
    var metricValue: Int {
        switch self {
        case .closed(_): 0
        case .halfOpen(_): 1
        case .open(_): 2
        }
    }
}
