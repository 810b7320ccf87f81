import Foundation
import JourneyCore
import JourneyDaemon
import JourneyRules
import JourneySimulation
import JourneyStore
import JourneyTesting
import Synchronization
import Testing

/// Issue 9's reload-under-load test on the real binary: a hundred reloads, every other one invalid,
/// while a producer streams events into the socket at 10,000 a second. The daemon runs on event time,
/// so what it delivers can be compared with `journeyd replay` of the events it acknowledged: a reload
/// that lost an event, dropped a waiting enrollment's timer or applied something twice shows up as a
/// difference in the touches.
@Suite("Daemon reload under load", .serialized)
struct ReloadUnderLoadTests {
    static let reloads = 100
    static let rate = 10_000
    /// Reloads start at most this often, so the hundred spread over several seconds of streaming.
    static let reloadSpacing = Duration.milliseconds(80)

    @Test func aHundredReloadsHalfInvalidAtTenThousandEventsASecondLoseNothing() async throws {
        // The reloads follow one another every 80 ms (or as fast as the daemon answers, if slower) while
        // the producer streams from a pool of events; it stops once the last reload is answered (or the
        // pool runs out: on a slow machine fewer reloads overlap the stream, and the test says how many),
        // and replay gets exactly the prefix that was sent.
        let fixture = try DaemonFixture(events: 120_000, files: 0, seed: 29)
        defer { fixture.remove() }
        let pool = try fixture.eventLines()
        let socketPath = fixture.root + "/events.sock"
        let control = fixture.root + "/state/control.sock"
        let daemon = try ChildProcess(
            journeydBinary,
            ["run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--socket", socketPath, "--clock", "event"],
            output: fixture.root + "/daemon.log")
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: socketPath) && FileManager.default.fileExists(atPath: control) })

        let producer = try PacedProducer(path: socketPath, lines: pool, perSecond: Self.rate)
        let streaming = Task.detached { producer.run() }
        var refused = 0
        var duringStream = 0
        for round in 1...Self.reloads {
            try await Task.sleep(for: Self.reloadSpacing)
            let valid = round % 2 == 0
            try fixture.install(Self.extraJourney(round: round, valid: valid), at: "journeys/extra.yaml")
            let answer = try await offThread { try askDaemon("reload", controlSocket: control) }
            if producer.isStreaming { duringStream += 1 }
            if valid {
                #expect(answer.contains(#""ok":true"#), "round \(round): \(answer)")
            } else {
                refused += 1
                #expect(answer.contains(#""ok":false"#) && answer.contains("journeys/extra.yaml:5:11: steps[0].wait"), "round \(round): \(answer)")
            }
        }
        producer.stop()
        let sent = await streaming.value
        #expect(await eventually(timeout: .seconds(600)) { producer.acknowledged == sent })
        daemon.signal()
        #expect(await daemon.exit() == 0)
        #expect(refused == Self.reloads / 2)
        #expect(fixture.log.components(separatedBy: "rules reload refused: 1 error").count - 1 == refused)
        #expect(fixture.log.contains("journeyd stopped: \(sent) events"), "\(fixture.log.split(separator: "\n").last ?? "")")

        // The rest of event time, then the comparison with replay of exactly what was acknowledged.
        #expect(try await fixture.runToCompletion(until: DaemonFixture.end) == 0)
        try (pool.prefix(sent).joined(separator: "\n") + "\n").write(toFile: fixture.root + "/all.jsonl", atomically: true, encoding: .utf8)
        let delivered = try fixture.deliveredTouches()
        let expected = try fixture.expectedTouches()
        #expect(Set(delivered).count == delivered.count, "a touch was delivered twice")
        #expect(delivered.sorted() == expected, "delivered \(delivered.count) touches, replay of the \(sent) acknowledged events says \(expected.count)")
        #expect(try SQLiteCheckpointStore(path: fixture.state).integrityCheck() == "ok")
        print("reload under load: \(Self.reloads) reloads (\(refused) refused, \(duringStream) while events streamed) over \(sent) events at up to \(Self.rate)/s; \(delivered.count) touches equal replay's")
    }

    /// A journey no event of the stream triggers, so a valid reload changes the rule set (one journey
    /// added or changed) without changing what the stream's users get; the invalid one has a bad wait.
    static func extraJourney(round: Int, valid: Bool) -> String {
        """
        journey: extra
        description: round \(round)
        trigger: { event: reload_probe }
        steps:
          - wait: \(valid ? "2h" : "two hours")
          - send: email
            template: cart_reminder
        """
    }
}

/// Streams lines into a Unix socket at a steady rate from its own thread, counting the `ok` answers
/// another thread reads back, until told to stop or out of lines.
final class PacedProducer: Sendable {
    private let fd: Int32
    private let lines: [String]
    private let perSecond: Int
    private let sentCount = Atomic<Int>(0)
    private let okCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let done = Atomic<Bool>(false)

    init(path: String, lines: [String], perSecond: Int) throws {
        fd = try connectUnixSocket(path)
        self.lines = lines
        self.perSecond = perSecond
        Thread.detachNewThread { [self] in readAnswers() }
    }

    var sent: Int { sentCount.load(ordering: .acquiring) }
    var acknowledged: Int { okCount.load(ordering: .acquiring) }
    var isStreaming: Bool { !done.load(ordering: .acquiring) }
    func stop() { stopping.store(true, ordering: .releasing) }

    /// Sends in slices of 10 ms until stopped or out of lines; returns how many lines were sent.
    func run() -> Int {
        let start = DispatchTime.now().uptimeNanoseconds
        var index = 0
        while index < lines.count, !stopping.load(ordering: .acquiring) {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let due = min(lines.count, Int(elapsed * Double(perSecond)) + 1)
            if due > index {
                let payload = Array((lines[index..<due].joined(separator: "\n") + "\n").utf8)
                guard writeAll(payload) else { break }
                index = due
                sentCount.store(index, ordering: .releasing)
            }
            usleep(10_000)
        }
        done.store(true, ordering: .releasing)
        shutdown(fd, Int32(SHUT_WR))
        return index
    }

    private func writeAll(_ payload: [UInt8]) -> Bool {
        var written = 0
        while written < payload.count {
            let n = payload.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            guard n > 0 else { return false }
            written += n
        }
        return true
    }

    private func readAnswers() {
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var partial: [UInt8] = []
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            partial += buffer[0..<n]
            guard let last = partial.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            let text = String(decoding: partial[...last], as: UTF8.self)
            partial.removeSubrange(...last)
            okCount.add(text.split(separator: "\n").count { $0.hasPrefix("ok ") }, ordering: .releasing)
        }
    }
}
