import Foundation
import JourneyTesting
import Testing

@testable import JourneyNATS

/// Instances of a new cluster start together (`systemctl start journeyd@a journeyd@b`): each finds no
/// stream and creates it. Every one of them must end up with the stream, whoever won.
@Suite("JetStream stream creation")
struct StreamCreationTests {
    /// Deterministic: another instance (with another duplicate window) makes the stream between this one's
    /// lookup and its creation. The server refuses the creation (`stream name already in use`); this
    /// instance opens the other's stream, checks P and sets its own window.
    @Test func anInstanceWhoseCreationLostTheRaceOpensTheWinnersStream() async throws {
        let server = try await NATSServer.start()
        let url = server.url
        let result = await offThread { () -> String in
            do {
                let connection = try NATSConnection(url: url)
                var options = JetStreamStream.Options(partitions: 8, duplicateWindow: .seconds(60))
                options.beforeCreating = {
                    _ = try? JetStreamStream(connection: try NATSConnection(url: url), options: .init(partitions: 8, duplicateWindow: .seconds(300)))
                }
                let stream = try JetStreamStream(connection: connection, options: options)
                return "opened with \(stream.partitions) partitions"
            } catch {
                return "\(error)"
            }
        }
        await server.stop()
        #expect(result == "opened with 8 partitions")
    }

    /// The race itself, as `systemctl start journeyd@a journeyd@b` runs it: four connections creating the
    /// stream at once on fresh servers.
    @Test func instancesCreatingTheStreamAtOnceAllOpenIt() async throws {
        for _ in 0..<25 {
            let server = try await NATSServer.start()
            let url = server.url
            // Connections first, so the four threads ask for the stream as close together as they can.
            let connections = try await offThread { try (0..<4).map { _ in try NATSConnection(url: url) } }
            let seen = await withTaskGroup(of: String?.self) { group in
                for connection in connections {
                    group.addTask {
                        await offThread { () -> String? in
                            do {
                                var options = JetStreamStream.Options(partitions: 8)
                                options.apiWait = 120_000  // beside the whole suite on two cores: not what this test is about
                                let stream = try JetStreamStream(connection: connection, options: options)
                                return stream.partitions == 8 ? nil : "opened with \(stream.partitions) partitions"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                }
                var seen: [String] = []
                for await failure in group { if let failure { seen.append(failure) } }
                return seen
            }
            await server.stop()
            #expect(seen.isEmpty, "\(seen)")
            if !seen.isEmpty { return }
        }
    }
}
