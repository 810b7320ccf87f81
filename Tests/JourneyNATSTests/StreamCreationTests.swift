import Foundation
import JourneyNATS
import JourneyTesting
import Testing

/// Instances of a new cluster start together (`systemctl start journeyd@a journeyd@b`): each finds no
/// stream and creates it. Every one of them must end up with the stream, whoever won. (A race: without the
/// fix an idle machine fails it within a few dozen servers; a busy one may let all 100 pass.)
@Suite("JetStream stream creation")
struct StreamCreationTests {
    @Test func instancesCreatingTheStreamAtOnceAllOpenIt() async throws {
        for _ in 0..<100 {
            let server = try await NATSServer.start()
            let url = server.url
            // Connections first, so the four threads ask for the stream as close together as they can.
            let connections = try await offThread { try (0..<4).map { _ in try NATSConnection(url: url) } }
            let seen = await withTaskGroup(of: String?.self) { group in
                for connection in connections {
                    group.addTask {
                        await offThread { () -> String? in
                            do {
                                let stream = try JetStreamStream(connection: connection, options: .init(partitions: 8))
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
