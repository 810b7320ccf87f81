import Foundation
import JourneyChannels
import JourneyCore

/// Events parsed from one source batch, on their way to a partition's processor.
struct IntakeBatch: Sendable {
    /// The source's name (`spool`, `tail`, `socket`, `http:shop`), for the metrics.
    var source: String
    var origin: String
    var namespace: String
    /// The lines that parsed, with their raw bytes (what the log keeps) and their index in the batch.
    var events: [(event: Event, raw: [UInt8], line: Int)]
    var positions: [String: Int64?]
    /// When the batch was received (the wall clock): what event times are checked against.
    var receivedAt: Timestamp
}

/// When a batch handed to the processor is durable (or why it never will be).
final class IntakeReceipt: @unchecked Sendable {
    enum Result: Sendable {
        /// Durable; the lines listed were refused by the event-time policy (index in the batch, path, reason).
        case durable(refused: [(line: Int, path: String, reason: String)])
        case refused(String)
    }
    private let lock = NSLock()
    private var result: Result?
    private var resolved = false
    private var waiter: CheckedContinuation<Result, Never>?

    func resolve(_ value: Result) {
        let waiter: CheckedContinuation<Result, Never>? = lock.withLock {
            guard !resolved else { return nil }
            resolved = true
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
                if !resolved { waiter = continuation }
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
    /// Decisions of the delivery pipeline for a batch of one channel, and that channel's state after it.
    case deliveries([DeliveryReport], channel: (name: String, state: [UInt8])?)
    /// New rules, built and checked aside: swap them in (one assignment) and answer.
    case reload(Runtime, reply: @Sendable () -> Void)
    /// A reload was refused (the reloader logged why): count it, publish, then answer.
    case reloadRefused(reply: @Sendable () -> Void)
    /// A question about the live state, answered on the processor's thread.
    case query(@Sendable (PartitionProcessor) -> Void)
    /// Take a checkpoint snapshot and hand it over (nil: the processor has stopped).
    case checkpoint(reply: @Sendable (Checkpoint?) -> Void)
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

extension ProcessorWork {
    /// Answers work the processor will never do (it has stopped): nobody waits forever.
    func abandon(_ reason: String) {
        switch self {
        case .intake(_, let receipt): receipt.resolve(.refused(reason))
        case .reload(_, let reply), .reloadRefused(let reply), .finish(_, let reply), .stop(let reply): reply()
        case .checkpoint(let reply): reply(nil)
        case .deliveries, .query, .checkpointWritten, .synced, .failed: break
        }
    }
}

/// The processor's queue: many producers (sources, the dispatcher, the checkpointer, the control
/// socket), one consumer (the processor's thread). Intake is bounded by events, so a source waits when
/// the processor is behind (back-pressure: nothing is accepted and then dropped); everything else is
/// small and always taken.
final class ProcessorInbox: @unchecked Sendable {
    private let lock = NSLock()
    /// Posted once per wake-up the consumer owes (waits are measured on the monotonic clock, so a
    /// stepped wall clock neither stretches nor cuts the processor's sleep).
    private let wakeups = DispatchSemaphore(value: 0)
    private var waiting = false
    private var items: [ProcessorWork] = []
    private var queuedEvents = 0
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var closed = false
    /// The processor has stopped: work posted now is abandoned at once.
    private var finished: String?
    /// Events waiting in the queue, at most (a batch larger than this still goes when the queue is empty).
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Appends under the lock; wakes the consumer if it sleeps.
    private func enqueue(_ work: ProcessorWork) {
        items.append(work)
        if waiting {
            waiting = false
            wakeups.signal()
        }
    }

    /// Queues work that is not intake (never waits).
    func post(_ work: ProcessorWork) {
        let gone: String? = lock.withLock {
            if finished == nil { enqueue(work) }
            return finished
        }
        if let gone { work.abandon(gone) }
    }

    /// The processor stopped for `reason`: everything queued and everything posted later is abandoned.
    func finish(_ reason: String) {
        let left: [ProcessorWork] = lock.withLock {
            finished = reason
            closed = true
            defer { items.removeAll() }
            return items
        }
        for work in left { work.abandon(reason) }
        close()
    }

    /// Queues a batch, waiting while the queue is full; returns how to learn when it is durable.
    func submit(_ batch: IntakeBatch) async -> IntakeReceipt {
        let receipt = IntakeReceipt()
        while true {
            let queued: Bool = lock.withLock {
                if closed { return true }
                guard queuedEvents == 0 || queuedEvents + batch.events.count <= capacity else { return false }
                queuedEvents += batch.events.count
                enqueue(.intake(batch, receipt))
                return true
            }
            if queued { break }
            await withCheckedContinuation { continuation in
                let wait: Bool = lock.withLock {
                    guard queuedEvents > 0 && queuedEvents + batch.events.count > capacity && !closed else { return false }
                    spaceWaiters.append(continuation)
                    return true
                }
                if !wait { continuation.resume() }
            }
        }
        if lock.withLock({ closed }) { receipt.resolve(.refused("journeyd is stopping")) }
        return receipt
    }

    /// Queues a batch only if there is room now (HTTP answers 429 otherwise); nil when full.
    func trySubmit(_ batch: IntakeBatch) -> IntakeReceipt? {
        let receipt = IntakeReceipt()
        let queued: Bool = lock.withLock {
            guard !closed, queuedEvents == 0 || queuedEvents + batch.events.count <= capacity else { return false }
            queuedEvents += batch.events.count
            enqueue(.intake(batch, receipt))
            return true
        }
        return queued ? receipt : nil
    }

    /// Events queued and not yet taken.
    var depth: Int { lock.withLock { queuedEvents } }

    /// Takes everything queued, waiting until `deadline` (monotonic nanoseconds) when nothing is.
    func take(waitingUntil deadline: UInt64) -> [ProcessorWork] {
        while true {
            let taken: [ProcessorWork]? = lock.withLock {
                guard !items.isEmpty else {
                    waiting = true
                    return nil
                }
                defer { items.removeAll(keepingCapacity: true) }
                return items
            }
            if let taken {
                release(taken)
                return taken
            }
            let now = MonotonicClock.nanoseconds
            if now >= deadline || wakeups.wait(timeout: .now() + .nanoseconds(Int(deadline - now))) == .timedOut {
                // Timed out: withdraw the request for a wake-up; one that raced in is consumed.
                let owed: Bool = lock.withLock {
                    defer { waiting = false }
                    return !waiting
                }
                if owed { wakeups.wait() }
                let rest: [ProcessorWork] = lock.withLock {
                    defer { items.removeAll(keepingCapacity: true) }
                    return items
                }
                release(rest)
                return rest
            }
        }
    }

    /// Frees the queue space of the intake in `taken` and lets waiting sources go on.
    private func release(_ taken: [ProcessorWork]) {
        var freed = 0
        for case .intake(let batch, _) in taken { freed += batch.events.count }
        guard freed > 0 else { return }
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            queuedEvents -= freed
            defer { spaceWaiters.removeAll() }
            return spaceWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// No more intake: sources waiting for room are let go, and what they submit is refused.
    func close() {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            closed = true
            defer { spaceWaiters.removeAll() }
            return spaceWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
