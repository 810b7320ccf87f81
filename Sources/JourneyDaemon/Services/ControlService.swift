import Foundation
import JourneyCore
import JourneyRules
import Logging
import ServiceLifecycle
import Synchronization

/// Serves the control socket (``ControlSocket``): `reload` waits for the outcome of a reload,
/// `status` answers the live figures. A thread of its own waits for connections; answering may block
/// it (a reload takes as long as it takes), never a shared thread.
final class ControlService: Service, @unchecked Sendable {
    let socket: ControlSocket
    let processor: PartitionProcessor
    let reloader: Reloader
    let logger: Logger
    /// The clock `clock ±SPAN` steps (fault injection only).
    let steppable: SteppableClock?
    /// Fault injection for tests (`JOURNEYD_FAULT_INJECTION=1`): the request `stall SECONDS` blocks the
    /// processing loop, as a stuck loop would (the watchdog test).
    let faultInjection = ProcessInfo.processInfo.environment["JOURNEYD_FAULT_INJECTION"] == "1"

    init(socket: ControlSocket, processor: PartitionProcessor, reloader: Reloader, steppable: SteppableClock? = nil, logger: Logger) {
        self.steppable = steppable
        self.socket = socket
        self.processor = processor
        self.reloader = reloader
        self.logger = logger
    }

    func run() async throws {
        let stop = Atomic<Bool>(false)
        await withGracefulShutdownHandler {
            await blocking("journeyd control") { [self] in
                while !stop.load(ordering: .relaxed) { socket.waitAndServe(milliseconds: 50) { answer($0) } }
            }
        } onGracefulShutdown: {
            stop.store(true, ordering: .relaxed)
        }
    }

    /// Answers one request line (on the control thread).
    func answer(_ line: String) -> String {
        let request: ControlRequest
        switch ControlRequest.parse(Array(line.utf8)) {
        case .success(let parsed): request = parsed
        case .failure(let error): return Self.refusal(error.description)
        }
        switch request {
        case .reload:
            let done = DispatchSemaphore(value: 0)
            let result = Mutex<[Diagnostic]>([])
            Task { [reloader] in
                let diagnostics = await reloader.reload()
                result.withLock { $0 = diagnostics }
                done.signal()
            }
            done.wait()
            let errors = result.withLock { $0 }.filter { $0.severity == .error }
            if errors.isEmpty {
                return Value.object([
                    .init("ok", true), .init("message", .string("rules reloaded: \(reloader.liveJourneys.load(ordering: .relaxed)) journeys")),
                ]).jsonText
            }
            return Value.object([.init("ok", false), .init("errors", .array(errors.map { .string($0.description) }))]).jsonText
        case .status:
            return StatusReporter.json(processor.figures).jsonText
        case .stall(let seconds):
            guard faultInjection else { return Self.refusal("unknown request; use reload or status") }
            logger.warning("fault injection: the processing loop stalls for \(seconds) s")
            processor.inbox.post(.query { _ in sleep(UInt32(seconds)) })
            return Value.object([.init("ok", true)]).jsonText
        case .clock(let step):
            guard faultInjection, let steppable else { return Self.refusal("unknown request; use reload or status") }
            steppable.step(by: step)
            logger.warning("fault injection: the wall clock is stepped by \(step)")
            return Value.object([.init("ok", true)]).jsonText
        }
    }

    static func refusal(_ reason: String) -> String {
        Value.object([.init("ok", false), .init("errors", .array([.string(reason)]))]).jsonText
    }
}
