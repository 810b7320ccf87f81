import JourneyNATS
import JourneyTesting
import Testing

/// One `nats-server` for a whole suite (serialized), started before its first test and ended, with its
/// storage deleted, after its last. Tests reach it through ``current``.
struct SharedNATSServer: SuiteTrait, TestScoping {
    @TaskLocal static var current: NATSServer?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try await NATSServer.start()
        do {
            try await Self.$current.withValue(server) { try await function() }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// The suite's server.
    static var server: NATSServer {
        get throws { try #require(current, "the suite has the .natsServer trait") }
    }
}

extension Trait where Self == SharedNATSServer {
    static var natsServer: Self { SharedNATSServer() }
}

/// The suite's stream: `JOURNEYD` with 4 partitions (streams' subjects may not overlap on one server,
/// so every test of a suite uses the same stream).
func openStream(_ url: String, partitions: Int = 4, duplicateWindow: Duration = .seconds(120)) throws -> JetStreamStream {
    let connection = try NATSConnection(url: url)
    return try JetStreamStream(connection: connection, options: .init(partitions: partitions, duplicateWindow: duplicateWindow))
}
