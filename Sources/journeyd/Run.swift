import ArgumentParser
import Dispatch
import Foundation
import JourneyCore
import JourneyDaemon
import JourneyRules
import JourneySystemd
import Logging

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: spool, tail, socket inputs; the event log and checkpoints; touches through the channels.",
        discussion: """
            Every input batch is appended to the event log (STATE_DIR/log/) and fsynced before its producer is answered
            or its spool file archived; state is checkpointed to the state database in the background, and a restart
            replays the log after the last checkpoint. SIGTERM or SIGINT stops after the batch in hand; SIGHUP reloads
            the rules (refused, with every file:line:col error logged, when they do not validate). Settings come from
            DIR/journeyd.yaml (state.path, inputs.*); flags override them.
            """)

    @Option(name: .long, help: "The rule directory.", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "The state database (default: state.path in journeyd.yaml, else /var/lib/journeyd/state.sqlite); the event log is kept in log/ beside it.")
    var state: String?

    @Option(name: .long, help: "The spool directory (default: inputs.spool.directory, else /var/lib/journeyd/spool).")
    var spool: String?

    @Option(name: .long, help: "The control socket for `journeyd reload` and `journeyd status` (default: control.socket in journeyd.yaml, else control.sock beside the state database).")
    var control: String?

    @Option(name: .long, help: "Also listen for newline-delimited events on this Unix socket (default: inputs.socket.path in journeyd.yaml, else none). Each line is answered once durable.")
    var socket: String?

    @Option(name: .long, help: "Also listen for newline-delimited events on this TCP address, host:port (default: inputs.socket.listen in journeyd.yaml, else none).")
    var listen: String?

    @Option(name: .long, help: "Serve the Segment HTTP Tracking API on this address, host:port (default: inputs.http.listen in journeyd.yaml; the write keys are inputs.http.sources there).")
    var http: String?

    @Option(name: .long, help: "Serve /metrics (Prometheus), /healthz and /readyz on this address, host:port (default: admin.listen in journeyd.yaml, else none).")
    var admin: String?

    @Flag(name: .long, inversion: .prefixedNo, help: "Reload when files in the rule directory change, debounced (default: reload.watch in journeyd.yaml, else off).")
    var watch: Bool?

    @Option(name: .long, help: "Also follow this JSON-lines file, across rotation and truncation (default: inputs.tail.path in journeyd.yaml, else none).")
    var tail: String?

    @Option(name: .long, help: "Cluster mode: this instance's name in leases and metrics (default: cluster.instance in journeyd.yaml, else the host name).")
    var instance: String?

    @Option(name: .long, help: "wall (the system clock) or event (the latest event time; for tests and back-fills).")
    var clock: ClockChoice = .wall

    @Option(name: .long, help: "With --clock event: once the spool is empty, run the clock to this time (RFC 3339), deliver, and exit.")
    var until: String?

    @Option(name: .long, help: "Events per batch at most (default: inputs.batch in journeyd.yaml, else 2048).")
    var batch: Int?

    @Option(name: .long, help: "full (fsync the log at every group commit) or normal (no fsync; survives a crash of journeyd, not of the machine); default: state.durability in journeyd.yaml, else full.")
    var durability: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default: logging.level in journeyd.yaml, else info); debug logs every touch sent and every policy decision.")
    var logLevel: String?

    enum ClockChoice: String, ExpressibleByArgument { case wall, event }

    func validate() throws {
        if let until, Timestamp(iso8601: until) == nil { throw ValidationError("--until must be an RFC 3339 time") }
        if until != nil && clock != .event { throw ValidationError("--until needs --clock event") }
        if let durability, !["full", "normal"].contains(durability) { throw ValidationError("--durability is full or normal") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let listen, SocketAddressText.parse(listen) == nil { throw ValidationError("--listen must be host:port, like 127.0.0.1:5170") }
        if let http, SocketAddressText.parse(http, allowingPortZero: true) == nil { throw ValidationError("--http must be host:port, like 127.0.0.1:8088") }
        if let admin, SocketAddressText.parse(admin, allowingPortZero: true) == nil { throw ValidationError("--admin must be host:port, like 127.0.0.1:9464") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level is one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        // A SIGHUP before the reloader's handler is installed must not end the daemon (its default action):
        // systemd does not restart a service that SIGHUP ended, since it counts as a clean exit.
        signal(SIGHUP, SIG_IGN)
        // A peer that goes away (a producer or `journeyd status` that closed before reading its answer, a
        // closed stderr pipe) must cost a failed write, not the daemon: SIGPIPE's default action ends the
        // process. systemd ignores it for services (IgnoreSIGPIPE=yes); a shell does not.
        signal(SIGPIPE, SIG_IGN)
        let settings = RuleLoader.loadSettings(directory: rules)
        let configured = settings.daemonSettings
        let userIDs: UserIDPolicy
        switch CommandLogging.userIDPolicy(configured) {
        case .success(let policy): userIDs = policy
        case .failure(let failure):
            printError(failure.description)
            throw ExitCode(78)
        }
        // Under systemd: journal fields (stderr is the journal) and the notify protocol; from a terminal:
        // readable lines on stderr and no supervisor.
        CommandLogging.bootstrap(userIDs: userIDs, level: Logger.Level(rawValue: logLevel ?? configured.logLevel) ?? .info)
        let logger = Logger(label: "journeyd")
        let service: any ServiceManager = SystemdServiceManager.isSupervised ? SystemdServiceManager() : NoServiceManager()
        let paths = DaemonPaths(settings: settings, state: state, spool: spool, control: control)
        var options = Daemon.Options(rulesDirectory: rules, statePath: paths.state, spoolDirectory: paths.spool)
        options.controlSocket = paths.control
        options.eventSocket = socket ?? configured.socketPath
        options.eventListen = listen ?? configured.socketListen
        options.tailFile = tail ?? configured.tailFile
        options.eventClock = clock == .event
        options.until = until.flatMap(Timestamp.init(iso8601:))
        options.batchSize = batch ?? configured.batchSize ?? 2048
        options.fsync = durability.map { $0 == "full" } ?? configured.fsyncEveryCommit
        options.watchRules = watch
        options.httpListen = http
        options.adminListen = admin
        let metrics = PrometheusExport.bootstrap()
        options.metricsExposition = { metrics.exposition() }
        do {
            if var cluster = configured.cluster {
                if options.until != nil {
                    // Back-fills end when this process's spool is empty; a cluster's partitions take every
                    // instance's events, so no one instance knows when they have all been applied.
                    throw DaemonError(
                        "--until is not available in cluster mode (journeyd.yaml has a cluster: section): a back-fill runs on one"
                            + " instance without it (embedded state), or the instances run and are stopped when done", configuration: true)
                }
                if let instance { cluster.instance = instance }
                let daemon = try await ClusterDaemon.start(options: options, cluster: cluster, logger: logger, service: service)
                try await daemon.run()
            } else {
                let daemon = try await Daemon.start(options: options, logger: logger, service: service)
                try await daemon.run()
                // The process ends here: freeing every user, touch and timer one by one first took a tenth
                // of a second of a back-fill's end (its state is closed and on disk already).
                _ = Unmanaged.passRetained(daemon)
            }
        } catch let error as DaemonError {
            if error.isConfiguration {
                printError(error.description)
                throw ExitCode(78)  // EX_CONFIG: RestartPreventExitStatus keeps systemd from looping on it
            }
            // Crash-only: a failed write is never retried (a retried fsync can lie); exit non-zero and let
            // the supervisor restart from the log.
            logger.critical("stopping: \(error)", metadata: [RecordField.kind: "\(RecordKind.storeFailure.rawValue)"])
            throw ExitCode(74)  // EX_IOERR
        }
    }
}



/// Where the daemon keeps things: flags first, then journeyd.yaml, then the defaults of a system install.
struct DaemonPaths {
    var state: String
    var spool: String
    var control: String

    init(settings: Settings, state: String? = nil, spool: String? = nil, control: String? = nil) {
        let daemon = settings.daemonSettings
        self.state = state ?? daemon.statePath ?? "/var/lib/journeyd/state.sqlite"
        self.spool = spool ?? daemon.spoolDirectory ?? "/var/lib/journeyd/spool"
        self.control =
            control ?? daemon.controlSocket
            ?? ((self.state as NSString).deletingLastPathComponent + "/control.sock")
    }
}
