import JourneyCore
import Logging
import ServiceLifecycle

/// A listener that binds when it runs (the HTTP input, the admin listener), as a service: once bound it
/// logs where and opens its gate; a failure to bind stops the daemon with a configuration error that
/// names the setting and the address (exit 78, no restart loop).
struct ListenerService: Service {
    /// The setting and address, as errors and logs name it (`inputs.http.listen 127.0.0.1:8088`).
    let what: String
    let gate: ListenerGate
    let logger: Logger
    /// Runs the listener until graceful shutdown; `listening` is called with the bound address.
    let serve: @Sendable (_ listening: @escaping @Sendable (String, Int) -> Void) async throws -> Void

    func run() async throws {
        do {
            try await serve { [what, gate, logger] host, port in
                logger.notice("\(what): listening on \(host):\(port)")
                gate.open(bound: true)
            }
        } catch {
            gate.open(bound: false)
            throw DaemonError("\(what): cannot listen: \(error)", configuration: true)
        }
        gate.open(bound: false)
    }
}
