import Foundation
import Synchronization

/// A PostgreSQL 15 server of a test's own (Debian's `postgresql-15`): a fresh cluster (`initdb`) in a
/// temporary directory, listening on a Unix socket there and on a free port of 127.0.0.1 (``port``), with
/// `trust` authentication for the one role `journeyd`. ``stop()`` ends it and removes the directory.
///
/// PostgreSQL refuses to run as root, so as root (CI, this machine) it runs as the `postgres` OS user
/// (`setpriv`, which execs the server itself, so signals reach it) in a directory handed over to that user. Durability settings are off: a test server's
/// crash safety is not what the tests are about, and fsyncs would make the shared machine slower.
public final class PostgresServer: Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static let user = "journeyd"
    public let directory: TemporaryDirectory
    /// The directory of the socket (libpq's `host=`).
    public let socketDirectory: String
    /// The TCP port on 127.0.0.1 (also the socket file's number).
    public let port: Int
    private let running: Mutex<ChildProcess>
    var process: ChildProcess { running.withLock { $0 } }
    let asRoot: Bool

    /// The socket file itself, `socketDirectory/.s.PGSQL.<port>`.
    public var socketPath: String { socketDirectory + "/.s.PGSQL.\(port)" }

    /// Initialises a cluster, starts the server and waits (generously) until it accepts connections.
    public static func start() async throws -> PostgresServer {
        let asRoot = getuid() == 0
        // As root, the server's user must reach its directory: a temporary directory of the test run's
        // own (scripts/test.sh makes one, mode 0700) may be closed to it, /tmp never is.
        let directory = try TemporaryDirectory(prefix: "journeyd-pg", in: asRoot ? "/tmp" : NSTemporaryDirectory())
        do {
            if asRoot {
                // mkdtemp's directory is the creator's only; the server's user must own it.
                let (status, output) = try await ChildProcess.run("/bin/chown", ["postgres:postgres", directory.path])
                guard status == 0 else { throw ConformanceFailure("chown postgres \(directory.path): \(output)") }
            }
            let data = directory.file("data")
            let initdb = try await ChildProcess.run(
                "/usr/bin/env", command(asRoot, "initdb", ["-D", data, "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"]))
            guard initdb.status == 0 else { throw ConformanceFailure("initdb failed (\(initdb.status)): \(initdb.output)") }
            // The port is free when picked, but another test's process can take it before the server binds
            // it: then the server exits with "Address already in use", and it starts again on another.
            var attempt = 0
            while true {
                attempt += 1
                let port = try freePort()
                let log = directory.file("server-\(attempt).log")
                let process = try serverProcess(asRoot, data: data, socketDirectory: directory.path, port: port, log: log)
                let server = PostgresServer(directory: directory, port: port, process: process, asRoot: asRoot)
                if await server.becomesReady(process) { return server }
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                await server.stop(removing: false)
                if text.contains("Address already in use") && attempt < 5 { continue }
                throw ConformanceFailure("PostgreSQL did not become ready in \(directory.path): \(text)")
            }
        } catch {
            directory.remove()
            throw error
        }
    }

    private init(directory: TemporaryDirectory, port: Int, process: ChildProcess, asRoot: Bool) {
        self.directory = directory
        self.port = port
        socketDirectory = directory.path
        self.running = Mutex(process)
        self.asRoot = asRoot
    }

    private static func serverProcess(_ asRoot: Bool, data: String, socketDirectory: String, port: Int, log: String) throws -> ChildProcess {
        try ChildProcess(
            "/usr/bin/env",
            command(
                asRoot, "postgres",
                [
                    "-D", data, "-k", socketDirectory, "-c", "listen_addresses=127.0.0.1", "-p", "\(port)", "-c", "fsync=off",
                    "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=50",
                ]),
            output: log)
    }

    /// Ends the server (a fast shutdown: its sessions are ended, as in a failover or an operator's
    /// restart) and starts it again on the same port and data `downtime` later, waiting (generously) until
    /// it accepts connections.
    public func restart(downtime: Duration = .zero) async throws {
        await halt()
        try await Task.sleep(for: downtime)
        try await resume()
    }

    /// Ends the server (a fast shutdown), keeping its data and port for ``resume()``.
    public func halt() async { await process.stop(SIGINT) }

    /// Starts the server ``halt()`` ended again, on the same port and data, and waits (generously) until
    /// it accepts connections.
    public func resume() async throws {
        let log = directory.file("server-restarted.log")
        let process = try Self.serverProcess(asRoot, data: directory.file("data"), socketDirectory: socketDirectory, port: port, log: log)
        running.withLock { $0 = process }
        guard await becomesReady(process) else {
            throw ConformanceFailure("PostgreSQL did not start again: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    /// Waits (generously) until `process`, this server's, accepts connections; false if it exited first.
    private func becomesReady(_ process: ChildProcess) async -> Bool {
        let ready = await eventually(timeout: .seconds(120), interval: .milliseconds(100)) {
            guard process.isRunning else { return true }
            let answer = try? await ChildProcess.run(
                Self.binaries + "/pg_isready", ["-h", socketDirectory, "-p", "\(port)", "-U", Self.user, "-d", "postgres"])
            return answer?.status == 0
        }
        return ready && process.isRunning
    }

    private static func command(_ asRoot: Bool, _ program: String, _ arguments: [String]) -> [String] {
        (asRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []) + [binaries + "/" + program] + arguments
    }

    /// Creates database `name` (owned by ``user``).
    public func createDatabase(_ name: String) async throws {
        let (status, output) = try await ChildProcess.run(
            Self.binaries + "/createdb", ["-h", socketDirectory, "-p", "\(port)", "-U", Self.user, name])
        guard status == 0 else { throw ConformanceFailure("createdb \(name): \(output)") }
    }

    /// Runs `sql` with `psql` in database `name` and returns what it printed (unaligned, tuples only).
    public func psql(_ database: String, _ sql: String) async throws -> String {
        let (status, output) = try await ChildProcess.run(
            Self.binaries + "/psql",
            ["-h", socketDirectory, "-p", "\(port)", "-U", Self.user, "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard status == 0 else { throw ConformanceFailure("psql \(database): \(sql): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts `psql` running `sql` in database `name` in the background, its session named `application`
    /// (`pg_stat_activity.application_name`): a statement that holds locks while a test looks at what waits
    /// for them. End it with ``cancel(application:in:)``: stopping `psql` does not end the server's side,
    /// which keeps its locks until its statement ends (give it a `statement_timeout` as a bound).
    public func session(_ database: String, _ sql: String, application: String, output: String? = nil) throws -> ChildProcess {
        try ChildProcess(
            Self.binaries + "/psql",
            [
                "-h", socketDirectory, "-p", "\(port)", "-U", Self.user, "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-c", sql,
            ],
            output: output, environment: ["PGAPPNAME": application])
    }

    /// Cancels the statement the session named `application` runs (`pg_cancel_backend`): its transaction
    /// is rolled back and its locks released. Returns how many sessions were told.
    @discardableResult
    public func cancel(application: String, in database: String) async throws -> Int {
        Int(
            try await psql(
                database,
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = '\(application)' AND datname = '\(database)'"
            )) ?? 0
    }

    /// A TCP port of 127.0.0.1 nothing listens on now (the kernel's pick).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConformanceFailure("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ConformanceFailure("bind 127.0.0.1:0: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Stops the server (fast shutdown: open sessions are ended) and removes its directory.
    public func stop() async { await stop(removing: true) }

    /// Ends the server (a fast shutdown); `removing` its directory too (not when another start follows).
    func stop(removing: Bool) async {
        await process.stop(SIGINT)
        if removing { directory.remove() }
    }
}
