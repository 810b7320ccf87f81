import Foundation
import JourneyCore
import NIOSSL
import PostgresNIO

/// Where the cluster's PostgreSQL is and how to log in. The password is never part of the configuration:
/// it is read from a file (a systemd credential, `LoadCredential=`, is one) each time a connection is
/// opened, so it stays out of journeyd.yaml, the process's arguments and environment, logs and errors
/// (DESIGN §7), and a rotated password is picked up by the next connection.
public struct PostgresStoreConfiguration: Sendable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself: `DIRECTORY/.s.PGSQL.PORT`.
        case unixSocket(path: String)
    }

    /// libpq's `sslmode` in three steps.
    public enum TLSMode: Sendable, Equatable {
        case disable
        /// Encrypt when the server offers it, without checking its certificate (libpq's `prefer`).
        case prefer
        /// Encrypt and verify the server's certificate and name against `caFile` (PEM), or against the
        /// system's roots when nil (libpq's `verify-full`).
        case require(caFile: String?)
    }

    public var endpoint: Endpoint
    public var database: String
    public var user: String
    /// A file holding the password (trailing newline ignored); nil for a server that asks for none
    /// (`peer` or `trust` on a Unix socket).
    public var passwordFile: String?
    public var tls: TLSMode
    public var connectTimeout: Duration
    /// Idle connections kept for reuse at most (one per thread that calls at the same time is enough);
    /// more are opened while more threads call at once, and closed after.
    public var maxConnections: Int
    /// Shown in `pg_stat_activity`, so an operator can tell the instances apart.
    public var applicationName: String
    /// How long the fencing history (`checkpoint_commits`, `lease_grants`: which token committed what,
    /// who was granted which partition when) is kept: enough to look back at an incident, bounded so a
    /// table that gains a row per checkpoint does not grow for ever. Seven days.
    public var historyRetention: Duration = .seconds(7 * 86_400)
    /// The password a DSN carried (``init(dsn:passwordFile:)``), itself read from a secret file; never shown.
    var inlinePassword: String?

    public init(
        endpoint: Endpoint, database: String, user: String, passwordFile: String? = nil, tls: TLSMode = .disable,
        connectTimeout: Duration = .seconds(10), maxConnections: Int = 8, applicationName: String = "journeyd"
    ) {
        self.endpoint = endpoint
        self.database = database
        self.user = user
        self.passwordFile = passwordFile
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.maxConnections = max(1, maxConnections)
        self.applicationName = applicationName
    }

    /// The path of systemd credential `name` (`$CREDENTIALS_DIRECTORY/name`), for ``passwordFile``; nil
    /// when the process was not given credentials.
    public static func credentialFile(
        _ name: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !name.contains("/") else { return nil }
        return directory + "/" + name
    }

    /// The server and database in a form operators know, without the password: what every error names.
    public var address: String {
        switch endpoint {
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            return "postgresql://\(user)@\(shown):\(port)/\(database)"
        case .unixSocket(let path):
            return "postgresql://\(user)@/\(database)?host=\(path)"
        }
    }

    /// The password file's content, read now.
    func password() throws(StoreError) -> String? {
        guard let passwordFile else { return inlinePassword }
        do {
            var text = try String(contentsOfFile: passwordFile, encoding: .utf8)
            while text.last == "\n" || text.last == "\r" { text.removeLast() }
            return text
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? "cannot be read"
            throw .database(path: address, operation: "read the password file", reason: "\(passwordFile): \(reason)")
        }
    }
}

extension PostgresStoreConfiguration {
    /// PostgresNIO's TLS setting for ``tls``.
    func connectionTLS() throws(StoreError) -> PostgresConnection.Configuration.TLS {
        do {
            switch tls {
            case .disable:
                return .disable
            case .prefer:
                var settings = TLSConfiguration.makeClientConfiguration()
                settings.certificateVerification = .none
                return .prefer(try NIOSSLContext(configuration: settings))
            case .require(let caFile):
                var settings = TLSConfiguration.makeClientConfiguration()
                if let caFile { settings.trustRoots = .file(caFile) }
                return .require(try NIOSSLContext(configuration: settings))
            }
        } catch {
            throw .database(path: address, operation: "set up TLS", reason: "\(error)")
        }
    }
}
