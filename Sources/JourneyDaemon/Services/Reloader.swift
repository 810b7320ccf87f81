import Foundation
import JourneyChannels
import JourneyCore
import JourneyRules
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reloads the rules (DESIGN §8): SIGHUP, a debounced watch of the rule directory, and `journeyd
/// reload` over the control socket all become one kind of request. Requests that arrive while a reload
/// runs are served together by the next one, which reads the files as they are then, so the last edit
/// is never missed.
///
/// A reload builds the new runtime aside with ``RuntimeBuilder`` — rules, renderer, channels opened —
/// and archives the rule files; only when all of that succeeded are the new channels handed to the
/// dispatcher and the runtime swapped in by the processor (one assignment each). A refused reload
/// changes nothing and logs every error at its file, line and column.
final class Reloader: Service, @unchecked Sendable {
    let directory: String
    let processor: PartitionProcessor
    let dispatcher: DeliveryDispatcher
    let archive: any JourneyArchive
    let context: ChannelContext
    let service: any ServiceManager
    let watchDebounce: TimeSpan?
    /// The daemon settings of `journeyd.yaml` at start: those read only then stay these until a restart.
    let startedWith: DaemonSettings
    /// SIGHUP, trapped before the daemon said it is ready (a signal that arrives early is not lost).
    let hangups: UnixSignalsSequence
    let logger: Logger
    /// Who waits for the next reload's outcome; a wake-up per request, coalescing (at most one pending).
    private let waiting = Mutex<[@Sendable ([Diagnostic]) -> Void]>([])
    /// How many journeys the rules made live by the last reload have.
    let liveJourneys = Atomic<Int>(0)
    private let wakes: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>

    init(
        directory: String, processor: PartitionProcessor, dispatcher: DeliveryDispatcher, archive: any JourneyArchive,
        context: ChannelContext, service: any ServiceManager, watchDebounce: TimeSpan?, startedWith: DaemonSettings,
        hangups: UnixSignalsSequence, logger: Logger
    ) {
        self.hangups = hangups
        self.startedWith = startedWith
        self.directory = directory
        self.processor = processor
        self.dispatcher = dispatcher
        self.archive = archive
        self.context = context
        self.service = service
        self.watchDebounce = watchDebounce
        self.logger = logger
        (stream, wakes) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a reload; `reply` gets the diagnostics (empty when the new rules are live).
    func request(reply: (@Sendable ([Diagnostic]) -> Void)? = nil) {
        if let reply { waiting.withLock { $0.append(reply) } }
        wakes.yield()
    }

    /// Reloads and waits for the outcome.
    func reload() async -> [Diagnostic] {
        await withCheckedContinuation { continuation in request { continuation.resume(returning: $0) } }
    }

    func run() async throws {
        let watch = try watchDebounce.map { span throws(DaemonError) in
            do { return try RuleDirectoryWatch(directory: directory, debounceMilliseconds: span.milliseconds) } catch {
                throw DaemonError("reload.watch: cannot watch \(directory): \(error)", configuration: true)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await _ in hangups.cancelOnGracefulShutdown() { request() }
            }
            if let watch {
                group.addTask { [self] in
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        let changed = await blocking("journeyd rule watch") { watch.wait(milliseconds: 200) }
                        if changed { request() }
                    }
                }
            }
            group.addTask { [self] in
                for await _ in stream.cancelOnGracefulShutdown() {
                    let replies = waiting.withLock { replies in
                        defer { replies.removeAll() }
                        return replies
                    }
                    let diagnostics = await reloadOnce(watch: watch)
                    for reply in replies { reply(diagnostics) }
                }
            }
            await group.next()
            group.cancelAll()
        }
        // Stopping: whoever still waits learns the reload will not happen.
        let stranded = waiting.withLock { replies in
            defer { replies.removeAll() }
            return replies
        }
        let stopping = Diagnostic(file: "", line: 0, column: 0, keyPath: "", message: "journeyd is stopping; the rules were not reloaded")
        for reply in stranded { reply([stopping]) }
    }

    private func reloadOnce(watch: RuleDirectoryWatch?) async -> [Diagnostic] {
        service.reloading()
        defer { service.reloaded(status: StatusReporter.text(processor.figures)) }
        let (built, diagnostics) = await RuntimeBuilder.build(directory: directory, channels: .open(context))
        let errors = diagnostics.filter { $0.severity == .error }
        guard let runtime = built, errors.isEmpty, let channels = runtime.channels else {
            await refused(errors.isEmpty ? diagnostics : errors)
            return diagnostics
        }
        do {
            try await blocking("journeyd archive") { [archive] in
                try archive.keep(runtime.snapshot)
                try archive.keep(
                    journeys: runtime.rules.journeys.map { StoredJourney(version: $0.version, journey: $0.id, file: $0.file, source: $0.source) },
                    at: WallClock().now)
            }
        } catch {
            let diagnostic = Diagnostic(file: "journeyd.yaml", line: 0, column: 0, keyPath: "state", message: "cannot archive the rules: \(error)")
            await channels.shutdown()
            await refused([diagnostic])
            return [diagnostic]
        }
        await dispatcher.replace(with: channels)
        liveJourneys.store(runtime.rules.journeys.count, ordering: .relaxed)
        await withCheckedContinuation { continuation in
            processor.inbox.post(.reload(runtime, reply: { continuation.resume() }))
        }
        watch?.rewatch()
        return restartNeeded(runtime.rules.settings.daemonSettings)
    }

    /// Start-only settings the reloaded `journeyd.yaml` changes: told as a warning (the journal, and
    /// `journeyd reload`'s answer) — the rest of the reload is live.
    private func restartNeeded(_ settings: DaemonSettings) -> [Diagnostic] {
        guard let message = settings.reloadWarning(from: startedWith) else { return [] }
        logger.warning(
            "journeyd.yaml: \(message)", metadata: [RecordField.kind: "\(RecordKind.rulesReloaded.rawValue)", RecordField.outcome: "restart_needed"])
        return [Diagnostic(file: "journeyd.yaml", line: 0, column: 0, keyPath: "", message: message, severity: .warning)]
    }

    /// Logs a refused reload: one record with every error, so `journalctl -u journeyd` shows them together.
    /// Returns once the processor counted it, so the status sent right after says "last reload: refused".
    private func refused(_ errors: [Diagnostic]) async {
        await withCheckedContinuation { continuation in processor.inbox.post(.reloadRefused(reply: { continuation.resume() })) }
        let lines = errors.map { "  " + $0.description }.joined(separator: "\n")
        logger.error(
            "rules reload refused: \(errors.count) error\(errors.count == 1 ? "" : "s"); the previous rules keep running\n\(lines)",
            metadata: [RecordField.kind: "\(RecordKind.rulesRefused.rawValue)", RecordField.outcome: "refused"])
    }
}
