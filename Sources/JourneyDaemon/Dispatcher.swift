import Foundation
import Glibc
public import JourneyChannels
import JourneyCore
import JourneyRules
import Logging
import Synchronization

/// The outbox dispatcher's moving part: hands batches of due touches to the ``DeliveryPipeline`` on
/// tasks of their own, and gives the decisions back to the processing loop, which persists them. It
/// touches no store: the loop commits `attempting` before it submits, and the decisions after.
///
/// One task per channel per batch, so a slow SMTP relay does not hold back the webhooks. The loop
/// sleeps in `poll(2)`; ``wakeDescriptor`` becomes readable when decisions are waiting.
final class Dispatcher {
    private(set) var channels: ChannelSet
    private var pipeline: DeliveryPipeline
    private let context: ChannelContext
    private let clock: any DeliveryClock
    private let logger: Logger
    /// Touches handed over and not yet decided, by id, and their channels (processing loop only).
    private var inFlight: [String: Touch] = [:]
    private var busyChannels: [String: Int] = [:]
    /// What the delivery tasks share with the loop.
    private final class Shared: Sendable {
        let completed = Mutex<[DeliveryReport]>([])
        let tasks = Mutex<[UUID: Task<Void, Never>]>([:])
    }
    private let shared = Shared()
    /// The read end of a pipe that gets a byte when decisions arrive.
    let wakeDescriptor: Int32
    private let wakeWriter: Int32

    init(rules: RuleSet, context: ChannelContext, clock: any DeliveryClock, logger: Logger) throws(ChannelBuildError) {
        self.context = context
        self.clock = clock
        self.logger = logger
        channels = try Self.build(rules, context: context)
        pipeline = DeliveryPipeline(channels: channels, clock: clock, maxConcurrency: 64, logger: logger)
        var ends: [Int32] = [0, 0]
        _ = pipe(&ends)
        for fd in ends {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeDescriptor = ends[0]
        wakeWriter = ends[1]
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriter)
    }

    /// The channels of `rules`, built and checked (every problem with its `channels[i]` path).
    static func build(_ rules: RuleSet, context: ChannelContext) throws(ChannelBuildError) -> ChannelSet {
        let specs = rules.channels.enumerated().map {
            ChannelSpec(name: $1.name, type: $1.type, options: $1.options, path: "channels[\($0)]")
        }
        let result = blocking { () async -> Result<ChannelSet, ChannelBuildError> in
            do throws(ChannelBuildError) { return .success(try await ChannelRegistry.builtin.build(specs, context: context)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Channels whose providers deduplicate by touch id: touches left `attempting` by a crash are resent there.
    var resendableChannels: Set<String> {
        Set(channels.channels.filter { $0.adapter.acceptsIdempotencyKeys }.map(\.name))
    }

    /// Swaps in the channels of reloaded rules. Deliveries in flight finish on the old ones, which are
    /// shut down afterwards.
    func replace(with rules: RuleSet) throws(ChannelBuildError) {
        let fresh = try Self.build(rules, context: context)
        let old = channels
        let running = shared.tasks.withLock { Array($0.values) }
        channels = fresh
        pipeline = DeliveryPipeline(channels: fresh, clock: clock, maxConcurrency: 64, logger: logger)
        Task {
            for task in running { await task.value }
            await old.shutdown()
        }
    }

    func isInFlight(_ touchID: String) -> Bool { inFlight[touchID] != nil }
    /// Whether a batch of `channel` is being delivered: the next one waits, so batches of a channel go
    /// in order and per-channel limits are decided in one place.
    func isBusy(_ channel: String) -> Bool { busyChannels[channel] != nil }
    /// A touch handed over and not yet taken back with its decision.
    func touch(_ touchID: String) -> Touch? { inFlight[touchID] }
    var idle: Bool { inFlight.isEmpty }

    /// Starts delivering `batch` (already `attempting` in the store), one task per channel.
    func submit(_ batch: [PendingDelivery]) {
        var byChannel: [String: [PendingDelivery]] = [:]
        for item in batch {
            inFlight[item.message.touch.id] = item.message.touch
            busyChannels[item.message.touch.channel, default: 0] += 1
            byChannel[item.message.touch.channel, default: []].append(item)
        }
        let pipeline = self.pipeline
        for (_, items) in byChannel {
            let id = UUID()
            let shared = self.shared
            let wake = wakeWriter
            // Registered under the lock the task takes to deregister: it cannot finish before it is known.
            shared.tasks.withLock { tasks in
                tasks[id] = Task {
                    let reports = await pipeline.deliver(items)
                    shared.completed.withLock { $0 += reports }
                    shared.tasks.withLock { _ = $0.removeValue(forKey: id) }
                    var one: UInt8 = 1
                    _ = write(wake, &one, 1)  // a full pipe already wakes the loop
                }
            }
        }
    }

    /// Forgets a decided touch (after its decision has been recorded).
    func settle(_ touchID: String) {
        guard let touch = inFlight.removeValue(forKey: touchID) else { return }
        busyChannels[touch.channel, default: 1] -= 1
        if busyChannels[touch.channel] == 0 { busyChannels[touch.channel] = nil }
    }

    /// The decisions made since the last call; each touch stays known (``touch(_:)``) until ``settle(_:)``.
    func takeCompleted() -> [DeliveryReport] {
        var drained = [UInt8](repeating: 0, count: 256)
        while read(wakeDescriptor, &drained, drained.count) > 0 {}
        let reports = shared.completed.withLock { reports in
            defer { reports.removeAll() }
            return reports
        }
        return reports
    }

    /// Waits until nothing is in flight, at most `seconds`; then cancels what is still running (those
    /// touches are reported ``DeliveryDecision/interrupted``: in doubt). Returns every decision not yet taken.
    func drain(seconds: Double) -> [DeliveryReport] {
        let deadline = Date().addingTimeInterval(seconds)
        var reports: [DeliveryReport] = []
        while shared.tasks.withLock({ !$0.isEmpty }) && Date() < deadline { usleep(10_000) }
        reports += takeCompleted()
        if shared.tasks.withLock({ !$0.isEmpty }) {
            let running = shared.tasks.withLock { Array($0.values) }
            for task in running { task.cancel() }
            blocking { for task in running { await task.value } }
            reports += takeCompleted()
        }
        return reports
    }

    /// Waits for the current deliveries (for `--until` runs that end when everything is delivered).
    func waitForAll() -> [DeliveryReport] {
        let running = shared.tasks.withLock { Array($0.values) }
        blocking { for task in running { await task.value } }
        return takeCompleted()
    }

    func shutdown() {
        let channels = self.channels
        blocking { await channels.shutdown() }
    }
}

/// Runs async work to completion from the daemon's synchronous processing loop (never from a task).
@discardableResult
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await body()
        box.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return box.withLock { $0! }
}
