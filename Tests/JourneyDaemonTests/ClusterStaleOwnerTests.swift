import Foundation
import JourneyCore
import JourneyTesting
import Testing

/// Deliveries are fenced by the lease (issue 13, gap 12 of docs/CLUSTER-RUNTIME-STATUS.md): an instance
/// frozen past its lease (SIGSTOP, as a long GC-less pause or a starved process would be) while the other
/// takes its partitions over must send nothing when it wakes, even if its ownership loop does not notice
/// the lapse (`JOURNEYD_FAULT_KEEP_LAPSED_PARTITIONS=1`: the loop never stops a lapsed partition, so the
/// stale partitions go on reading the events published meanwhile and making their touches). Without the
/// fence those touches go out twice on the channel without keys — once from each owner.
@Suite("Cluster stale owner", .serialized)
struct ClusterStaleOwnerTests {
    @Test(.timeLimit(.minutes(10)))
    func anOwnerWhoseLeaseLapsedSendsNothingWhenItWakes() async throws {
        let partitions = 4
        let fixture = try DaemonFixture(events: 4000, files: 0, seed: 23)
        defer { fixture.remove() }
        let receiver = try await ClusterReceiver.start(fixture)
        defer { receiver.stop() }
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: partitions, ttl: "2s")
            let (a, socketA) = try peers.startInstance("a", fixture)
            defer { a.signal(SIGKILL) }
            let (b, _) = try peers.startInstance("b", fixture, environment: ["JOURNEYD_FAULT_KEEP_LAPSED_PARTITIONS": "1"])
            defer {
                b.signal(SIGCONT)
                b.signal(SIGKILL)
            }
            let spread = await eventually(timeout: .seconds(120)) { await peers.leaseCounts() == ["a": 2, "b": 2] }
            let leases = await peers.leaseCounts()
            #expect(spread, "\(leases)")
            #expect(await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: socketA) })
            let lines = try fixture.eventLines()
            let half = lines.count / 2
            let first = Array(lines[..<half]), second = Array(lines[half...])
            let answered = try await offThread { try exchange(first, at: socketA) }
            #expect(answered.count == first.count && answered.allSatisfy { $0.hasPrefix("ok ") })
            // b freezes with its two partitions; a takes them over once their leases expire.
            b.signal(SIGSTOP)
            #expect(await eventually(timeout: .seconds(60), interval: .milliseconds(50)) { await peers.everyPartitionLive(partitions, without: "b", fixture: fixture) })
            // The second half arrives while b is frozen: in b's old partitions only a may act on it.
            let rest = try await offThread { try exchange(second, at: socketA) }
            #expect(rest.count == second.count && rest.allSatisfy { $0.hasPrefix("ok ") })
            b.signal(SIGCONT)
            let expected = TouchKey.parse(try replayedTouches(fixture, partitions: partitions))
            #expect(!expected.isEmpty)
            await peers.settle(receiver, expecting: expected)
            // b woke with partitions it no longer owns and went on reading them (the fault hook): it fenced its deliveries.
            let noticed = await eventually(timeout: .seconds(60)) { ClusterRebalanceTests.logLines(fixture, "b").contains { $0.contains("no delivery starts from here on") } }
            #expect(noticed, "\(ClusterRebalanceTests.logLines(fixture, "b").suffix(30))")
            await pause(.seconds(3))  // what b might still send would arrive now
            b.signal(SIGKILL)
            _ = await b.exit()
            #expect(await a.stop() == 0)
            let tally = receiver.tally(expected: expected, inDoubt: try await peers.inDoubt())
            let fenced = ClusterRebalanceTests.logLines(fixture, "b").filter { $0.contains("no delivery starts from here on") }.count
            print("cluster stale owner: \(expected.count) touches in the replay, b fenced \(fenced) partitions' deliveries; \(tally)")
            #expect(tally.holds, "\(tally)")
            #expect(tally.plainActed > 0)
            try await peers.expectCommitsInTokenOrder(partitions: partitions)
        }
    }
}

extension ClusterPeers {
    /// How many live leases (by the database's clock) each instance holds.
    func leaseCounts() async -> [String: Int] {
        let rows = (try? await postgres.psql("journeyd", "SELECT owner, count(*) FROM partition_leases WHERE expires_at > now() GROUP BY owner")) ?? ""
        var result: [String: Int] = [:]
        for row in rows.split(separator: "\n") {
            let f = row.split(separator: "|")
            if f.count == 2 { result[String(f[0])] = Int(f[1]) }
        }
        return result
    }
}
