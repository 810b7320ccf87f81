import JourneyCore
import Synchronization

@testable import JourneyChannels

/// An adapter whose outcomes the test scripts, for the pipeline's own logic (limits, breaker, retries,
/// concurrency). Adapters that talk to something real are tested against real peers instead.
///
/// With `batches`, it takes a batch in one call (``ChannelAdapter/deliversBatches``), scripted per message.
final class ScriptedAdapter: ChannelAdapter {
    let name: String
    var acceptsIdempotencyKeys: Bool { false }
    let deliversBatches: Bool
    private struct State {
        var script: @Sendable (OutboundMessage, Int) async -> DeliveryResult
        var calls: [String] = []
        var batches: [[String]] = []
        var inFlight = 0
        var maxInFlight = 0
    }
    private let state: Mutex<State>

    init(
        name: String = "test", batches: Bool = false,
        _ script: @escaping @Sendable (OutboundMessage, Int) async -> DeliveryResult = { _, _ in .sent(providerMessageID: nil) }
    ) {
        self.name = name
        self.deliversBatches = batches
        self.state = Mutex(State(script: script))
    }

    /// The touch ids of each batch call.
    var batchCalls: [[String]] { state.withLock { $0.batches } }

    func deliver(batch messages: [OutboundMessage]) async -> [DeliveryResult] {
        state.withLock { $0.batches.append(messages.map(\.touch.id)) }
        var results: [DeliveryResult] = []
        for message in messages { results.append(await deliver(message)) }
        return results
    }

    func script(_ script: @escaping @Sendable (OutboundMessage, Int) async -> DeliveryResult) {
        state.withLock { $0.script = script }
    }

    var calls: [String] { state.withLock { $0.calls } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        let (script, call) = state.withLock { s -> (@Sendable (OutboundMessage, Int) async -> DeliveryResult, Int) in
            s.calls.append(message.touch.id)
            s.inFlight += 1
            s.maxInFlight = max(s.maxInFlight, s.inFlight)
            return (s.script, s.calls.count)
        }
        let result = await script(message, call)
        state.withLock { $0.inFlight -= 1 }
        return result
    }
}
