import Foundation
import JourneyCore
import JourneyStore
import JourneyTesting
import Synchronization
import Testing

/// Crash safety through the HTTP input: the daemon is SIGKILLed at random moments while a client posts
/// batches, the way Segment's clients do — a batch without a `200` is sent again, to the next daemon.
/// Every batch that got a `200` is applied exactly once, and the resent ones are recognized as duplicates.
@Suite("HTTP input under SIGKILL", .serialized)
struct HTTPCrashTests {
    /// The daemon of the moment, shared by the client and the killer.
    final class Incarnation: Sendable {
        private let current = Mutex<ChildProcess?>(nil)
        let fixture: DaemonFixture
        let port: UInt16

        init(fixture: DaemonFixture, port: UInt16) {
            self.fixture = fixture
            self.port = port
        }

        /// Starts a daemon unless one runs.
        func ensureRunning() throws {
            try current.withLock { process in
                if let running = process, running.isRunning { return }
                process = try fixture.startLiveDaemon(extra: [
                    "--http", "127.0.0.1:\(port)", "--clock", "event", "--batch", "64",
                ])
            }
        }

        /// SIGKILLs the running daemon; true when there was one.
        func kill() async -> Bool {
            guard let process = current.withLock({ $0 }), process.isRunning else { return false }
            _ = await process.stop(SIGKILL)
            return true
        }

        /// SIGKILLs whatever runs, without waiting (the test's cleanup).
        func killNow() {
            current.withLock { $0?.signal(SIGKILL) }
        }

        /// Stops the last daemon gracefully and returns its exit status.
        func stop() async -> Int32? {
            guard let process = current.withLock({ $0 }) else { return nil }
            return await process.stop()
        }
    }

    @Test func killedWhileClientsPostEveryAnsweredBatchIsAppliedExactlyOnce() async throws {
        let fixture = try DaemonFixture(events: 6000, files: 0, seed: 31)
        defer { fixture.remove() }
        let expected = try fixture.expectedTouches()
        try "wk-crash\n".write(toFile: fixture.rules + "/crash.key", atomically: true, encoding: .utf8)
        try "inputs:\n  http:\n    sources:\n      - { name: shop, key_file: crash.key }\n"
            .write(toFile: fixture.rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        let lines = try fixture.eventLines()
        let batches = stride(from: 0, to: lines.count, by: 100).map { Array(lines[$0..<min(lines.count, $0 + 100)]) }

        let daemon = Incarnation(fixture: fixture, port: freePort())
        defer { daemon.killNow() }
        try daemon.ensureRunning()
        // The client: each batch until it is answered 200, as Segment's clients retry. Every fifth batch
        // (on average, on its first attempt) a killer SIGKILLs the daemon 0–60 ms into the request: before, while or after the
        // batch is made durable, or while the answer is on its way.
        var random = SplitMix(seed: 77)
        var attempts = 0
        var answered = 0
        var kills = 0
        for batch in batches {
            let body = Array((#"{"batch":["# + batch.joined(separator: ",") + "]}").utf8)
            var first = true
            while true {
                attempts += 1
                try daemon.ensureRunning()
                let killer: Task<Bool, Never>? =
                    first && random.next() % 5 == 0
                    ? Task { [delay = Int64(random.next() % 60)] in
                        await pause(.milliseconds(delay))
                        return await daemon.kill()
                    } : nil
                let answer = try? await HTTPExchange.send(
                    "POST", "/v1/batch", port: daemon.port, headers: [HTTPExchange.basic("wk-crash"), ("Content-Type", "application/json")],
                    body: body)
                if let killer, await killer.value { kills += 1 }
                first = false
                if let answer, answer.status == 200 {
                    #expect(answer.body == #"{"success":true}"#, "\(answer.body)")
                    answered += 1
                    break
                }
                // No answer (killed, or not listening yet) or 503 (stopping): the client sends it again.
                if let answer { #expect(answer.status == 503, "\(answer.status) \(answer.body)") }
                await pause(.milliseconds(20))
            }
        }
        try daemon.ensureRunning()
        #expect(await eventually { await statusEvents(fixture) >= 0 })
        #expect(await daemon.stop() == 0)
        #expect(try await fixture.runToCompletion(until: DaemonFixture.end) == 0)

        let delivered = try fixture.deliveredTouches()
        #expect(answered == batches.count)
        #expect(kills >= 5, "\(kills) kills")
        #expect(Set(delivered).count == delivered.count, "a touch was delivered twice")
        #expect(delivered.sorted() == expected, "delivered \(delivered.count) touches, replay says \(expected.count)")
        let store = try SQLiteCheckpointStore(path: fixture.state)
        #expect(try store.integrityCheck() == "ok")
        print("HTTP crash test: \(kills) SIGKILLs, \(attempts) requests for \(batches.count) batches; \(delivered.count) touches, none lost or doubled")
    }
}
