import Foundation
import JourneyChannels
public import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyLog
import JourneyRules
import JourneySources
import JourneyStore
public import Logging
import ServiceLifecycle
import UnixSignals

/// `journeyd run`: the composition root. It only wires: it opens the state (checkpoint store and event
/// log), replays the log after the last checkpoint, binds the inputs, and runs the services as one
/// ``ServiceGroup`` (docs/ARCHITECTURE.md, "The daemon"). Which log and which store is decided here,
/// and nowhere else.
///
/// Shutdown runs in the reverse order of ``services``: inputs stop, the watchdog and control stop, the
/// dispatcher drains deliveries in flight, the checkpointer writes a last checkpoint, and the processor
/// stops once everything it accepted is durable.
public final class Daemon: Sendable {
    public struct Options: Sendable {
        public var rulesDirectory: String
        /// The checkpoint database; the event log lives in `log/` beside it.
        public var statePath: String
        public var spoolDirectory: String
        public var controlSocket: String?
        public var eventSocket: String?
        public var eventListen: String?
        public var tailFile: String?
        /// Event time (`--clock event`): now is the latest event time seen.
        public var eventClock: Bool = false
        /// With the event clock: once the spool is empty, run the clock to this time, deliver, and exit.
        public var until: Timestamp?
        public var batchSize: Int = 2048
        /// fsync the log at every group commit (`state.durability: full`).
        public var fsync: Bool = true
        /// Reload when the rule directory changes; nil: `reload.watch` in journeyd.yaml decides.
        public var watchRules: Bool?
        /// The HTTP input's address (`--http`); nil: `inputs.http.listen` in journeyd.yaml, if any.
        public var httpListen: String?
        /// The admin listener's address (`--admin`); nil: `admin.listen` in journeyd.yaml, if any.
        public var adminListen: String?
        /// The metrics in the Prometheus text format, for the admin listener's `/metrics` (the command
        /// line bootstraps the metrics system and hands its registry's output here).
        public var metricsExposition: @Sendable () -> [UInt8] = { [] }

        public init(rulesDirectory: String, statePath: String, spoolDirectory: String) {
            self.rulesDirectory = rulesDirectory
            self.statePath = statePath
            self.spoolDirectory = spoolDirectory
        }

        /// The directory of the state database (`.` for a bare file name): the log, the lock, quarantine.
        var stateDirectory: String {
            let directory = (statePath as NSString).deletingLastPathComponent
            return directory.isEmpty ? "." : directory
        }
    }

    let group: ServiceGroup
    let processor: PartitionProcessor
    let store: SQLiteCheckpointStore
    let logger: Logger
    /// Held while the daemon lives: no second daemon on this state directory.
    let stateLock: StateDirectoryLock

    private init(group: ServiceGroup, processor: PartitionProcessor, store: SQLiteCheckpointStore, logger: Logger, stateLock: StateDirectoryLock) {
        self.group = group
        self.processor = processor
        self.store = store
        self.logger = logger
        self.stateLock = stateLock
    }

