import Foundation
import JourneyChannels
import JourneyCore
import JourneyEvents
import JourneyNATS
import JourneyPostgres
import JourneyRules
public import Logging
import ServiceLifecycle
import UnixSignals

/// `journeyd run` with a `cluster:` section: one instance of a cluster (docs/CLUSTER.md). The inputs
/// publish each batch to JetStream (``ClusterPublisher``) and acknowledge their producers after the
/// PubAcks; ``PartitionOwnership`` leases partitions in PostgreSQL and runs a processor for each it
/// holds. It only wires, as ``Daemon`` does for the embedded mode.
public final class ClusterDaemon: Sendable {
    let group: ServiceGroup
    let store: PostgresCheckpointStore
    let logger: Logger
    /// Held while the instance lives: its control socket, quarantine and channel files are its own.
    let stateLock: StateDirectoryLock

    private init(group: ServiceGroup, store: PostgresCheckpointStore, logger: Logger, stateLock: StateDirectoryLock) {
        self.group = group
        self.store = store
        self.logger = logger
        self.stateLock = stateLock
    }

    /// Connects to NATS and PostgreSQL, keeps the rules in the archive and binds the inputs; partitions
    /// are taken once it runs. Throws ``DaemonError`` (configuration or storage) with every reason.
    public static func start(
        options: Daemon.Options, cluster: ClusterSettings, logger: Logger, service: any ServiceManager
    ) async throws -> ClusterDaemon {
        CAllocator.mapLargeBlocks()
        OpenFilesLimit.raise(logger: logger)  // before the connection budget is made from it
        let context = ChannelContext(stateDirectory: options.stateDirectory, configurationDirectory: options.rulesDirectory, logger: logger)
        let stateLock = try StateDirectoryLock(statePath: options.statePath, directory: options.stateDirectory)
        let (built, diagnostics) = await RuntimeBuilder.build(directory: options.rulesDirectory, channels: .open(context))
        guard let live = built else {
            throw DaemonError(diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n"), configuration: true)
        }
        let settings = live.rules.settings.daemonSettings
        let instance = cluster.instance ?? ProcessInfo.processInfo.hostName
        let store: PostgresCheckpointStore
        let stream: JetStreamStream
        let publisher: PartitionPublisher
        let positions: [String: Int64]
        // Once open, the store is closed on every way out but the daemon's: its connections must not
        // outlive it unclosed (PostgresNIO traps on that in debug builds, before the reason is printed).
        var opened: PostgresCheckpointStore?
        var wired = false
        defer { if !wired { opened?.close() } }
        do {
            let dsnPath = try path(of: cluster.postgresDSN, what: "cluster.postgres", rules: options.rulesDirectory)
            let dsn = try String(contentsOfFile: dsnPath, encoding: .utf8)
            store = try PostgresCheckpointStore(try PostgresStoreConfiguration(dsn: dsn))
            opened = store
            try store.keep(live.snapshot)
            try store.keep(journeys: live.rules.journeys.map(StoredJourney.init), at: WallClock().now)
            positions = try store.positions(of: instance)
            let credentials = try cluster.natsCredentials.map { try path(of: $0, what: "cluster.nats", rules: options.rulesDirectory) }
            let connection = try NATSConnection(url: cluster.natsURL, credentialsFile: credentials, name: "journeyd \(instance)")
            stream = try JetStreamStream(connection: connection, options: .init(name: cluster.stream, partitions: cluster.partitions))
            publisher = try PartitionPublisher(stream: stream)
        } catch let error as DaemonError {
            throw error
        } catch let error as StoreError where error.isNewerSchema {
            // An older build against a migrated database (docs/DEPLOYING-CLUSTER.md, upgrades): a restart
            // loop would not help, so exit 78 (EX_CONFIG), which the unit does not restart on.
            throw DaemonError("cluster: \(error)", configuration: true)
        } catch {
            throw DaemonError("cluster: \(error)", storage: true)
        }

        let metrics = DaemonMetrics()
        metrics.rulesLive(version: live.version)
        let parser = SegmentEventParser()
        let partitions = InstancePartitions(live: live)
        let pulse = OwnershipPulse()
        let shared = ClusterContext(
            instance: instance, stream: stream, publisher: publisher, store: store, partitions: partitions, options: options, clock: WallClock(), metrics: metrics,
            parser: parser, logger: logger, pulse: pulse)
        let reloader = ClusterReloader(
            directory: options.rulesDirectory, partitions: partitions, archive: store, context: context, metrics: metrics, service: service,
            hangups: await UnixSignalsSequence(trapping: .sighup), logger: logger, startedWith: settings)
        let intake = ClusterPublisher(
            publisher: publisher, eventTime: { partitions.live.rules.settings.daemonSettings.eventTime }, positions: store, instance: instance, logger: logger)

        // The connections the event socket and the HTTP input hold together (ConnectionBudget).
        let budget = ConnectionBudget()
        var sources = try Daemon.makeSources(
            options: options, settings: settings, positions: positions, service: service, maxLine: parser.options.maxEventBytes, budget: budget,
            metrics: metrics, logger: logger)
        let readiness = Readiness()
        let listeners = try Daemon.makeListeners(
            options: options, settings: settings, parser: parser, readiness: readiness, service: service, budget: budget, metrics: metrics,
            logger: logger)
        if let http = listeners.httpSource { sources.append(http) }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: PartitionOwnership(
                    leases: PostgresPartitionLeases(store, answerWithin: PartitionOwnership.answerWithin(ttl: cluster.leaseTTL)),
                    context: shared, partitions: cluster.partitions,
                    ttl: .milliseconds(cluster.leaseTTL.milliseconds), stallAfter: .milliseconds(cluster.stallAfter.milliseconds)),
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: reloader, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let path = options.controlSocket {
            let control = try ControlSocket(path: path)
            let leases = PostgresPartitionLeases(store, answerWithin: PartitionOwnership.answerWithin(ttl: cluster.leaseTTL))
            services.append(
                .init(service: ClusterControlService(
                    socket: control, instance: instance, partitionCount: cluster.partitions, partitions: partitions, reloader: reloader,
                    metricsExposition: options.metricsExposition, partitionOf: { stream.partition(of: $0) },
                    owners: { try leases.leases().mapValues { ($0.owner, $0.live) } },
                    checkpointed: { (try store.checkpointedFigures(of: $0), try store.unfinishedOutbox(of: $0)) },
                    archives: [options.spoolDirectory + "/done", options.stateDirectory + "/quarantine"], pulse: pulse, logger: logger)))
        }
        // READY=1 once the inputs listen and the instance has joined ownership; then STATUS= and WATCHDOG=1.
        let ready = "journeyd running as cluster instance \(instance): \(live.rules.journeys.count) journeys, \(cluster.partitions) partitions, stream \(cluster.stream) on \(stream.connection.server), state \(store.configuration.address)"
        services.append(
            .init(
                service: StatusReporter(
                    vitals: ClusterVitals(instance: instance, partitionCount: cluster.partitions, ownership: pulse, partitions: partitions, reloader: reloader),
                    service: service, interval: StatusReporter.lookEvery(service), logger: logger, readyMessage: ready,
                    listeners: listeners.gates + [pulse.joined], readiness: readiness)))
        let quarantine = Quarantine(directory: options.stateDirectory + "/quarantine")
        for source in sources {
            let pump = SourcePump(
                source: source, intake: intake, parser: parser, quarantine: quarantine, batchSize: options.batchSize, logger: logger,
                metrics: metrics, wall: WallClock())
            services.append(.init(service: pump, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        for listener in listeners.services {
            services.append(.init(service: listener, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "journeyd.services", factory: { _ in SwiftLogNoOpLogHandler() })))
        wired = true
        return ClusterDaemon(group: group, store: store, logger: logger, stateLock: stateLock)
    }

    /// Runs until stopped (SIGTERM, SIGINT): the inputs stop, then every partition stops with a last
    /// checkpoint and its lease is released.
    public func run() async throws {
        defer { store.close() }
        try await group.runAsDaemon()
        logger.notice("journeyd stopped", metadata: [RecordField.kind: "\(RecordKind.stopped.rawValue)"])
    }

    /// Where a secret is: a file (relative to the rule directory) or a systemd credential.
    static func path(of secret: ClusterSettings.Secret, what: String, rules: String) throws(DaemonError) -> String {
        switch secret {
        case .file(let path):
            return path.hasPrefix("/") ? path : rules + "/" + path
        case .credential(let name):
            guard let path = PostgresStoreConfiguration.credentialFile(name) else {
                throw DaemonError("\(what): credential \(name) was not given to the process (no $CREDENTIALS_DIRECTORY; systemd's LoadCredential=)", configuration: true)
            }
            return path
        }
    }
}
