import Foundation
import JourneyCore
import JourneyEngine
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
    /// Directories of input kept as files (spool `done/`, quarantine) that `forget` erases the user from.
    let archives: [String]
    /// The metrics registry's exposition (what `/metrics` serves): `status` answers its counters and gauges.
    let metricsExposition: @Sendable () -> [UInt8]
    /// Fault injection for tests (`JOURNEYD_FAULT_INJECTION=1`): the request `stall SECONDS` blocks the
    /// processing loop, as a stuck loop would (the watchdog test).
    let faultInjection = ProcessInfo.processInfo.environment["JOURNEYD_FAULT_INJECTION"] == "1"

    init(
        socket: ControlSocket, processor: PartitionProcessor, reloader: Reloader, steppable: SteppableClock? = nil, archives: [String] = [],
        metricsExposition: @escaping @Sendable () -> [UInt8] = { [] }, logger: Logger
    ) {
        self.steppable = steppable
        self.metricsExposition = metricsExposition
        self.archives = archives
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
            let diagnostics = result.withLock { $0 }
            let errors = diagnostics.filter { $0.severity == .error }
            if errors.isEmpty {
                let warnings = diagnostics.filter { $0.severity == .warning }.map { Value.string($0.description) }
                return Value.object(
                    [.init("ok", true), .init("message", .string("rules reloaded: \(reloader.liveJourneys.load(ordering: .relaxed)) journeys"))]
                        + (warnings.isEmpty ? [] : [.init("warnings", .array(warnings))])
                ).jsonText
            }
            return Value.object([.init("ok", false), .init("errors", .array(errors.map { .string($0.description) }))]).jsonText
        case .status:
            guard case .object(let members) = StatusReporter.json(processor.figures) else { return Self.refusal("no figures") }
            return Value.object(members + [.init("metrics", MetricsSnapshot(exposition: metricsExposition()).jsonValue)]).jsonText
        case .explain(let user):
            return Self.ask(processor) { $0.explain(user).jsonValue }
        case .report:
            let generatedAt = WallClock().now
            return Self.ask(processor) { $0.report(generatedAt: generatedAt) }
        case .forget(let user):
            return Self.forget(user, processor: processor, archives: archives, logger: logger)
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

    /// Runs `question` on the processor's thread and waits for its answer (a processor that stopped never
    /// answers: refused after a while instead of waiting forever).
    static func ask(_ processor: PartitionProcessor, _ question: @escaping @Sendable (PartitionProcessor) -> Value) -> String {
        guard let value = query(processor, question) else {
            return Self.refusal("the processor did not answer within 30 s (stopped or stalled)")
        }
        if case .object(let members) = value, !members.contains(where: { $0.key == "ok" }) {
            return Value.object([.init("ok", true)] + members).jsonText
        }
        return value.jsonText
    }

    /// The processor's answer to `question`, or nil when it gives none within 30 s.
    static func query<T: Sendable>(_ processor: PartitionProcessor, _ question: @escaping @Sendable (PartitionProcessor) -> T) -> T? {
        let done = DispatchSemaphore(value: 0)
        let answer = Mutex<T?>(nil)
        processor.inbox.post(
            .query { p in
                answer.withLock { $0 = question(p) }
                done.signal()
            })
        guard done.wait(timeout: .now() + 30) == .success else { return nil }
        return answer.withLock { $0 }
    }

    /// Erases `user` and answers once the erasure's log record is durable (a restart then replays it);
    /// then drops the user's lines from the input archives (spool `done/`, quarantine).
    static func forget(_ user: String, processor: PartitionProcessor, archives: [String], logger: Logger) -> String {
        let logged = Mutex<(sequence: UInt64, ids: [String])>((0, []))
        let erased: Value? = query(processor) { p in
            do {
                let (erasure, sequence) = try p.forget(user)
                logged.withLock { $0 = (sequence, erasure.ids) }
                return erasure.jsonValue
            } catch {
                return Value.object([.init("ok", false), .init("errors", .array([.string("forget: \(error)")]))])
            }
        }
        guard let erased else { return Self.refusal("forget: the processor did not answer within 30 s (stopped or stalled)") }
        let (sequence, ids) = logged.withLock { $0 }
        guard sequence > 0, case .object(var members) = erased else { return erased.jsonText }
        let deadline = DispatchTime.now() + 30
        while (query(processor) { $0.log.durableSequence } ?? 0) < sequence {
            guard DispatchTime.now() < deadline else { return Self.refusal("forget: the erasure was not durable within 30 s") }
            usleep(2_000)
        }
        do {
            var lines = 0
            for id in Set(ids + [user]).sorted() { lines += try ArchiveErasure.erase(id, in: archives) }
            if let index = members.firstIndex(where: { $0.key == "erased" }), case .object(var counts) = members[index].value {
                counts.append(.init("archived_lines", .number(Double(lines))))
                members[index].value = .object(counts)
            }
        } catch {
            return Self.refusal("\(error)")
        }
        // No id in the system log: it is personal data.
        logger.notice("user erased on request (forget)", metadata: ["kind": "user_forgotten"])
        return Value.object([.init("ok", true)] + members).jsonText
    }

    static func refusal(_ reason: String) -> String {
        Value.object([.init("ok", false), .init("errors", .array([.string(reason)]))]).jsonText
    }
}
