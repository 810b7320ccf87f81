import CoreMetrics
public import JourneyCore
import Synchronization

/// The HTTP input (DESIGN §3) as an ``EventSource``: requests of the Tracking API hand their events in
/// with ``submit(_:stream:)`` and wait; the daemon takes them in batches like any source's lines, and a
/// request is answered once every one of its events is durable in the event log or quarantined — the
/// same acknowledgement contract as the stream socket's, per request instead of per line.
///
/// Each write key names a stream (`web`, `backend`): a batch holds the events of one stream, named
/// `http/<stream>` as origin and as deduplication namespace, so `messageId`s are unique per stream.
///
/// Back-pressure: at most ``maxQueued`` events wait to be taken. A request that does not fit is refused
/// at once (``Answer/busy``: the server answers 429 with `Retry-After`) — never accepted and then
/// dropped. A request bigger than the whole bound is taken when nothing waits, so none is refused forever.
public final class HTTPSource: EventSource, Sendable {
    public let name = "http"
    /// Events waiting to be taken, at most.
    public let maxQueued: Int

    /// What became of a request's events.
    public enum Answer: Sendable, Equatable {
        /// Every event is durable or quarantined; one outcome per event, in order.
        case durable([LineOutcome])
        /// The daemon could not store some of them (stopping, the disk failed): the client sends the
        /// request again (events already stored are then recognized as duplicates).
        case refused(String)
        /// The queue is full; nothing was taken.
        case busy
    }

    /// One request's events in flight; guarded by the source's lock.
    private final class Request: @unchecked Sendable {
        var outcomes: [LineOutcome?]
        var remaining: Int
        var refusal: String?
        var continuation: CheckedContinuation<Answer, Never>?
        init(count: Int) {
            outcomes = Array(repeating: nil, count: count)
            remaining = count
        }

        /// Records what became of events `first ..< first + count` (`outcome(k)` for the k-th of them);
        /// returns the answer once the last one is known.
        func settle(
            _ first: Int, count: Int, refusal reason: String? = nil, _ outcome: (Int) -> LineOutcome?
        ) -> (CheckedContinuation<Answer, Never>, Answer)? {
            for k in 0..<count { outcomes[first + k] = outcome(k) }
            if let reason, refusal == nil { refusal = reason }
            remaining -= count
            guard remaining == 0, let continuation else { return nil }
            self.continuation = nil
            return (continuation, refusal.map { .refused($0) } ?? .durable(outcomes.map { $0! }))
        }
    }

    /// A request's events not yet taken (all of them, or the rest after a batch took its first ones).
    private struct Queued {
        var request: Request
        var lines: ArraySlice<SourceLine>
        var stream: String
    }

    /// The part of a request a batch holds: its events `first ..< first + count`.
    private struct Part {
        var request: Request
        var first: Int
        var count: Int
    }

    private struct State {
        var ready: [Queued] = []
        var head = 0
        /// Events in `ready[head...]`.
        var queued = 0
        var waiter: CheckedContinuation<Void, Never>?
        var inFlight: [UInt64: [Part]] = [:]
        var nextToken: UInt64 = 0
        var stopped = false
        var busyAnswers = 0

        /// Takes at most `limit` events of the stream of the first request waiting, whole requests
        /// where they fit: the lines and the parts of requests they are.
        mutating func take(limit: Int) -> (stream: String, lines: [SourceLine], parts: [Part])? {
            guard head < ready.count else { return nil }
            let stream = ready[head].stream
            var lines: [SourceLine] = []
            var parts: [Part] = []
            while head < ready.count, lines.count < limit, ready[head].stream == stream {
                let waiting = ready[head].lines
                let n = min(waiting.count, limit - lines.count)
                lines += waiting.prefix(n)
                parts.append(Part(request: ready[head].request, first: waiting.startIndex, count: n))
                if n == waiting.count {
                    head += 1
                } else {
                    ready[head].lines = waiting.dropFirst(n)
                }
            }
            queued -= lines.count
            if head == ready.count {
                ready.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 4_096 {
                ready.removeFirst(head)
                head = 0
            }
            return (stream, lines, parts)
        }
    }
    private let state = Mutex(State())
    private let depth = Gauge(label: "journeyd_http_queued_events")

