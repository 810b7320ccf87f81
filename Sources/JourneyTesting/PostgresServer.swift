import Foundation

/// A PostgreSQL 15 server of a test's own (Debian's `postgresql-15`): a fresh cluster (`initdb`) in a
/// temporary directory, listening only on a Unix socket there (`listen_addresses=''`), with `trust`
/// authentication for the one role `journeyd`. ``stop()`` ends it and removes the directory.
///
/// PostgreSQL refuses to run as root, so as root (CI, this machine) it runs as the `postgres` OS user
/// (`setpriv`, which execs the server itself, so signals reach it) in a directory handed over to that user. Durability settings are off: a test server's
/// crash safety is not what the tests are about, and fsyncs would make the shared machine slower.
public final class PostgresServer: Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static let user = "journeyd"
    public static let port = 5432
    public let directory: TemporaryDirectory
    /// The directory of the socket (libpq's `host=`).
    public let socketDirectory: String
    let process: ChildProcess
    let asRoot: Bool

    /// The socket file itself, `socketDirectory/.s.PGSQL.5432`.
    public var socketPath: String { socketDirectory + "/.s.PGSQL.\(Self.port)" }

    /// Initialises a cluster, starts the server and waits (generously) until it accepts connections.
    public static func start() async throws -> PostgresServer {
        let directory = try TemporaryDirectory(prefix: "journeyd-pg")
        do {
            let asRoot = getuid() == 0
            if asRoot {
                // mkdtemp's directory is the creator's only; the server's user must own it.
                let (status, output) = try await ChildProcess.run("/bin/chown", ["postgres:postgres", directory.path])
                guard status == 0 else { throw ConformanceFailure("chown postgres \(directory.path): \(output)") }
            }
            let data = directory.file("data")
            let initdb = try await ChildProcess.run(
                "/usr/bin/env", command(asRoot, "initdb", ["-D", data, "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"]))
            guard initdb.status == 0 else { throw ConformanceFailure("initdb failed (\(initdb.status)): \(initdb.output)") }
            let process = try ChildProcess(
                "/usr/bin/env",
                command(
                    asRoot, "postgres",
                    [
                        "-D", data, "-k", directory.path, "-c", "listen_addresses=", "-p", "\(port)", "-c", "fsync=off",
                        "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=50",
                    ]),
                output: directory.file("server.log"))
            let server = PostgresServer(directory: directory, process: process, asRoot: asRoot)
            let ready = await eventually(timeout: .seconds(120), interval: .milliseconds(100)) {
                guard process.isRunning else { return true }
                let answer = try? await ChildProcess.run(
                    Self.binaries + "/pg_isready", ["-h", directory.path, "-p", "\(port)", "-U", user, "-d", "postgres"])
                return answer?.status == 0
            }
            guard ready, process.isRunning else {
                let log = (try? String(contentsOfFile: directory.file("server.log"), encoding: .utf8)) ?? ""
                await server.stop()
                throw ConformanceFailure("PostgreSQL did not become ready in \(directory.path): \(log)")
            }
            return server
        } catch {
            directory.remove()
            throw error
        }
    }

    private init(directory: TemporaryDirectory, process: ChildProcess, asRoot: Bool) {
        self.directory = directory
        socketDirectory = directory.path
        self.process = process
        self.asRoot = asRoot
    }

    private static func command(_ asRoot: Bool, _ program: String, _ arguments: [String]) -> [String] {
        (asRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []) + [binaries + "/" + program] + arguments
    }

    /// Creates database `name` (owned by ``user``).
    public func createDatabase(_ name: String) async throws {
        let (status, output) = try await ChildProcess.run(
            Self.binaries + "/createdb", ["-h", socketDirectory, "-p", "\(Self.port)", "-U", Self.user, name])
        guard status == 0 else { throw ConformanceFailure("createdb \(name): \(output)") }
    }

    /// Runs `sql` with `psql` in database `name` and returns what it printed (unaligned, tuples only).
    public func psql(_ database: String, _ sql: String) async throws -> String {
        let (status, output) = try await ChildProcess.run(
            Self.binaries + "/psql",
            ["-h", socketDirectory, "-p", "\(Self.port)", "-U", Self.user, "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard status == 0 else { throw ConformanceFailure("psql \(database): \(sql): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server (fast shutdown: open sessions are ended) and removes its directory.
    public func stop() async {
        await process.stop(SIGINT)
        directory.remove()
    }
}
