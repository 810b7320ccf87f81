import JourneyCore
import Logging

/// A touch that is due for delivery, with what the outbox knows about its earlier attempts.
public struct PendingDelivery: Sendable, Hashable {
    public var message: OutboundMessage
    /// Attempts made so far (0 for a touch never tried).
    public var attempts: Int
    /// When the first attempt began; nil for a touch never tried. The retry `max_age` counts from here.
    public var firstAttemptAt: Timestamp?
    /// After this time the touch is dead-lettered as expired instead of being sent late.
    public var expiresAt: Timestamp?

    public init(message: OutboundMessage, attempts: Int = 0, firstAttemptAt: Timestamp? = nil, expiresAt: Timestamp? = nil) {
        self.message = message
        self.attempts = attempts
        self.firstAttemptAt = firstAttemptAt
        self.expiresAt = expiresAt
    }
}

/// What the outbox should record for one touch after a pipeline run.
public enum DeliveryDecision: Sendable, Hashable, CustomStringConvertible {
    /// Delivered: outbox state `sent`.
    case sent(providerMessageID: String?)
    /// Failed for now: outbox state `retry_at`.
    case retry(at: Timestamp, reason: String)
    /// Not attempted (a rate limit, an open circuit, a destination that throttles): due again at `until`.
    /// Attempts are unchanged.
    case held(until: Timestamp, reason: String)
    /// Will never be delivered: outbox state `dead_letter(reason)` (also for expired touches).
    case deadLetter(reason: String)
    /// The channel is disabled (endpoint gone, credential rejected, destination refused) until an
    /// operator acts; the touch was not delivered and stays queued.
    case channelDisabled(reason: String)
    /// The attempt began but did not finish because the pipeline was cancelled (shutdown): outbox state
    /// `in_doubt` — resend with the same key only where the channel accepts idempotency keys.
    case interrupted

    public var description: String {
        switch self {
        case .sent(let id): return id.map { "sent (\($0))" } ?? "sent"
        case .retry(let at, let reason): return "retry at \(at): \(reason)"
        case .held(let until, let reason): return "held until \(until): \(reason)"
        case .deadLetter(let reason): return "dead letter: \(reason)"
        case .channelDisabled(let reason): return "channel disabled: \(reason)"
        case .interrupted: return "interrupted (in doubt)"
        }
    }
}

/// One decision, with the attempt bookkeeping the outbox persists beside it.
public struct DeliveryReport: Sendable, Hashable {
    public var touchID: String
    public var decision: DeliveryDecision
    /// Attempts made so far, this run's included (unchanged when the touch was held or refused unsent).
    public var attempts: Int
    /// When the first attempt began (persist it: the next run's ``PendingDelivery/firstAttemptAt``).
    public var firstAttemptAt: Timestamp?
}

/// A channel's live state as operators see it.
public struct ChannelStatus: Sendable, Hashable {
    public var breaker: CircuitBreaker.State
    public var disabledReason: String?
    public var throttledUntil: Timestamp?
    public var inFlight: Int
}

