import Foundation
import JourneyChannels
import JourneyCore

/// Events parsed from one source batch, on their way to a partition's processor.
struct IntakeBatch: Sendable {
    /// The source's name (`spool`, `tail`, `socket`, `http:shop`), for the metrics.
    var source: String
    var origin: String
    var namespace: String
    /// The lines that parsed, with their raw bytes (what the log keeps).
    var events: [(event: Event, raw: [UInt8])]
    var positions: [String: Int64?]
}

/// When a batch handed to the processor is durable (or why it never will be).
final class IntakeReceipt: @unchecked Sendable {
    enum Result: Sendable {
        case durable
        case refused(String)
    }
    private let lock = NSLock()
    private var result: Result?
    private var waiter: CheckedContinuation<Result, Never>?

    func resolve(_ value: Result) {
        let waiter: CheckedContinuation<Result, Never>? = lock.withLock {
            guard result == nil else { return nil }
            result = value
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?.resume(returning: value)
    }

    /// Waits for the outcome.
    func value() async -> Result {
        await withCheckedContinuation { continuation in
            let ready: Result? = lock.withLock {
                if result == nil { waiter = continuation }
                return result
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// What other services ask of a partition's processor. Everything that changes the partition's state
/// goes through here, so the processor's thread is the only one that touches it.
enum ProcessorWork: @unchecked Sendable {
    case intake(IntakeBatch, IntakeReceipt)
    /// Decisions of the delivery pipeline.
    case deliveries([DeliveryReport])
    /// New rules, built and checked aside: swap them in (one assignment) and answer.
    case reload(Runtime, reply: @Sendable () -> Void)
    /// A question about the live state, answered on the processor's thread.
    case query(@Sendable (PartitionProcessor) -> Void)
    /// Take a checkpoint snapshot and hand it over.
    case checkpoint(reply: @Sendable (Checkpoint) -> Void)
    /// The checkpoint last taken is written.
    case checkpointWritten(UInt64)
    /// The log is durable up to this sequence number (that sync took `nanoseconds`).
    case synced(UInt64, nanoseconds: UInt64)
    /// The log could not be made durable: stop admitting, refuse, stop.
    case failed(String, diskFull: Bool)
    /// Event clock: run the clock to `until`, deliver everything due by then, then answer.
    case finish(until: Timestamp, reply: @Sendable () -> Void)
    /// Stop once what was accepted is durable.
    case stop(reply: @Sendable () -> Void)
}

/// The processor's queue: many producers (sources, the dispatcher, the checkpointer, the control
/// socket), one consumer (the processor's thread). Intake is bounded by events, so a source waits when
/// the processor is behind (back-pressure: nothing is accepted and then dropped); everything else is
/// small and always taken.
final class ProcessorInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [ProcessorWork] = []
    private var queuedEvents = 0
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var closed = false
    /// Events waiting in the queue, at most (a batch larger than this still goes when the queue is empty).
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Queues work that is not intake (never waits).
    func post(_ work: ProcessorWork) {
        condition.lock()
        items.append(work)
        condition.signal()
        condition.unlock()
    }

    /// Queues a batch, waiting while the queue is full; returns how to learn when it is durable.
    func submit(_ batch: IntakeBatch) async -> IntakeReceipt {
        let receipt = IntakeReceipt()
        while true {
            let queued: Bool = condition.withLock {
                if closed {
                    return true
                }
                guard queuedEvents == 0 || queuedEvents + batch.events.count <= capacity else { return false }
                queuedEvents += batch.events.count
                items.append(.intake(batch, receipt))
                condition.signal()
                return true
            }
            if queued { break }
            await withCheckedContinuation { continuation in
                let wait: Bool = condition.withLock {
                    guard queuedEvents > 0 && queuedEvents + batch.events.count > capacity && !closed else { return false }
                    spaceWaiters.append(continuation)
                    return true
                }
                if !wait { continuation.resume() }
            }
        }
        if condition.withLock({ closed }) { receipt.resolve(.refused("journeyd is stopping")) }
        return receipt
    }

    /// Queues a batch only if there is room now (HTTP answers 429 otherwise); nil when full.
    func trySubmit(_ batch: IntakeBatch) -> IntakeReceipt? {
        let receipt = IntakeReceipt()
        let queued: Bool = condition.withLock {
            guard !closed, queuedEvents == 0 || queuedEvents + batch.events.count <= capacity else { return false }
            queuedEvents += batch.events.count
            items.append(.intake(batch, receipt))
            condition.signal()
            return true
        }
        return queued ? receipt : nil
    }

    /// Events queued and not yet taken.
    var depth: Int { condition.withLock { queuedEvents } }

    /// Takes everything queued, waiting until `deadline` (monotonic nanoseconds) when nothing is.
    func take(waitingUntil deadline: UInt64?) -> [ProcessorWork] {
        condition.lock()
        while items.isEmpty {
            guard let deadline else {
                condition.wait()
                continue
            }
            let now = MonotonicClock.nanoseconds
            if now >= deadline { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
        }
        let taken = items
        items.removeAll(keepingCapacity: true)
        var freed = 0
        for case .intake(let batch, _) in taken { freed += batch.events.count }
        queuedEvents -= freed
        let waiters = freed > 0 ? spaceWaiters : []
        if freed > 0 { spaceWaiters.removeAll() }
        condition.unlock()
        for waiter in waiters { waiter.resume() }
        return taken
    }

    /// No more intake: sources waiting for room are let go, and what they submit is refused.
    func close() {
        let waiters: [CheckedContinuation<Void, Never>] = condition.withLock {
            closed = true
            defer { spaceWaiters.removeAll() }
            return spaceWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
