import Foundation
import JourneyPostgres
import JourneyTesting
import Testing

/// One PostgreSQL server for a whole suite (`@Suite(.sharedPostgres)`): started before its first test,
/// stopped and removed after its last. Each test takes a database of its own (``database()``).
struct SharedPostgres: SuiteTrait, TestScoping {
    @TaskLocal static var server: PostgresServer?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try await PostgresServer.start()
        do {
            try await Self.$server.withValue(server) { try await function() }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// A fresh database on the suite's server, and the configuration that reaches it.
    static func database() async throws -> PostgresStoreConfiguration {
        let server = try #require(server, "the suite needs the .sharedPostgres trait")
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await server.createDatabase(String(name))
        return PostgresStoreConfiguration(endpoint: .unixSocket(path: server.socketPath), database: String(name), user: PostgresServer.user)
    }
}

extension Trait where Self == SharedPostgres {
    static var sharedPostgres: Self { Self() }
}
