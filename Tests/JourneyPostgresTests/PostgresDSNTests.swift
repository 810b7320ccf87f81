import JourneyCore
import JourneyPostgres
import JourneyTesting
import Testing

@Suite(.serialized, .sharedPostgres)
struct PostgresDSNTests {
    @Test func aDSNIsReadWithoutShowingItsPassword() throws {
        let tcp = try PostgresStoreConfiguration(dsn: "postgresql://jd:s%40cret@db.example:6543/journeyd?sslmode=require&application_name=web-1")
        #expect(tcp.endpoint == .tcp(host: "db.example", port: 6543) && tcp.database == "journeyd" && tcp.user == "jd")
        #expect(tcp.tls == .require(caFile: nil) && tcp.applicationName == "web-1")
        #expect(tcp.address == "postgresql://jd@db.example:6543/journeyd")
        let socket = try PostgresStoreConfiguration(dsn: "postgresql://jd@/journeyd?host=/run/postgresql")
        #expect(socket.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432") && socket.tls == .disable)
        for (dsn, reason) in [
            ("mysql://u@h/db", "expected a URI"), ("postgresql://u:hunter2@h/db?sslmode=maybe", "sslmode \"maybe\""),
            ("postgresql://u:hunter2@h/db?pool=3", "unknown parameter \"pool\""), ("postgresql://u:hunter2@h/", "names no database"),
        ] {
            let error = #expect(throws: StoreError.self) { try PostgresStoreConfiguration(dsn: dsn) }
            #expect("\(error!)".contains(reason), "\(error!)")
            #expect(!"\(error!)".contains("hunter2"), "the password is never repeated")
        }
    }

    @Test func aStoreOpensThroughADSN() async throws {
        let server = try #require(SharedPostgres.server)
        let database = try await SharedPostgres.database().database
        let configuration = try PostgresStoreConfiguration(dsn: "postgresql://\(PostgresServer.user)@/\(database)?host=\(server.socketDirectory)&port=\(server.port)")
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        #expect(try await offThread { try store.restore(partition: 0) }.logSequence == 0)
    }

    /// The path instances on other machines take: TCP, TLS preferred (this server has none, so the
    /// connection stays plain), and refused when TLS is required.
    @Test func aStoreOpensOverTCP() async throws {
        let server = try #require(SharedPostgres.server)
        let database = try await SharedPostgres.database().database
        let configuration = try PostgresStoreConfiguration(dsn: "postgresql://\(PostgresServer.user)@127.0.0.1:\(server.port)/\(database)")
        #expect(configuration.tls == .prefer)
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        #expect(try await offThread { try store.restore(partition: 0) }.logSequence == 0)
        let strict = try PostgresStoreConfiguration(dsn: "postgresql://\(PostgresServer.user)@127.0.0.1:\(server.port)/\(database)?sslmode=require")
        let error = await #expect(throws: StoreError.self) { try await offThread { try PostgresCheckpointStore(strict) } }
        #expect("\(error!)".contains("postgresql://journeyd@127.0.0.1:\(server.port)/\(database)"), "\(error!)")
    }
}
