import ArgumentParser
import Dispatch
import Foundation
import JourneyCore
import JourneyDaemon
import JourneyRules
import JourneyStore
import JourneySystemd
import Logging

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: spool input, durable state, touches through the channels.",
        discussion: """
            Producers write event files (Segment JSON lines) elsewhere and rename them into SPOOL/incoming/.
            Each batch of events is committed to the state database (with the touches it produced and the file
            position) before the file is archived to SPOOL/done/. SIGTERM or SIGINT stops after the batch in hand;
            SIGHUP reloads the rules (refused, with every file:line:col error logged, when they do not validate).
            Settings come from DIR/journeyd.yaml (state.path, inputs.spool.directory); flags override them.
            """)

    @Option(name: .long, help: "The rule directory.", completion: .directory)
    var rules = "/etc/journeyd"

    @Option(name: .long, help: "The state database (default: state.path in journeyd.yaml, else /var/lib/journeyd/state.sqlite).")
    var state: String?

    @Option(name: .long, help: "The spool directory (default: inputs.spool.directory, else /var/lib/journeyd/spool).")
    var spool: String?

    @Option(name: .long, help: "The control socket for `journeyd reload` and `journeyd status` (default: control.socket in journeyd.yaml, else control.sock beside the state database).")
    var control: String?

    @Option(name: .long, help: "Also listen for newline-delimited events on this Unix socket (default: inputs.socket.path in journeyd.yaml, else none). Each line is answered after its commit.")
    var socket: String?

    @Option(name: .long, help: "Also listen for newline-delimited events on this TCP address, host:port (default: inputs.socket.listen in journeyd.yaml, else none).")
    var listen: String?

    @Flag(name: .long, inversion: .prefixedNo, help: "Reload when files in the rule directory change, debounced (default: reload.watch in journeyd.yaml, else off).")
    var watch: Bool?

    @Option(name: .long, help: "Also follow this JSON-lines file, across rotation and truncation (default: inputs.tail.path in journeyd.yaml, else none).")
    var tail: String?

    @Option(name: .long, help: "wall (the system clock) or event (the latest event time; for tests and back-fills).")
    var clock: Daemon.Settings.Clock = .wall

    @Option(name: .long, help: "With --clock event: once the spool is empty, run the clock to this time (RFC 3339), deliver, and exit.")
    var until: String?

    @Option(name: .long, help: "Events per transaction at most (default: inputs.batch in journeyd.yaml, else 2048).")
    var batch: Int?

    @Option(name: .long, help: "full (fsync every commit) or normal (WAL without fsync per commit); default: state.durability in journeyd.yaml, else full.")
    var durability: String?

    func validate() throws {
        if let until, Timestamp(iso8601: until) == nil { throw ValidationError("--until must be an RFC 3339 time") }
        if until != nil && clock != .event { throw ValidationError("--until needs --clock event") }
        if let durability, !["full", "normal"].contains(durability) { throw ValidationError("--durability is full or normal") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let listen, SocketAddressText.parse(listen) == nil { throw ValidationError("--listen must be host:port, like 127.0.0.1:5170") }
    }

    func run() throws {
        // A SIGHUP before the reload handler below is installed must not end the daemon (its default
        // action): systemd does not restart a service that SIGHUP ended, since it counts as a clean exit.
        signal(SIGHUP, SIG_IGN)
        let ruleSet: RuleSet
        do {
            ruleSet = try RuleLoader.load(directory: rules)
        } catch {
            printError(error.description)
            throw ExitCode(78)  // EX_CONFIG: systemd's RestartPreventExitStatus will not loop on it
        }
        let paths = DaemonPaths(settings: ruleSet.settings, state: state, spool: spool, control: control)
        let configured = ruleSet.settings.daemonSettings
        let userIDs: UserIDPolicy
        switch CommandLogging.userIDPolicy(configured) {
        case .success(let policy): userIDs = policy
        case .failure(let failure):
            printError(failure.description)
            throw ExitCode(78)
        }
        // Under systemd: journal fields (stderr is the journal) and the notify protocol; from a terminal:
        // readable lines on stderr and no supervisor.
        CommandLogging.bootstrap(userIDs: userIDs)
        let logger = Logger(label: "journeyd")
        let service: any ServiceManager =
            SystemdServiceManager.isSupervised ? SystemdServiceManager() : NoServiceManager()
        let daemon: Daemon
        do {
            daemon = try makeDaemon(ruleSet, configured: configured, paths: paths, logger: logger, service: service)
        } catch let error as DaemonError where error.isConfiguration {
            printError(error.description)
            throw ExitCode(78)  // EX_CONFIG: RestartPreventExitStatus keeps systemd from looping on it
        }
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { daemon.requestStop() }
            source.resume()
            return source
        }
        // SIGHUP reloads the rules (validated aside; the old rules keep running when the new ones are refused).
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { daemon.requestReload() }
        hangup.resume()
        defer {
            signals.forEach { $0.cancel() }
            hangup.cancel()
        }
        do {
            try daemon.run()
        } catch let error as StoreError {
            // Crash-only: a failed commit or read is never retried (a retried fsync can lie); exit non-zero
            // and let the supervisor restart from the last commit.
            logger.critical("state store failure, stopping: \(error)", metadata: [RecordField.kind: "\(RecordKind.storeFailure.rawValue)"])
            throw ExitCode(74)  // EX_IOERR
        } catch {
            logger.critical("input failure, stopping: \(error)", metadata: [RecordField.kind: "\(RecordKind.inputFailure.rawValue)"])
            throw ExitCode(74)
        }
    }

    private func makeDaemon(
        _ ruleSet: RuleSet, configured: DaemonSettings, paths: DaemonPaths, logger: Logger, service: any ServiceManager
    ) throws -> Daemon {
        try Daemon(
            rules: ruleSet,
            settings: .init(
                statePath: paths.state, spoolDirectory: paths.spool, clock: clock, batchSize: batch ?? configured.batchSize ?? 2048,
                exitWhenIdle: until.flatMap(Timestamp.init(iso8601:)),
                fsyncEveryCommit: durability.map { $0 == "full" } ?? configured.fsyncEveryCommit,
                rulesDirectory: rules, controlSocket: paths.control,
                eventSocket: socket ?? configured.socketPath, eventListen: listen ?? configured.socketListen,
                tailFile: tail ?? configured.tailFile, spoolDone: configured.spoolDone,
                watchRulesDebounce: (watch ?? configured.watchRules) ? configured.reloadDebounce : nil),
            logger: logger, service: service)
    }
}

extension Daemon.Settings.Clock: ExpressibleByArgument {}

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
