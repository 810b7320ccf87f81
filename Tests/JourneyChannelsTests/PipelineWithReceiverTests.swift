import Foundation
import JourneyCore
import Synchronization
import Testing

@testable import JourneyChannels

/// The pipeline and the real webhook adapter against a real receiver, on a manual clock: an outage of an
/// hour passes in well under a second.
@Suite struct PipelineWithReceiverTests {
    let t0 = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    /// What the daemon would do with the decisions: keep each touch's bookkeeping and due time.
    struct Outbox {
        var pending: [String: (delivery: PendingDelivery, due: Timestamp)] = [:]
        var sent: [String: Timestamp] = [:]
        var dead: [String: String] = [:]
        var disabled: [String: String] = [:]
        var retries: [(touch: String, attempts: Int, now: Timestamp, at: Timestamp)] = []

        init(_ messages: [OutboundMessage], at t0: Timestamp) {
            for m in messages { pending[m.touch.id] = (PendingDelivery(message: m), t0) }
        }

        mutating func apply(_ reports: [DeliveryReport], now: Timestamp) {
            for report in reports {
                guard var entry = pending[report.touchID] else { continue }
                entry.delivery.attempts = report.attempts
                entry.delivery.firstAttemptAt = report.firstAttemptAt
                switch report.decision {
                case .sent:
                    sent[report.touchID] = now
                    pending[report.touchID] = nil
                    continue
                case .retry(let at, _):
                    retries.append((report.touchID, report.attempts, now, at))
                    entry.due = at
                case .held(let until, _):
                    entry.due = until
                case .deadLetter(let reason):
                    dead[report.touchID] = reason
                    pending[report.touchID] = nil
                    continue
                case .channelDisabled(let reason):
                    disabled[report.touchID] = reason
                    pending[report.touchID] = nil
                    continue
                case .interrupted:
                    Issue.record("nothing was cancelled")
                }
                pending[report.touchID] = entry
            }
        }

        var due: [PendingDelivery] { pending.values.map(\.delivery) }
        func due(at now: Timestamp) -> [PendingDelivery] {
            pending.values.filter { $0.due <= now }.map(\.delivery).sorted { $0.message.touch.id < $1.message.touch.id }
        }
        var nextDue: Timestamp? { pending.values.map(\.due).min() }
    }

    /// Runs rounds of the pipeline, moving the manual clock to the next due time, until nothing is pending.
    func drain(_ outbox: inout Outbox, _ pipeline: DeliveryPipeline, _ clock: ManualClock, maxRounds: Int = 5000) async {
        var rounds = 0
        while let next = outbox.nextDue, rounds < maxRounds {
            if next > clock.now { clock.set(next) }
            let now = clock.now
            outbox.apply(await pipeline.deliver(outbox.due(at: now)), now: now)
            rounds += 1
        }
        #expect(outbox.pending.isEmpty, "still pending after \(rounds) rounds")
    }

    func webhook(_ server: TestHTTPServer, in dir: String, options: Value = [:]) async throws -> ConfiguredChannel {
        var all: Value = ["url": .string(server.url + "/hook"), "allow_private": true]
        for member in options.members ?? [] { all.set(member.key, to: member.value) }
        return try await channel("webhook", in: dir, options: all)
    }

