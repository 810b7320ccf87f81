import Foundation
import JourneyCore
import JourneyEvents
import JourneyHTTP
import JourneyRules
import JourneySources
import Logging
import ServiceLifecycle

/// The listeners that bind inside their services: the HTTP input (`inputs.http`, `--http`) and the admin
/// listener (`admin.listen`, `--admin`). Everything that can be checked before the services run — the
/// address, the write keys, the certificate files — is checked here, so a mistake is a configuration
/// error at start.
extension Daemon {
    struct Listeners {
        var httpSource: HTTPSource?
        var services: [ListenerService] = []
        var gates: [ListenerGate] = []
    }

    /// `parser` is the one the pump parses with: the HTTP input parses in its request handlers with it.
    static func makeListeners(
        options: Options, settings: DaemonSettings, parser: SegmentEventParser, readiness: Readiness, service: any ServiceManager,
        budget: ConnectionBudget, metrics: DaemonMetrics, logger: Logger
    ) throws(DaemonError) -> Listeners {
        var listeners = Listeners()
        var quiet = logger
        quiet.logLevel = .warning  // Hummingbird's own "server started" records: ours say where
        // Socket activation (journeyd-http.socket, FileDescriptorName=http): systemd bound the address.
        let activated = service.takeListeningSocket(named: "http")
        if options.httpListen != nil || settings.http != nil || activated != nil {
            let configured = settings.http ?? .init()
            let address = options.httpListen ?? configured.listen
            let what = activated.map { "inputs.http (the socket systemd passed as \"http\", fd \($0))" } ?? "inputs.http.listen \(address)"
            guard let (host, port) = SocketAddressText.parse(address, allowingPortZero: true) else {
                throw DaemonError("\(what): not host:port", configuration: true)
            }
            guard !configured.sources.isEmpty else {
                throw DaemonError("\(what): inputs.http.sources in journeyd.yaml names no write keys, so every request would be refused", configuration: true)
            }
            let keys: WriteKeys
            do {
                keys = try WriteKeys(reading: try configured.sources.map { try keyEntry($0, rulesDirectory: options.rulesDirectory) })
            } catch let problem as WriteKeys.Problem {
                throw DaemonError(problem.description, configuration: true)
            } catch {
                throw DaemonError("\(error)", configuration: true)
            }
            var configuration = IngestServer.Configuration(host: host, port: Int(port))
            configuration.activatedSocket = activated
            configuration.connectionBudget = budget
            configuration.idleTimeout = .milliseconds(configured.idleTimeout.milliseconds)
            configuration.report = inputReporter("http", metrics: metrics, logger: logger)
            if let tls = configured.tls {
                let files = TLSFiles(certificate: resolve(tls.certificate, options.rulesDirectory), key: resolve(tls.key, options.rulesDirectory))
                do { try files.validate() } catch { throw DaemonError(error.description, configuration: true) }
                configuration.tls = files
            }
            let source = HTTPSource(maxQueued: configured.queue)
            let gate = ListenerGate()
            listeners.httpSource = source
            listeners.gates.append(gate)
            listeners.services.append(
                ListenerService(what: what, gate: gate, logger: logger) { [configuration, quiet] listening in
                    try await IngestServer(source: source, keys: keys, configuration: configuration, parser: parser, logger: quiet, listening: listening).run()
                })
        }
        // Socket activation (journeyd-admin.socket, FileDescriptorName=admin): systemd bound the address.
        let adminActivated = service.takeListeningSocket(named: "admin")
        if let address = options.adminListen ?? settings.adminListen ?? (adminActivated != nil ? DaemonSettings.defaultAdminListen : nil) {
            let what = adminActivated.map { "admin (the socket systemd passed as \"admin\", fd \($0))" } ?? "admin.listen \(address)"
            guard let (host, port) = SocketAddressText.parse(address, allowingPortZero: true) else {
                throw DaemonError("\(what): not host:port", configuration: true)
            }
            let gate = ListenerGate()
            listeners.gates.append(gate)
            let exposition = options.metricsExposition
            let adminReport = inputReporter("admin", metrics: metrics, logger: logger)
            listeners.services.append(
                ListenerService(what: what, gate: gate, logger: logger) { [quiet] listening in
                    try await AdminServer(
                        host: host, port: Int(port), activatedSocket: adminActivated, metrics: exposition, readiness: { readiness.current }, logger: quiet,
                        report: adminReport,
                        listening: listening
                    ).run()
                })
        }
        return listeners
    }

    /// Where a source's write key is: its file, or its systemd credential.
    static func keyEntry(_ source: DaemonSettings.HTTPInput.Source, rulesDirectory: String) throws(DaemonError) -> WriteKeys.Entry {
        switch source.key {
        case .file(let path): return WriteKeys.Entry(stream: source.name, file: resolve(path, rulesDirectory))
        case .credential(let name):
            guard let directory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] else {
                throw DaemonError(
                    "inputs.http.sources: the key of source \"\(source.name)\": $CREDENTIALS_DIRECTORY is not set (systemd sets it for LoadCredential=\(name):…)",
                    configuration: true)
            }
            return WriteKeys.Entry(stream: source.name, file: directory + "/" + name)
        }
    }

    /// A path from journeyd.yaml: relative to the rule directory.
    static func resolve(_ path: String, _ rulesDirectory: String) -> String {
        path.hasPrefix("/") ? path : rulesDirectory + "/" + path
    }
}
