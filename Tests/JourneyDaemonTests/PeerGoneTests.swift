import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Testing

/// Peers that leave before reading what the daemon writes them. Each costs a failed write (`EPIPE`),
/// never the daemon: SIGPIPE's default action would end it (exit 141), and a daemon started from a
/// shell, not by systemd, has that default.
@Suite("Daemon peers that leave")
struct PeerGoneTests {
    @Test func aProducerThatClosesBeforeItsAnswersCostsTheDaemonNothing() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let socketPath = fixture.root + "/events.sock"
        let daemon = try fixture.startLiveDaemon(extra: ["--socket", socketPath])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: socketPath) })
        let now = WallClock().now.iso8601
        @Sendable func lines(_ range: Range<Int>) -> [String] {
            range.map { #"{"type":"track","userId":"u\#($0)","event":"app_open","messageId":"gone-\#($0)","timestamp":"\#(now)"}"# }
        }
        // Three producers write their events and close at once: the answers (sent only once the events
        // are logged and synced) find nobody to read them. 5,000 lines are more than the socket holds, so
        // the first answers are written while a producer still sends, and fail once it has gone with
        // lines still unread.
        for round in 0..<3 {
            try await offThread {
                let fd = try connectUnixSocket(socketPath)
                #expect(sendAll(Array((lines(round * 5000..<(round + 1) * 5000).joined(separator: "\n") + "\n").utf8), to: fd))
                close(fd)
            }
        }
        // A producer that stays is answered, event by event: the daemon is still there.
        let answers = try await offThread { try exchange(lines(15000..<15010), at: socketPath) }
        #expect(answers.count == 10 && answers.allSatisfy { $0.hasPrefix("ok ") }, "\(answers)")
        #expect(daemon.isRunning, "\(fixture.log.suffix(2000))")
        // `journeyd status` that hangs up before the answer costs nothing either.
        let control = fixture.root + "/state/control.sock"
        for _ in 0..<3 {
            try await offThread {
                let fd = try connectUnixSocket(control)
                sendAll(Array("status\n".utf8), to: fd)
                close(fd)
            }
        }
        #expect(await daemon.stop() == 0, "\(fixture.log.suffix(2000))")
        // Every event of the producers that left was read and applied all the same: a failed answer
        // drops the answers, not the rest of what the producer sent.
        #expect(fixture.log.contains("journeyd stopped: 15010 events"), "\(fixture.log.suffix(2000))")
    }
}