    /// Opens everything and recovers; throws ``DaemonError`` (configuration or storage) with every reason.
    public static func start(options: Options, logger: Logger, service: any ServiceManager) async throws -> Daemon {
        CAllocator.mapLargeBlocks()
        OpenFilesLimit.raise(logger: logger)  // before the connection budget is made from it
        let stateLock = try StateDirectoryLock(statePath: options.statePath, directory: options.stateDirectory)  // before anything in it is opened
        service.extendTimeout(microseconds: 90_000_000)  // a long log tail replays before READY

        let context = ChannelContext(stateDirectory: options.stateDirectory, configurationDirectory: options.rulesDirectory, logger: logger)
        let (built, diagnostics) = await RuntimeBuilder.build(directory: options.rulesDirectory, channels: .open(context))
        guard let live = built else {
            throw DaemonError(diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n"), configuration: true)
        }
        let settings = live.rules.settings.daemonSettings

        let store: SQLiteCheckpointStore
        do {
            store = try SQLiteCheckpointStore(path: options.statePath)
            if ProcessInfo.processInfo.environment["JOURNEYD_FAULT_CRASH_IN_CHECKPOINT"] == "1" {
                store.beforeCommit = { _exit(99) }  // a kill in the middle of a checkpoint's transaction
            } else if let held = ProcessInfo.processInfo.environment["JOURNEYD_FAULT_HOLD_CHECKPOINT_MS"].flatMap(UInt32.init) {
                store.beforeCommit = { usleep(held * 1000) }  // a slow disk: each checkpoint's commit waits
            }
            try store.keep(live.snapshot)
            try store.keep(journeys: live.rules.journeys.map(StoredJourney.init), at: WallClock().now)
        } catch {
            throw DaemonError("\(error)", storage: true)
        }
        let restored: RestoredPartition
        let log: SegmentedLog
        do {
            restored = try store.restore(partition: 0)
            log = try SegmentedLog.recovering(
                directory: options.stateDirectory + "/log/0", after: restored.logSequence,
                options: .init(fsync: options.fsync))
        } catch {
            throw DaemonError("\(error)", storage: true)
        }

        let (initial, engine) = try startingRuntime(partition: 0, restored: restored, live: live, archive: store, logger: logger)

        let metrics = DaemonMetrics()
        metrics.rulesLive(version: live.version)
        let eventClock = options.eventClock ? ManualClock(restored.clock) : nil
        let faultInjection = ProcessInfo.processInfo.environment["JOURNEYD_FAULT_INJECTION"] == "1"
        let steppable = faultInjection && eventClock == nil ? SteppableClock() : nil
        let clock: any JourneyClock
        if let eventClock {
            clock = eventClock
        } else if let steppable {
            clock = steppable
        } else {
            clock = WallClock()
        }
        let dispatcher = DeliveryDispatcher(
            channels: live.channels, clock: clock, concurrency: settings.deliveryConcurrency, metrics: metrics, logger: logger)
        let state = PartitionState(
            partition: 0, store: store, restored: restored, settings: initial.rules.settings, clock: restored.clock,
            maxUsersInMemory: settings.maxUsersInMemory)
        let processor = PartitionProcessor(
            partition: 0, runtime: initial, engine: engine, state: state, log: log, archive: store, clock: clock, eventClock: eventClock,
            deliveries: dispatcher, inboxCapacity: max(4 * options.batchSize, 8192), metrics: metrics, logger: logger)
        if let interval = service.watchdogInterval {
            processor.idleWaitMilliseconds = max(1, min(1000, Int64(interval / 4000)))
        }
        let inbox = processor.inbox
        dispatcher.report = { reports, channel in inbox.post(ProcessorWork.deliveries(reports, channel: channel)) }

        let parser = SegmentEventParser()
        let started = MonotonicClock.nanoseconds
        do {
            try await blocking("journeyd recovery") {
                let replayed = try processor.replay(after: restored.logSequence, parser: parser)
                try processor.goLive(with: live)
                dispatcher.restore(processor.state.channelStates)
                if replayed > 0 {
                    logger.notice(
                        "recovered: \(replayed) log records replayed after the checkpoint at record \(restored.logSequence) in \((MonotonicClock.nanoseconds - started) / 1_000_000) ms")
                }
            }
        } catch {
            throw DaemonError("recovery failed: \(error)", storage: true)
        }

        // Inputs, bound now so that READY means they are.
        // The connections the event socket and the HTTP input hold together (ConnectionBudget).
        let budget = ConnectionBudget()
        var sources = try makeSources(
            options: options, settings: settings, positions: state.positions, service: service, maxLine: parser.options.maxEventBytes, budget: budget,
            metrics: metrics, logger: logger)
        let readiness = Readiness()
        let listeners = try makeListeners(
            options: options, settings: settings, parser: parser, readiness: readiness, service: service, budget: budget, metrics: metrics,
            logger: logger)
        if let http = listeners.httpSource { sources.append(http) }

        let reloader = Reloader(
            directory: options.rulesDirectory, processor: processor, dispatcher: dispatcher, archive: store, context: context,
            service: service, watchDebounce: (options.watchRules ?? settings.watchRules) ? settings.reloadDebounce : nil, startedWith: settings,
            hangups: await UnixSignalsSequence(trapping: .sighup), logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ProcessorService(processor: processor), successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(
                service: Checkpointer(
                    processor: processor, store: store, log: log, every: settings.checkpointEvery, logBytes: settings.checkpointLogBytes,
                    retention: settings.logRetention, logger: logger, covered: restored.logSequence),
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: dispatcher, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: reloader, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let path = options.controlSocket {
            let control = try ControlSocket(path: path)
            services.append(
                .init(service: ControlService(
                        socket: control, processor: processor, reloader: reloader, steppable: steppable,
                        archives: [options.spoolDirectory + "/done", options.stateDirectory + "/quarantine"],
                        metricsExposition: options.metricsExposition, logger: logger)))
        }
        let running = "journeyd running: \(live.rules.journeys.count) journeys, state \(options.statePath), spool \(options.spoolDirectory)"
        services.append(
            .init(
                service: StatusReporter(
                    vitals: processor, service: service, interval: StatusReporter.lookEvery(service), logger: logger, readyMessage: running,
                    listeners: listeners.gates, readiness: readiness)))

        let box = GroupBox()
        let quarantine = Quarantine(directory: options.stateDirectory + "/quarantine")
        for source in sources {
            var pump = SourcePump(
                source: source, intake: processor, parser: parser, quarantine: quarantine, batchSize: options.batchSize, logger: logger,
                metrics: metrics, wall: steppable ?? WallClock())
            if source.isFinite, let until = options.until {
                pump.drained = {
                    let stop: @Sendable () -> Void = { Task { await box.group?.triggerGracefulShutdown() } }
                    processor.inbox.post(ProcessorWork.finish(until: until, reply: stop))
                }
            }
            services.append(.init(service: pump, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        // Last, so they stop first: a listener stops taking requests and answers those in flight while
        // the pumps and the processor still run.
        for listener in listeners.services {
            services.append(.init(service: listener, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "journeyd.services", factory: { _ in SwiftLogNoOpLogHandler() })))
        box.group = group
        return Daemon(group: group, processor: processor, store: store, logger: logger, stateLock: stateLock)
    }

    /// Runs until stopped (SIGTERM, SIGINT; or the end of a `--until` run). Throws ``DaemonError`` when a
    /// part failed.
    public func run() async throws {
        try await group.runAsDaemon()
        // Every service has stopped and the last checkpoint is written: the database file alone is the state.
        do {
            try store.close()
        } catch {
            logger.warning("closing the state database failed: \(error); the next start reads its write-ahead log")
        }
        let c = processor.figures.counters
        logger.notice(
            "journeyd stopped: \(c.events) events, \(c.touches) touches, \(c.delivered) delivered",
            metadata: [RecordField.kind: "\(RecordKind.stopped.rawValue)"])
    }

    /// What an input works around by itself (a file it cannot read, out of descriptors): the journal hears
    /// of it (`kind=input_failure`), and `journeyd_input_blocked` / `journeyd_input_problems_total` count it.
    static func inputReporter(_ source: String, metrics: DaemonMetrics, logger: Logger) -> @Sendable (InputNotice) -> Void {
        metrics.inputWatched(source: source)
        return { notice in
            metrics.input(notice, source: source)
            logger.warning("\(notice.message)", metadata: [RecordField.kind: "\(RecordKind.inputFailure.rawValue)", RecordField.source: "\(source)"])
        }
    }

    /// The inputs, bound (a configuration problem is a ``DaemonError`` that says which and why).
    static func makeSources(
        options: Options, settings: DaemonSettings, positions: [String: Int64], service: any ServiceManager, maxLine: Int,
        budget: ConnectionBudget, metrics: DaemonMetrics, logger: Logger
    ) throws(DaemonError) -> [any EventSource] {
        let reporter = { (source: String) in inputReporter(source, metrics: metrics, logger: logger) }
        do throws(SourceError) {
            var sources: [any EventSource] = [
                try SpoolSource(
                    directory: options.spoolDirectory, done: settings.spoolDone == .delete ? .delete : .archive, positions: positions,
                    maxLineBytes: maxLine, finite: options.until != nil, report: reporter("spool"))
            ]
            if let path = options.tailFile {
                try TailSource.check(path: path)
                sources.append(TailSource(path: path, positions: positions, maxLineBytes: maxLine, report: reporter("tail")))
            }
            var listeners: [Listener] = []
            if let fd = service.takeListeningSocket(named: "events") {
                listeners.append(.activated(fd))  // socket activation: the service manager bound it
            } else if let path = options.eventSocket {
                listeners.append(try .unix(path))
            }
            if let address = options.eventListen {
                guard let (host, port) = SocketAddressText.parse(address) else {
                    throw SourceError("inputs.socket.listen: not host:port: \(address)", configuration: true)
                }
                listeners.append(try .tcp(host: host, port: port))
            }
            if !listeners.isEmpty {
                sources.append(
                    SocketSource(listeners: listeners, maxLineBytes: maxLine, budget: budget, report: reporter("socket")))
            }
            return sources
        } catch {
            throw DaemonError(error.description, configuration: error.isConfiguration)
        }
    }
}

/// The service group, for the end of a `--until` run to stop it from inside.
private final class GroupBox: @unchecked Sendable {
    var group: ServiceGroup?
}

extension StoredJourney {
    init(_ journey: Journey) {
        self.init(version: journey.version, journey: journey.id, file: journey.file, source: journey.source)
    }
}