    public init(maxQueued: Int = 50_000) {
        self.maxQueued = maxQueued
    }

    /// Events waiting to be taken (the queue-depth figure).
    public var queued: Int { state.withLock { $0.queued } }

    /// Requests refused because the queue was full, so far.
    public var busyAnswers: Int { state.withLock { $0.busyAnswers } }

    /// Hands a request's events in and waits until they are durable (or refused). Returns ``Answer/busy``
    /// at once when they do not fit; ``Answer/refused(_:)`` once stopped, or when the waiting task is
    /// cancelled (the client went away: its events are still applied, and a resend is deduplicated).
    public func submit(_ lines: [SourceLine], stream: String) async -> Answer {
        if lines.isEmpty { return .durable([]) }
        let request = Request(count: lines.count)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
                let (immediate, waiter) = state.withLock { state -> (Answer?, CheckedContinuation<Void, Never>?) in
                    if state.stopped { return (.refused("journeyd is stopping"), nil) }
                    if state.queued > 0 && state.queued + lines.count > maxQueued {
                        state.busyAnswers += 1
                        return (.busy, nil)
                    }
                    request.continuation = continuation
                    state.ready.append(Queued(request: request, lines: lines[...], stream: stream))
                    state.queued += lines.count
                    depth.record(state.queued)
                    defer { state.waiter = nil }
                    return (nil, state.waiter)
                }
                if let immediate { continuation.resume(returning: immediate) }
                waiter?.resume()
            }
        } onCancel: {
            let continuation = state.withLock { _ in
                defer { request.continuation = nil }
                return request.continuation
            }
            continuation?.resume(returning: .refused("the request was cancelled"))
        }
    }

    public func next(limit: Int) async throws -> SourceBatch? {
        while true {
            let taken = state.withLock { state -> SourceBatch? in
                guard let (stream, lines, parts) = state.take(limit: limit) else { return nil }
                depth.record(state.queued)
                state.nextToken += 1
                state.inFlight[state.nextToken] = parts
                return SourceBatch(origin: "http/\(stream)", lines: lines, namespace: "http/\(stream)", token: state.nextToken)
            }
            if let taken { return taken }
            if state.withLock({ $0.stopped }) { return nil }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.head < state.ready.count || state.stopped { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    public func acknowledge(_ batch: SourceBatch, outcomes: [LineOutcome]) async throws {
        settle(batch.token, refusal: nil) { outcomes[$0] }
    }

    public func refuse(_ batch: SourceBatch, reason: String) async {
        settle(batch.token, refusal: reason) { _ in nil }
    }

    /// Stops taking batches. Events still waiting were never taken: their requests are answered as
    /// refused (clients send them again, to the next run).
    public func stop() {
        let (answers, waiter) = state.withLock { state -> ([(CheckedContinuation<Answer, Never>, Answer)], CheckedContinuation<Void, Never>?) in
            state.stopped = true
            var answers: [(CheckedContinuation<Answer, Never>, Answer)] = []
            for queued in state.ready[state.head...] {
                if let answer = queued.request.settle(queued.lines.startIndex, count: queued.lines.count, refusal: "journeyd is stopping", { _ in nil }) {
                    answers.append(answer)
                }
            }
            state.ready.removeAll()
            state.head = 0
            state.queued = 0
            defer { state.waiter = nil }
            return (answers, state.waiter)
        }
        for (continuation, answer) in answers { continuation.resume(returning: answer) }
        waiter?.resume()
    }

    /// Settles the batch's requests: `outcome(i)` for its i-th line, or `refusal` for all of them.
    private func settle(_ token: UInt64, refusal: String?, _ outcome: (Int) -> LineOutcome?) {
        let answers = state.withLock { state -> [(CheckedContinuation<Answer, Never>, Answer)] in
            guard let parts = state.inFlight.removeValue(forKey: token) else { return [] }
            var answers: [(CheckedContinuation<Answer, Never>, Answer)] = []
            var position = 0
            for part in parts {
                let base = position
                if let answer = part.request.settle(part.first, count: part.count, refusal: refusal, { outcome(base + $0) }) {
                    answers.append(answer)
                }
                position += part.count
            }
            return answers
        }
        for (continuation, answer) in answers { continuation.resume(returning: answer) }
    }
}