/// Delivers batches of due touches through their channels and decides, for each, what the outbox records.
///
/// The pipeline owns the delivery policy — expiry, per-channel rate limits, the circuit breaker, bounded
/// concurrency, retries with backoff — and nothing else: it reads no store and writes none. The daemon
/// marks the batch `attempting`, calls ``deliver(_:)``, and persists the returned decisions.
///
/// Channel state (breakers, rate-limit windows, throttles, disabled channels) lives in the pipeline;
/// ``channelStates()`` exports it and a new pipeline (after a reload or a restart) restores it for
/// every channel whose definition did not change.
///
/// A call returns when every delivery it started has ended, so one slow channel holds back the others
/// of its batch. Concurrent calls are safe (per-channel limits hold across them; `maxConcurrency` is per
/// call): a dispatcher may run one call per channel to avoid that head-of-line blocking. A touch must
/// not be in two calls at once.
public actor DeliveryPipeline {
    private struct State {
        let channel: ConfiguredChannel
        var limiter: RateLimiter
        var breaker: CircuitBreaker
        var disabledReason: String?
        var throttledUntil: Timestamp?
        var throttleReason = ""
        var inFlight = 0
    }

    private var states: [String: State]
    private let clock: any DeliveryClock
    private let maxConcurrency: Int
    private let logger: Logger

    /// - Parameters:
    ///   - maxConcurrency: deliveries in flight at most, over all channels (each channel also has its own
    ///     ``ChannelPolicy/concurrency``).
    ///   - restoring: the channels' states as a previous pipeline left them (``channelStates()``); each is
    ///     restored when its channel's fingerprint is unchanged.
    public init(
        channels: ChannelSet, clock: any DeliveryClock = WallClock(), maxConcurrency: Int = 64,
        logger: Logger = Logger(label: "journeyd.delivery"), restoring: [String: ChannelState] = [:]
    ) {
        precondition(maxConcurrency >= 1)
        var states: [String: State] = [:]
        for channel in channels.channels {
            var state = State(
                channel: channel, limiter: RateLimiter(channel.policy.rateLimits), breaker: CircuitBreaker(channel.policy.breaker))
            if let saved = restoring[channel.name], saved.fingerprint == channel.fingerprint {
                state.limiter.restore(saved.limiter)
                state.breaker.restore(state: saved.breaker, currentOpenFor: saved.breakerOpenFor)
                state.disabledReason = saved.disabledReason
                state.throttledUntil = saved.throttledUntil
                state.throttleReason = saved.throttleReason
            }
            states[channel.name] = state
        }
        self.states = states
        self.clock = clock
        self.maxConcurrency = maxConcurrency
        self.logger = logger
    }

    public func status(of channel: String) -> ChannelStatus? {
        states[channel].map {
            ChannelStatus(breaker: $0.breaker.state, disabledReason: $0.disabledReason, throttledUntil: $0.throttledUntil, inFlight: $0.inFlight)
        }
    }

    /// What the pipeline knows about each channel, to carry across a restart or a reload.
    public func channelStates() -> [String: ChannelState] {
        states.mapValues {
            ChannelState(
                fingerprint: $0.channel.fingerprint, limiter: $0.limiter.memory, breaker: $0.breaker.state,
                breakerOpenFor: $0.breaker.currentOpenFor, disabledReason: $0.disabledReason, throttledUntil: $0.throttledUntil,
                throttleReason: $0.throttleReason)
        }
    }

    /// One channel's state (nil for a channel it does not have).
    public func channelState(of name: String) -> ChannelState? {
        states[name].map {
            ChannelState(
                fingerprint: $0.channel.fingerprint, limiter: $0.limiter.memory, breaker: $0.breaker.state,
                breakerOpenFor: $0.breaker.currentOpenFor, disabledReason: $0.disabledReason, throttledUntil: $0.throttledUntil,
                throttleReason: $0.throttleReason)
        }
    }

    /// Enables a channel disabled by an outcome (an operator fixed the endpoint).
    public func enable(_ channel: String) {
        states[channel]?.disabledReason = nil
    }

    /// Delivers what can go now and decides every touch of `batch`; the reports are in `batch` order.
    ///
    /// Touches of one channel are admitted in batch order. Cancelling the calling task abandons the
    /// deliveries in flight (their touches are reported ``DeliveryDecision/interrupted``) and holds the rest.
    /// `fence` is asked right before each attempt; a touch it refuses is not attempted and is reported
    /// held (attempts unchanged) with the fence's reason.
    public func deliver(_ batch: [PendingDelivery], fence: DeliveryFence = .open) async -> [DeliveryReport] {
        if let channel = batch.first?.message.touch.channel, let state = states[channel], state.channel.adapter.deliversBatches,
            case .closed = state.breaker.state, batch.allSatisfy({ $0.message.touch.channel == channel })
        {
            return await deliverTogether(batch, channel: channel, fence: fence)
        }
        var reports = [DeliveryReport?](repeating: nil, count: batch.count)
        await withTaskGroup(of: Completion.self) { group in
            var inFlight = 0
            for (index, item) in batch.enumerated() {
                while true {
                    let now = clock.now
                    if Task.isCancelled {
                        reports[index] = report(item, .held(until: now, reason: "not attempted: delivery was shutting down"))
                        break
                    }
                    if !fence.isOpen {
                        reports[index] = report(item, .held(until: now, reason: "not attempted: \(fence.reason)"))
                        break
                    }
                    if let (decision, waitingForProbe) = refusal(for: item, at: now) {
                        // The probe is in this batch: its outcome decides this touch too.
                        if waitingForProbe, inFlight > 0, let done = await group.next() {
                            inFlight -= 1
                            reports[done.index] = finish(done, batch[done.index])
                            continue
                        }
                        reports[index] = report(item, decision)
                        break
                    }
                    let channel = item.message.touch.channel
                    if inFlight >= maxConcurrency || states[channel]!.inFlight >= states[channel]!.channel.policy.concurrency {
                        if let done = await group.next() {
                            inFlight -= 1
                            reports[done.index] = finish(done, batch[done.index])
                        } else {
                            // The channel is full with another call's deliveries: let them finish (they
                            // need this actor) instead of spinning on it.
                            try? await Task.sleep(for: .milliseconds(1))
                        }
                        continue  // state may have changed while waiting: decide again
                    }
                    launch(item, index: index, at: now, fence: fence, into: &group)
                    inFlight += 1
                    break
                }
            }
            while let done = await group.next() {
                reports[done.index] = finish(done, batch[done.index])
            }
        }
        return reports.map { $0! }
    }

    /// A batch of one channel whose adapter takes batches (``ChannelAdapter/deliversBatches``), its breaker
    /// closed: each touch is decided as one at a time would be (expiry, disabled, throttle, rate limit, the
    /// fence), and every one that may go now goes in a single call — one delivery in flight, as far as the
    /// concurrency limits go. (With the breaker open or half-open, touches go one at a time, so that a
    /// probe decides the rest.)
    private func deliverTogether(_ batch: [PendingDelivery], channel: String, fence: DeliveryFence) async -> [DeliveryReport] {
        var reports = [DeliveryReport?](repeating: nil, count: batch.count)
        var admitted: [Int] = []
        admitted.reserveCapacity(batch.count)
        let now = clock.now
        for (index, item) in batch.enumerated() {
            if Task.isCancelled {
                reports[index] = report(item, .held(until: now, reason: "not attempted: delivery was shutting down"))
            } else if !fence.isOpen {
                reports[index] = report(item, .held(until: now, reason: "not attempted: \(fence.reason)"))
            } else if let (decision, _) = refusal(for: item, at: now) {
                reports[index] = report(item, decision)
            } else {
                let admission = states[channel]!.breaker.admit(at: now)
                assert(admission == .allowed, "a closed breaker admits every attempt")
                let refused = states[channel]!.limiter.acquire(at: now)
                assert(refused == nil, "refusal(for:at:) checked the limiter in this same actor turn")
                admitted.append(index)
            }
        }
        guard !admitted.isEmpty else { return reports.map { $0! } }
        states[channel]!.inFlight += admitted.count
        let adapter = states[channel]!.channel.adapter
        // Asked again right before the attempt, as for one touch.
        let fenced = fence.isOpen ? nil : fence.reason
        let results: [DeliveryResult]
        if fenced == nil {
            results = await adapter.deliver(batch: admitted.map { batch[$0].message })
            precondition(results.count == admitted.count, "channel \(channel) answered \(results.count) results for \(admitted.count) touches")
        } else {
            results = admitted.map { _ in .retry(after: nil, reason: "") }
        }
        for (result, index) in zip(results, admitted) {
            reports[index] = finish(Completion(index: index, result: result, started: now, probe: false, fenced: fenced), batch[index])
        }
        return reports.map { $0! }
    }

    private struct Completion: Sendable {
        var index: Int
        var result: DeliveryResult
        var started: Timestamp
        var probe: Bool
        /// Why the fence closed between admission and the attempt (nothing was sent), or nil.
        var fenced: String? = nil
    }

    /// Why `item` cannot go at `now` (and whether only because a half-open breaker's probe is out), or
    /// nil when it may go (capacity permitting).
    private func refusal(for item: PendingDelivery, at now: Timestamp) -> (DeliveryDecision, waitingForProbe: Bool)? {
        refusalDecision(for: item, at: now).map { decision in
            if case .held(let until, let reason) = decision {
                // Held past its expiry (an open breaker, a throttle): it will never go in time.
                if let expiresAt = item.expiresAt, until > expiresAt {
                    return (.deadLetter(reason: "expired: held (\(reason)) past \(expiresAt)"), false)
                }
                if reason == Self.waitingForProbe { return (decision, true) }
            }
            return (decision, false)
        }
    }

    private static let waitingForProbe = "circuit half-open: waiting for the probe"

    private func refusalDecision(for item: PendingDelivery, at now: Timestamp) -> DeliveryDecision? {
        let channel = item.message.touch.channel
        if let expiresAt = item.expiresAt, now > expiresAt {
            return .deadLetter(reason: "expired: it had to go by \(expiresAt)")
        }
        guard let state = states[channel] else { return .channelDisabled(reason: "no channel named \"\(channel)\"") }
        if let reason = state.disabledReason { return .channelDisabled(reason: reason) }
        if let until = state.throttledUntil, until > now {
            return .held(until: until, reason: "throttled by the destination: \(state.throttleReason)")
        }
        switch state.breaker.state {
        case .open(let until) where until > now:
            return .held(until: until, reason: "circuit open after \(state.channel.policy.breaker.failureThreshold) consecutive failures")
        case .halfOpen(probeInFlight: true):
            return .held(until: now + CircuitBreaker.probeWait, reason: Self.waitingForProbe)
        default:
            break
        }
        if let free = state.limiter.nextFree(at: now) {
            let limits = state.limiter.limits.map(\.description).joined(separator: ", ")
            if let expiresAt = item.expiresAt, free > expiresAt {
                return .deadLetter(reason: "expired: the rate limit (\(limits)) frees a slot only after it had to go by \(expiresAt)")
            }
            return .held(until: free, reason: "rate limit \(limits)")
        }
        return nil
    }

    private func launch(_ item: PendingDelivery, index: Int, at now: Timestamp, fence: DeliveryFence, into group: inout TaskGroup<Completion>) {
        let channel = item.message.touch.channel
        let admission = states[channel]!.breaker.admit(at: now)
        let refused = states[channel]!.limiter.acquire(at: now)
        assert(refused == nil, "refusal(for:at:) checked the limiter in this same actor turn")
        states[channel]!.inFlight += 1
        let adapter = states[channel]!.channel.adapter
        let message = item.message
        let probe = admission == .probe
        group.addTask {
            // Asked again on the attempt's own task: it may start well after its admission on a busy machine.
            guard fence.isOpen else { return Completion(index: index, result: .retry(after: nil, reason: ""), started: now, probe: probe, fenced: fence.reason) }
            let result = await adapter.deliver(message)
            return Completion(index: index, result: result, started: now, probe: probe)
        }
    }

    private func finish(_ done: Completion, _ item: PendingDelivery) -> DeliveryReport {
        let channel = item.message.touch.channel
        let now = clock.now
        states[channel]!.inFlight -= 1
        if let reason = done.fenced {
            if done.probe { states[channel]!.breaker.recordAbandoned() }
            return report(item, .held(until: now, reason: "not attempted: \(reason)"))
        }
        let attempts = item.attempts + 1
        let first = item.firstAttemptAt ?? done.started
        func made(_ decision: DeliveryDecision) -> DeliveryReport {
            DeliveryReport(touchID: item.message.touch.id, decision: decision, attempts: attempts, firstAttemptAt: first)
        }
        switch done.result {
        case .sent(let id):
            states[channel]!.breaker.recordSuccess()
            return made(.sent(providerMessageID: id))
        case .retry(let after, let reason):
            if Task.isCancelled {
                states[channel]!.breaker.recordAbandoned()
                return made(.interrupted)
            }
            states[channel]!.breaker.recordFailure(at: now)
            let schedule = states[channel]!.channel.policy.retry
            switch schedule.next(touchID: item.message.touch.id, attempt: attempts, now: now, firstAttempt: first, retryAfter: after, reason: reason) {
            case .giveUp(let why):
                return made(.deadLetter(reason: why))
            case .retry(let at):
                if let expiresAt = item.expiresAt, at > expiresAt {
                    return made(.deadLetter(reason: "expired: the next attempt would be after \(expiresAt); last failure: \(reason)"))
                }
                return made(.retry(at: at, reason: reason))
            }
        case .throttle(let span, let reason):
            states[channel]!.breaker.recordSuccess()
            let until = now + (span ?? states[channel]!.channel.policy.throttleDefault)
            if until > states[channel]!.throttledUntil ?? .distantPast {
                states[channel]!.throttledUntil = until
                states[channel]!.throttleReason = reason
            }
            logger.notice("channel throttled", metadata: ["channel": .string(channel), "until": .string(until.description)])
            var report = made(.held(until: until, reason: "throttled by the destination: \(reason)"))
            report.attempts = item.attempts  // a throttled attempt was refused unseen: it does not count
            return report
        case .disable(let reason):
            if done.probe { states[channel]!.breaker.recordAbandoned() }
            if states[channel]!.disabledReason == nil {
                states[channel]!.disabledReason = reason
                logger.error("channel disabled", metadata: ["channel": .string(channel), "reason": .string(reason)])
            }
            var report = made(.channelDisabled(reason: reason))
            report.attempts = item.attempts
            return report
        case .deadLetter(let reason):
            states[channel]!.breaker.recordSuccess()
            return made(.deadLetter(reason: reason))
        }
    }

    private func report(_ item: PendingDelivery, _ decision: DeliveryDecision) -> DeliveryReport {
        DeliveryReport(touchID: item.message.touch.id, decision: decision, attempts: item.attempts, firstAttemptAt: item.firstAttemptAt)
    }
}
