import Foundation
import JourneyCore
import Synchronization
import Testing

@testable import JourneyChannels

/// What a conformance run asks a peer to do with the next delivery.
enum PeerBehavior: String, CaseIterable, Sendable {
    case accept
    /// A failure retrying can cure (503, 451, exit 75).
    case transient
    /// A failure it cannot (400, 550, exit 1).
    case permanent
    /// Never answer.
    case hang
}

/// One adapter set up against its peer, as the conformance kit drives it.
struct ConformanceHarness {
    var adapter: any ChannelAdapter
    var logs: LogCapture
    /// The behaviours its peer can act out (`file` and `log` cannot fail on demand).
    var supports: Set<PeerBehavior>
    /// The message that asks for `behavior` (email steers by recipient, exec by data).
    var message: @Sendable (PeerBehavior) -> OutboundMessage = { _ in sampleMessage() }
    /// Switches the peer to `behavior` (HTTP peers steer by state).
    var setBehavior: @Sendable (PeerBehavior) -> Void = { _ in }
    /// Waits until the peer holds a delivery that hangs (so that cancelling interrupts real work).
    var waitUntilHanging: @Sendable () async throws -> Void = { try await Task.sleep(for: .milliseconds(300)) }
    /// How many accepted deliveries the peer has seen.
    var accepted: @Sendable () async throws -> Int
}

/// The contract every adapter keeps (aesthetics §3.3: a conformance kit every adapter's test calls):
/// it delivers, it classifies failures the way retrying needs, it gives up promptly when cancelled, and
/// no secret appears in any result, log line or description of it.
enum ChannelConformance {
    static func check(_ harness: ConformanceHarness, secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var texts: [String] = []
        func record(_ result: DeliveryResult) { texts.append("\(result)") }

        // Delivery.
        harness.setBehavior(.accept)
        let sent = await harness.adapter.deliver(harness.message(.accept))
        record(sent)
        #expect(sent.isSent, "accept: \(sent)", sourceLocation: sourceLocation)
        #expect(try await harness.accepted() >= 1, "the peer saw the delivery", sourceLocation: sourceLocation)

        // A batch: one result per message, in order — each delivered, whether the adapter takes batches in
        // one call (file, log) or one at a time (the default).
        let before = try await harness.accepted()
        let batch = (0..<3).map { i in
            var message = harness.message(.accept)
            message.touch.id = "batch\(i)-" + message.touch.id
            return message
        }
        let results = await harness.adapter.deliver(batch: batch)
        results.forEach(record)
        #expect(results.count == 3 && results.allSatisfy(\.isSent), "a batch: \(results)", sourceLocation: sourceLocation)
        #expect(try await harness.accepted() >= before + 3, "the peer saw each of the batch's deliveries", sourceLocation: sourceLocation)
        #expect(await harness.adapter.deliver(batch: []).isEmpty, sourceLocation: sourceLocation)

        // Classification.
        if harness.supports.contains(.transient) {
            harness.setBehavior(.transient)
            let result = await harness.adapter.deliver(harness.message(.transient))
            record(result)
            #expect(["retry", "throttle"].contains(kind(result)), "transient: \(result)", sourceLocation: sourceLocation)
            let results = await harness.adapter.deliver(batch: [harness.message(.transient), harness.message(.transient)])
            results.forEach(record)
            #expect(results.count == 2 && results.allSatisfy { ["retry", "throttle"].contains(kind($0)) }, "transient, a batch: \(results)", sourceLocation: sourceLocation)
        }
        if harness.supports.contains(.permanent) {
            harness.setBehavior(.permanent)
            let result = await harness.adapter.deliver(harness.message(.permanent))
            record(result)
            #expect(["dead letter", "disable"].contains(kind(result)), "permanent: \(result)", sourceLocation: sourceLocation)
        }

        // Cancellation: a delivery in progress (or one cancelled before it started) ends promptly, unsent.
        harness.setBehavior(.hang)
        let adapter = harness.adapter
        let message = harness.message(.hang)
        let hangs = harness.supports.contains(.hang)
        let task = Task {
            if !hangs { withUnsafeCurrentTask { $0?.cancel() } }
            return await adapter.deliver(message)
        }
        if hangs { try await harness.waitUntilHanging() }
        let cancelledAt = ContinuousClock.now
        task.cancel()
        let cancelled = await task.value
        record(cancelled)
        // Generous: the tests share two cores and a loaded run starved this for 78 s; a delivery that ignores
        // cancellation hangs for its full timeout (5 minutes in these tests) or forever.
        #expect(ContinuousClock.now - cancelledAt < .seconds(240), "cancellation was not honoured promptly", sourceLocation: sourceLocation)
        if hangs {
            #expect(!cancelled.isSent, "a cancelled delivery is not reported sent", sourceLocation: sourceLocation)
        }
        harness.setBehavior(.accept)

        // No secret anywhere.
        var described = "\(harness.adapter) \(String(reflecting: harness.adapter))"
        dump(harness.adapter, to: &described, maxDepth: 4)
        texts.append(described)
        texts += harness.logs.all
        for secret in secrets {
            for text in texts {
                #expect(!text.contains(secret), "a secret leaked into: \(text.prefix(300))", sourceLocation: sourceLocation)
            }
        }
    }
}
