import Foundation
import JourneyCore
import JourneyTesting
import Testing

/// In cluster mode an instance's spool and tail positions are its own, kept in PostgreSQL under its name
/// (`instance_positions`): a restarted instance reads its tailed file on from the last durable batch,
/// not from the start (which published every earlier event again).
@Suite("Cluster input positions", .serialized)
struct ClusterInputPositionsTests {
    @Test(.timeLimit(.minutes(10)))
    func aRestartedInstanceReadsItsTailedFileOnFromWhereItWasNotAgain() async throws {
        let fixture = try DaemonFixture(events: 3000, files: 0, seed: 11)
        defer { fixture.remove() }
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: 2)
            let tailed = fixture.root + "/events.jsonl"
            let lines = try fixture.eventLines()
            let (first, second) = (lines[..<1800], lines[1800...])
            let firstBytes = first.joined(separator: "\n") + "\n"
            try firstBytes.write(toFile: tailed, atomically: false, encoding: .utf8)
            let control = fixture.root + "/a/control.sock"
            let key = "tail/\(tailed)"
            func storedOffset() async -> Int? {
                Int((try? await peers.postgres.psql("journeyd", "SELECT position FROM instance_positions WHERE instance = 'a' AND source = '\(key)'")) ?? "")
            }

            // The first run reads the first 1,800 events; its position reaches the file's end in PostgreSQL.
            let (run1, _) = try peers.startInstance("a", fixture, arguments: ["--tail", tailed])
            var killed = false
            defer { if !killed { run1.signal(SIGKILL) } }
            #expect(await eventually(timeout: .seconds(120)) { await storedOffset() == firstBytes.utf8.count })
            let inode = try #require(try FileManager.default.attributesOfItem(atPath: tailed)[.systemFileNumber] as? Int)
            #expect(try await peers.postgres.psql("journeyd", "SELECT position FROM instance_positions WHERE instance = 'a' AND source = '\(key)#inode'") == "\(inode)")
            // Killed without a chance to say anything; the rest of the events are written while it is down.
            run1.signal(SIGKILL)
            killed = true
            await run1.exit()
            let handle = try #require(FileHandle(forWritingAtPath: tailed))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((second.joined(separator: "\n") + "\n").utf8))
            try handle.close()
            let total = try #require(try FileManager.default.attributesOfItem(atPath: tailed)[.size] as? Int)

            // The second run starts at the stored offset: it publishes the other 1,200 and nothing again.
            let (run2, _) = try peers.startInstance("a", fixture, arguments: ["--tail", tailed])
            defer { run2.signal(SIGKILL) }
            #expect(await eventually(timeout: .seconds(120)) { await storedOffset() == total })
            let expected = try replayedTouches(fixture, partitions: 2)
            #expect(!expected.isEmpty)
            #expect(await eventually(timeout: .seconds(120)) { Set(ClusterPeers.delivered(fixture, instances: ["a"])).count >= Set(expected).count })
            let delivered = Set(ClusterPeers.delivered(fixture, instances: ["a"]))
            let (extra, missing) = (delivered.subtracting(expected), Set(expected).subtracting(delivered))
            #expect(extra.isEmpty && missing.isEmpty, "\(extra.count) touches the replay does not make, \(missing.count) missing; first: \(extra.first ?? missing.first ?? "")")
            let status = try await ClusterPeers.status(control: control)
            #expect(status["duplicates"] as? Double == 0, "no event of the first run was published again: \(status)")
            let log = (try? String(contentsOfFile: fixture.root + "/a.log", encoding: .utf8)) ?? ""
            #expect(!log.contains("input position"), "no position failed to be kept: \(ClusterPeers.ownershipRecords(fixture, instances: ["a"]))")
            #expect(await run2.stop() == 0)
        }
    }
}
