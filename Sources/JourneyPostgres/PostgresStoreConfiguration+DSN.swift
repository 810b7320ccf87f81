import Foundation
public import JourneyCore

extension PostgresStoreConfiguration {
    /// The configuration a libpq connection URI describes — what `cluster.postgres.dsn_file` or
    /// `dsn_credential` holds: `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]`, with
    /// `sslmode` (`disable`, `prefer`, `require`, `verify-full`), `sslrootcert`, `host` (a socket
    /// directory: `postgresql://user@/db?host=/run/postgresql`), `port`, `application_name` and
    /// `connect_timeout` (seconds). The password, when given, stays out of ``address`` and every error;
    /// a `passwordFile` given here wins over it.
    ///
    /// Errors say what is wrong with the DSN without repeating it (it may hold a password).
    public init(dsn: String, passwordFile: String? = nil) throws(StoreError) {
        func bad(_ reason: String) -> StoreError { .database(path: "the PostgreSQL DSN", operation: "read", reason: reason) }
        guard dsn.hasPrefix("postgresql://") || dsn.hasPrefix("postgres://"),
            let components = URLComponents(string: dsn.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw bad("expected a URI like postgresql://user@host:5432/database")
        }
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] { parameters[item.name] = item.value ?? "" }
        let known: Set = ["sslmode", "sslrootcert", "host", "port", "application_name", "connect_timeout"]
        if let unknown = parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw bad("unknown parameter \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw bad("names no user (postgresql://USER@host/database)")
        }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else { throw bad("names no database (postgresql://user@host/DATABASE)") }
        var port = components.port ?? 5432
        if let text = parameters["port"] {
            guard let p = Int(text), (1...65535).contains(p) else { throw bad("port must be a number from 1 to 65535") }
            port = p
        }
        let endpoint: Endpoint
        if let directory = parameters["host"], directory.hasPrefix("/") {
            endpoint = .unixSocket(path: directory + "/.s.PGSQL.\(port)")
        } else if let host = components.host, !host.isEmpty {
            endpoint = .tcp(host: host, port: port)
        } else {
            throw bad("names no host (postgresql://user@HOST/database, or ?host=/socket/directory)")
        }
        let tls: TLSMode
        switch parameters["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "allow", "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require(caFile: parameters["sslrootcert"])
        case let mode: throw bad("sslmode \"\(mode)\" is not one of disable, prefer, require, verify-full")
        }
        var timeout = Duration.seconds(10)
        if let text = parameters["connect_timeout"] {
            guard let seconds = Int(text), seconds > 0 else { throw bad("connect_timeout must be a whole number of seconds") }
            timeout = .seconds(seconds)
        }
        if case .unixSocket = endpoint, parameters["sslmode"] == nil {
            self.init(endpoint: endpoint, database: database, user: user, passwordFile: passwordFile, tls: .disable, connectTimeout: timeout)
        } else {
            self.init(endpoint: endpoint, database: database, user: user, passwordFile: passwordFile, tls: tls, connectTimeout: timeout)
        }
        if let name = parameters["application_name"] { applicationName = name }
        if passwordFile == nil { inlinePassword = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } }
    }
}
