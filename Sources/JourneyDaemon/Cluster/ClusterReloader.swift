import JourneyChannels
import JourneyCore
import JourneyPostgres
import JourneyRules
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reloads an instance's rules (SIGHUP, `journeyd reload`) in cluster mode: builds them as the embedded
/// ``Reloader`` does, keeps them in the shared archive, makes them the rules partitions start on from
/// now, and swaps them into every partition the instance owns (each logs a `rules` record to its
/// subject, so a replay and a later owner apply them at the same point). Every instance reloads its own;
/// `journeyd status` and `journeyd_rules_info` show each instance's content hash. Reloads run one at a time.
final class ClusterReloader: Service, Sendable {
    let directory: String
    let partitions: InstancePartitions
    let archive: PostgresCheckpointStore
    let context: ChannelContext
    let metrics: DaemonMetrics
    let service: any ServiceManager
    let hangups: UnixSignalsSequence
    let logger: Logger
    /// `journeyd.yaml`'s daemon settings as the instance started with them: a reload that changes one read
    /// only at start (or when a partition is taken) says so.
    let startedWith: DaemonSettings
    private let previous = Mutex<Task<[Diagnostic], Never>?>(nil)
    /// The outcome of the last reload: "none", "ok" or "refused".
    let lastReload = Mutex("none")

    init(
        directory: String, partitions: InstancePartitions, archive: PostgresCheckpointStore, context: ChannelContext, metrics: DaemonMetrics,
        service: any ServiceManager, hangups: UnixSignalsSequence, logger: Logger, startedWith: DaemonSettings
    ) {
        (self.directory, self.partitions, self.archive, self.context) = (directory, partitions, archive, context)
        (self.metrics, self.service, self.hangups, self.logger) = (metrics, service, hangups, logger)
        self.startedWith = startedWith
    }

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() { _ = await reload() }
    }

    /// Reloads (after any reload in progress) and returns the diagnostics: no errors when the new rules are live.
    func reload() async -> [Diagnostic] {
        let task = previous.withLock { previous in
            let before = previous
            let task = Task { [self] in
                _ = await before?.value
                return await reloadOnce()
            }
            previous = task
            return task
        }
        return await task.value
    }

    private func reloadOnce() async -> [Diagnostic] {
        service.reloading()
        defer { service.reloaded(status: "rules \(partitions.live.version), last reload \(lastReload.withLock { $0 })") }
        let (built, diagnostics) = await RuntimeBuilder.build(directory: directory, channels: .open(context))
        let errors = diagnostics.filter { $0.severity == .error }
        guard let runtime = built, errors.isEmpty, let channels = runtime.channels else {
            return refused(errors.isEmpty ? diagnostics : errors)
        }
        do {
            try await blocking("journeyd archive") { [archive] in
                try archive.keep(runtime.snapshot)
                try archive.keep(journeys: runtime.rules.journeys.map(StoredJourney.init), at: WallClock().now)
            }
        } catch {
            await channels.shutdown()
            return refused([Diagnostic(file: "journeyd.yaml", line: 0, column: 0, keyPath: "cluster", message: "cannot archive the rules: \(error)")])
        }
        let old = partitions.live
        partitions.live = runtime
        // Partitions starting meanwhile may have read the old rules: swap until every owned one runs these.
        var swapped: Set<Int> = []
        while true {
            let pending = partitions.owned.filter { !swapped.contains($0.key) }
            if pending.isEmpty { break }
            for (p, partition) in pending {
                await partition.dispatcher.replace(with: channels)
                await withCheckedContinuation { continuation in
                    partition.processor.inbox.post(.reload(runtime, reply: { continuation.resume() }))
                }
                swapped.insert(p)
            }
        }
        metrics.rulesLive(version: runtime.version)
        lastReload.withLock { $0 = "ok" }
        logger.notice(
            "rules reloaded on this instance: \(runtime.rules.journeys.count) journeys, content hash \(runtime.version), \(swapped.count) partitions",
            metadata: [RecordField.kind: "\(RecordKind.rulesReloaded.rawValue)", RecordField.outcome: "live"])
        // The old channels once deliveries begun on them had time to end (a partition's drain is 5 s).
        Task {
            try? await Task.sleep(for: .seconds(30))
            await old.channels?.shutdown()
        }
        guard let warning = runtime.rules.settings.daemonSettings.reloadWarning(from: startedWith, cluster: true) else { return diagnostics }
        logger.warning(
            "journeyd.yaml: \(warning)", metadata: [RecordField.kind: "\(RecordKind.rulesReloaded.rawValue)", RecordField.outcome: "restart_needed"])
        return diagnostics + [Diagnostic(file: "journeyd.yaml", line: 0, column: 0, keyPath: "", message: warning, severity: .warning)]
    }

    private func refused(_ errors: [Diagnostic]) -> [Diagnostic] {
        lastReload.withLock { $0 = "refused" }
        metrics.reload(ok: false, version: nil)
        let lines = errors.map { "  " + $0.description }.joined(separator: "\n")
        logger.error(
            "rules reload refused: \(errors.count) error\(errors.count == 1 ? "" : "s"); the previous rules keep running\n\(lines)",
            metadata: [RecordField.kind: "\(RecordKind.rulesRefused.rawValue)", RecordField.outcome: "refused"])
        return errors
    }
}