    @Test func aReceiverDownForAnHourLosesNothingAndAttemptsFollowTheSchedule() async throws {
        let clock = ManualClock(t0)
        let recoversAt = t0 + .hours(1)
        let seen = Mutex<[(touch: String, at: Timestamp, ok: Bool)]>([])
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                let now = clock.now
                let ok = now >= recoversAt
                seen.withLock { $0.append((request.header("webhook-id") ?? "", now, ok)) }
                return ok ? .ok(status: 204) : .init(status: 500, body: "database unavailable")
            }) { server in
                let channel = try await webhook(server, in: dir)
                let pipeline = DeliveryPipeline(channels: ChannelSet([channel]), clock: clock)
                let messages = (0..<60).map { sampleMessage(String(format: "%016x", 0xabc000 + $0)) }
                var outbox = Outbox(messages, at: t0)
                await drain(&outbox, pipeline, clock)

                // Nothing lost, nothing doubled, nothing before the receiver came back.
                #expect(outbox.sent.count == 60 && outbox.dead.isEmpty && outbox.disabled.isEmpty)
                let attempts = seen.withLock { $0 }
                let accepted = Dictionary(grouping: attempts.filter(\.ok), by: \.touch)
                #expect(accepted.count == 60 && accepted.values.allSatisfy { $0.count == 1 })
                #expect(outbox.sent.values.allSatisfy { $0 >= recoversAt })
                #expect(outbox.sent.values.allSatisfy { $0 < recoversAt + .hours(1) }, "and not long after it")

                // Every retry time is the schedule's (with its jitter), and attempts never came early.
                let schedule = channel.policy.retry
                #expect(!outbox.retries.isEmpty)
                for retry in outbox.retries {
                    let expected = retry.now + schedule.delay(touchID: retry.touch, attempt: retry.attempts)
                    #expect(retry.at == expected, "touch \(retry.touch) attempt \(retry.attempts)")
                }
                for (touch, times) in Dictionary(grouping: attempts, by: \.touch) {
                    let ordered = times.map(\.at).sorted()
                    for k in 1..<max(ordered.count, 1) {
                        #expect(ordered[k] - ordered[k - 1] >= schedule.delay(touchID: touch, attempt: k), "attempt \(k + 1) of \(touch) came early")
                    }
                }
                let secondAttempts = Set(Dictionary(grouping: attempts, by: \.touch).values.compactMap { $0.count > 1 ? $0[1].at : nil })
                #expect(secondAttempts.count > 1, "jitter spreads touches that failed together")
                // The breaker kept the outage from costing one request per touch per round.
                #expect(attempts.count < 60 * 10, "\(attempts.count) requests")
            }
        }
    }

    @Test func anAlwaysFailingReceiverEndsInDeadLetterWithItsReason() async throws {
        let clock = ManualClock(t0)
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ _ in .init(status: 500, body: "boom") }) { server in
                let channel = try await webhook(server, in: dir, options: ["retry": ["initial": "1s", "max_attempts": 5]])
                let pipeline = DeliveryPipeline(channels: ChannelSet([channel]), clock: clock)
                var outbox = Outbox((0..<8).map { sampleMessage("dead\($0)") }, at: t0)
                await drain(&outbox, pipeline, clock)
                #expect(outbox.dead.count == 8)
                #expect(Set(outbox.dead.values) == ["gave up after 5 attempts: HTTP 500 Internal Server Error: boom"])
                #expect(server.requests.count == 40, "five attempts each, no more")
            }
        }
    }

    @Test func a410DisablesTheEndpoint() async throws {
        let clock = ManualClock(t0)
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ _ in .init(status: 410, body: "subscription deleted") }) { server in
                let channel = try await webhook(server, in: dir, options: ["concurrency": 1])
                let pipeline = DeliveryPipeline(channels: ChannelSet([channel]), clock: clock)
                var outbox = Outbox((0..<10).map { sampleMessage("gone\($0)") }, at: t0)
                await drain(&outbox, pipeline, clock)
                #expect(outbox.disabled.count == 10 && Set(outbox.disabled.values) == ["HTTP 410 Gone: subscription deleted"])
                #expect(server.requests.count == 1, "nothing more is sent to a gone endpoint")
                #expect(await pipeline.status(of: "test")?.disabledReason == "HTTP 410 Gone: subscription deleted")
            }
        }
    }

    @Test func dingTalksHardLimitHoldsTheTwentyFirst() async throws {
        let clock = ManualClock(t0)
        let times = Mutex<[Timestamp]>([])
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ _ in
                times.withLock { $0.append(clock.now) }
                return .ok(#"{"errcode":0,"errmsg":"ok"}"#)
            }) { server in
                let dingtalk = try await channel(
                    "dingtalk", in: dir, options: ["base_url": .string(server.url), "allow_private": true], secrets: ["access_token": "t"])
                let pipeline = DeliveryPipeline(channels: ChannelSet([dingtalk]), clock: clock)
                var outbox = Outbox((0..<45).map { sampleMessage(String(format: "d%015d", $0)) }, at: t0)
                outbox.apply(await pipeline.deliver(outbox.due(at: t0)), now: t0)
                #expect(server.requests.count == 20)
                #expect(outbox.pending.values.allSatisfy { $0.due == t0 + .minutes(1) && $0.delivery.attempts == 0 })
                await drain(&outbox, pipeline, clock)
                #expect(outbox.sent.count == 45)
                let sent = times.withLock { $0 }.sorted()
                for (i, start) in sent.enumerated() {
                    #expect(sent[i...].prefix { $0 < start + .minutes(1) }.count <= 20)
                }
            }
        }
    }
}
