import Foundation
import Glibc
import JourneyTesting
import Testing

/// `journeyd run` in cluster mode under a supervisor's notify socket (systemd's protocol, checked here
/// without systemd; scripts/systemd-test.sh does it under real systemd): READY=1 only once the instance
/// has joined ownership, STATUS= with its partitions, WATCHDOG=1 from the ownership and renewal loops,
/// STOPPING=1 and exit 0 on SIGTERM.
@Suite("Cluster notify", .serialized)
struct ClusterNotifyTests {
    @Test(.timeLimit(.minutes(5)))
    func readyComesAfterJoiningAndTheWatchdogIsPinged() async throws {
        let fixture = try DaemonFixture(events: 10, files: 0, seed: 3)
        defer { fixture.remove() }
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: 2)
            let notifyPath = fixture.root + "/notify.sock"
            let listener = NotifyListener(fd: unixSocket(Int32(SOCK_DGRAM.rawValue), path: notifyPath))
            defer { listener.close() }
            let log = fixture.root + "/a.log"
            let instance = try ChildProcess(
                journeydBinary,
                [
                    "run", "--rules", fixture.rules, "--state", fixture.root + "/a/state.sqlite", "--spool", fixture.root + "/a/spool",
                    "--socket", fixture.root + "/a.sock", "--instance", "a",
                ],
                output: log, environment: ["NOTIFY_SOCKET": notifyPath, "WATCHDOG_USEC": "2000000"])
            defer { instance.signal(SIGKILL) }

            let ready = try #require(await listener.next(within: 120) { $0.hasPrefix("READY=1") })
            // Joined before READY: both partitions leased and live (their "taken over" records are logged
            // before the ownership loop's first turn ends).
            let logAtReady = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(logAtReady.contains("partition 0 taken over") && logAtReady.contains("partition 1 taken over"), "\(logAtReady)")
            #expect(ready.contains("STATUS=instance a: 2 of 2 partitions; 0 events"), "\(ready)")
            // Then WATCHDOG=1 from the ownership and renewal loops and STATUS= every 2 s keep coming. The bound
            // is generous: on a busy machine they come late, and a lease renewed late may move the share the
            // status counts (ownership is not what this test is about).
            var pings = 0
            var status: String?
            _ = await listener.next(within: 120) { text in
                if text == "WATCHDOG=1" { pings += 1 }
                if text.hasPrefix("STATUS=instance a: ") { status = text }
                return pings >= 2 && status != nil
            }
            #expect(pings >= 2, "\(listener.received.map(\.text))")
            #expect(status?.contains(" of 2 partitions; ") == true, "\(listener.received.map(\.text))")

            instance.signal(SIGTERM)
            #expect(await listener.next(within: 60) { $0.hasPrefix("STOPPING=1") } != nil)
            #expect(await instance.exit() == 0)
            // The graceful stop released both leases.
            let live = try await peers.postgres.psql("journeyd", "SELECT count(*) FROM partition_leases WHERE expires_at > now()")
            #expect(live == "0")
        }
    }
}
