import Foundation
import JourneyCore
import JourneyTesting
import Testing

/// The stall watchdog per owned partition: one instance, P = 2, `cluster.stall_after: 3s`, and partition
/// 0's first follower reading nothing (`JOURNEYD_FAULT_STALL_FOLLOWER=0`) while events are published to
/// it — a real stall: the lease is renewed, the subject grows, nothing is applied. The watchdog reports it
/// (log, `journeyd_cluster_partition_stalls_total`, status `partition_stalls`) and lets the partition
/// go; the instance's next turn takes it again and reads on, so the touches equal the replay.
@Suite("Cluster stall watchdog", .serialized)
struct ClusterStallTests {
    @Test(.timeLimit(.minutes(10)))
    func aStalledPartitionIsReportedAndStartedAgain() async throws {
        let fixture = try DaemonFixture(events: 3000, files: 0, seed: 21)
        defer { fixture.remove() }
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: 2, ttl: "2s", stallAfter: "3s")
            let (instance, socket) = try peers.startInstance("a", fixture, environment: ["JOURNEYD_FAULT_STALL_FOLLOWER": "0"])
            defer { instance.signal(SIGKILL) }
            #expect(await eventually(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: socket) })
            let lines = try fixture.eventLines()
            let sent = ContinuousClock.now
            let answers = try await offThread { try exchange(lines, at: socket) }
            #expect(answers.count == lines.count && answers.allSatisfy { $0.hasPrefix("ok ") })
            func log() -> [String] { ((try? String(contentsOfFile: fixture.root + "/a.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
            #expect(await eventually(timeout: .seconds(60)) { log().contains { $0.contains("partition 0 stalled") } }, "\(log().suffix(30))")
            let reported = ContinuousClock.now - sent
            let expected = try replayedTouches(fixture, partitions: 2)
            #expect(!expected.isEmpty)
            #expect(await eventually(timeout: .seconds(120)) { ClusterPeers.delivered(fixture, instances: ["a"]).count >= expected.count })
            #expect(ClusterPeers.delivered(fixture, instances: ["a"]).sorted() == expected)
            let (code, output) = try await ChildProcess.run(journeydBinary, ["status", "--json", "--control", fixture.root + "/a/control.sock"])
            #expect(code == 0, "\(output)")
            let line = output.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init) ?? "{}"
            let status = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            #expect(status["partition_stalls"] as? Double == 1, "\(status)")
            #expect("\(status["metrics"] ?? "")".contains("journeyd_cluster_partition_stalls_total"), "\(status)")
            #expect((status["partitions"] as? String)?.hasPrefix("2 of 2") == true, "\(status)")
            print("cluster stall: partition 0 reported stalled \(reported) after the events were sent (stall_after 3s); \(expected.count) touches as replayed")
            #expect(await instance.stop() == 0)
            #expect(!log().contains { $0.contains("did not stop within") })
        }
    }
}
