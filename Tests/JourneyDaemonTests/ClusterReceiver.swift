import Foundation
import JourneyTesting
import Testing

/// The provider side of the cluster tests: Peers/keyed_receiver.py on a loopback port. The fixture's
/// `email` channel posts to `/keyed`, which honours the `Idempotency-Key` (a repeat is answered and not
/// acted on); `wecom` posts to `/plain`, a receiver without keys (journeyd holds its interrupted touches
/// as `in_doubt`). What the receiver acted on is what a user would have got.
struct ClusterReceiver {
    let process: ChildProcess
    let log: String

    /// Starts the receiver and points the fixture's channels at it (the `repurchase` journey sends
    /// through `wecom` here, so both channels carry a share of the touches). Stop it with SIGKILL (the test
    /// runner's children inherit an ignored SIGTERM). `delay`: how long each answer takes; `concurrency`:
    /// the channels' deliveries in flight per partition (a slow provider keeps touches waiting in the outbox).
    static func start(_ fixture: DaemonFixture, delay: Duration = .zero, concurrency: Int = 16) async throws -> ClusterReceiver {
        let portFile = fixture.root + "/receiver.port"
        let log = fixture.root + "/received.jsonl"
        let process = try ChildProcess(
            "/usr/bin/env",
            ["python3", repositoryRoot + "/Tests/JourneyDaemonTests/Peers/keyed_receiver.py", portFile, log, "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)"])
        #expect(await eventually(timeout: .seconds(30)) { FileManager.default.fileExists(atPath: portFile) })
        let port = try String(contentsOfFile: portFile, encoding: .utf8)
        let retry = "retry: { initial: 200ms, multiplier: 2, jitter: 0, max_attempts: 50 }, concurrency: \(concurrency)"
        try """
        channels:
          - { name: email, type: webhook, url: "http://127.0.0.1:\(port)/keyed", allow_private: true, receiver_deduplicates: true, \(retry) }
          - { name: wecom, type: webhook, url: "http://127.0.0.1:\(port)/plain", allow_private: true, receiver_deduplicates: false, \(retry) }
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)
        let journey = fixture.rules + "/journeys/repurchase.yaml"
        try String(contentsOfFile: journey, encoding: .utf8).replacingOccurrences(of: "send: email", with: "send: wecom")
            .write(toFile: journey, atomically: true, encoding: .utf8)
        return ClusterReceiver(process: process, log: log)
    }

    func stop() { process.signal(SIGKILL) }

    /// The requests so far, one per line of the receiver's log.
    var requests: [Request] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let touch = object["touch"] as? [String: Any]
            else { return nil }
            return Request(
                path: object["path"] as? String ?? "", acted: object["acted"] as? Bool ?? false,
                conflict: object["conflict"] as? Bool ?? false, touch: TouchKey(touch))
        }
    }

    /// Waits until every keyed touch of `expected` was acted on and nothing more arrived for 2 s.
    func settle(expecting expected: [TouchKey], timeout: Duration = .seconds(300)) async {
        let keyed = expected.filter { $0.channel == "email" }.count
        _ = await eventually(timeout: timeout) { requests.filter { $0.path == "/keyed" && $0.acted }.count >= keyed }
        var last = -1
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let count = requests.count
            if count == last { return }
            last = count
            await pause(.seconds(2))
        }
    }

    struct Request {
        let path: String
        let acted: Bool
        let conflict: Bool
        let touch: TouchKey
    }

    /// What the receiver saw against what replay says, per channel. `inDoubt`: the touch ids the outbox
    /// holds as `in_doubt` at the end.
    func tally(expected: [TouchKey], inDoubt: Set<String>) -> Tally {
        let requests = requests
        var tally = Tally()
        let keyedExpected = Set(expected.filter { $0.channel == "email" })
        let plainExpected = Set(expected.filter { $0.channel == "wecom" })
        let keyed = requests.filter { $0.path == "/keyed" }
        let keyedActed = keyed.filter(\.acted).map(\.touch)
        tally.keyedActed = keyedActed.count
        tally.keyedRepeats = keyed.count - keyedActed.count
        tally.conflicts = keyed.filter(\.conflict).count
        tally.keyedLost = keyedExpected.subtracting(keyedActed).count
        tally.unexpected = Set(keyedActed).subtracting(keyedExpected).count
        var plainCounts: [TouchKey: Int] = [:]
        for request in requests where request.path == "/plain" { plainCounts[request.touch, default: 0] += 1 }
        tally.plainActed = plainCounts.count
        tally.plainTwice = plainCounts.values.filter { $0 > 1 }.count
        tally.unexpected += Set(plainCounts.keys).subtracting(plainExpected).count
        let plainIDs = Set(plainCounts.keys.map(\.id))
        let expectedIDs = Dictionary(expected.map { ($0.id, $0.channel) }, uniquingKeysWith: { a, _ in a })
        tally.inDoubt = inDoubt.count
        tally.inDoubtOnKeyed = inDoubt.filter { expectedIDs[$0] == "email" }.count
        tally.plainLost = plainExpected.filter { !plainIDs.contains($0.id) && !inDoubt.contains($0.id) }.count
        return tally
    }

    struct Tally: CustomStringConvertible {
        var keyedActed = 0, keyedRepeats = 0, keyedLost = 0, conflicts = 0
        var plainActed = 0, plainTwice = 0, plainLost = 0
        var inDoubt = 0, inDoubtOnKeyed = 0, unexpected = 0

        var description: String {
            "keyed channel: \(keyedActed) acted on, \(keyedLost) lost, \(keyedRepeats) resends under their key (not acted on), \(conflicts) conflicting; "
                + "channel without keys: \(plainActed) acted on, \(plainTwice) sent twice, \(inDoubt) held in_doubt (\(inDoubtOnKeyed) on the keyed channel), \(plainLost) lost; \(unexpected) not in the replay"
        }

        /// The guarantee: nothing lost, nothing acted on twice, in_doubt only where no key can help.
        var holds: Bool { keyedLost == 0 && conflicts == 0 && plainTwice == 0 && plainLost == 0 && inDoubtOnKeyed == 0 && unexpected == 0 }
    }
}

/// A touch as both replay's lines and the webhook's body name it.
struct TouchKey: Hashable {
    let id, at, user, journey, version, enrollment, step, channel, template: String

    init(_ object: [String: Any]) {
        func field(_ name: String) -> String { object[name] as? String ?? "" }
        (id, at, user, journey, version) = (field("touch_id"), field("at"), field("user"), field("journey"), field("version"))
        (enrollment, step, channel, template) = (field("enrollment"), field("step"), field("channel"), field("template"))
    }

    /// The touches of replay's JSON lines.
    static func parse(_ lines: [String]) -> [TouchKey] {
        lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]).map(TouchKey.init)
        }
    }
}

extension ClusterPeers {
    /// Waits for the deliveries to end: ``ClusterReceiver/settle(expecting:timeout:)``'s quiet period,
    /// then (up to `timeout`) until every touch of `expected` was acted on or is held `in_doubt` — what
    /// the tally requires. On a loaded machine a channel's deliveries can pause longer than the quiet
    /// period (a CI run counted 49 touches still queued as lost); a touch really lost still fails the
    /// tally, after the wait. `in_doubt` is read from the outbox as checkpointed (every 30 s at most).
    func settle(_ receiver: ClusterReceiver, expecting expected: [TouchKey], timeout: Duration = .seconds(90)) async {
        await receiver.settle(expecting: expected)
        _ = await eventually(timeout: timeout, interval: .seconds(1)) {
            let tally = receiver.tally(expected: expected, inDoubt: (try? await self.inDoubt()) ?? [])
            return tally.plainLost == 0 && tally.keyedLost == 0
        }
    }

    /// The touch ids the outbox holds as `in_doubt` (read after the instances stopped).
    func inDoubt() async throws -> Set<String> {
        let rows = try await postgres.psql("journeyd", "SELECT touch_id FROM outbox_entries WHERE state = 'in_doubt'")
        return Set(rows.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }
}

extension ClusterPeers {
    /// Whether every partition is leased (live, by the database's clock) to an instance other than
    /// `victim` that has restored it and gone live under that lease (its log says so).
    func everyPartitionLive(_ partitions: Int, without victim: String, fixture: DaemonFixture) async -> Bool {
        let rows = (try? await postgres.psql("journeyd", "SELECT partition, owner, token FROM partition_leases WHERE expires_at > now()")) ?? ""
        var logs: [String: String] = [:]
        var live = 0
        for row in rows.split(separator: "\n") {
            let f = row.split(separator: "|").map(String.init)
            guard f.count == 3, f[1] != victim else { continue }
            if logs[f[1]] == nil { logs[f[1]] = (try? String(contentsOfFile: fixture.root + "/\(f[1]).log", encoding: .utf8)) ?? "" }
            if logs[f[1]]!.contains("partition \(f[0]) taken over under lease token \(f[2]):") { live += 1 }
        }
        return live == partitions
    }
}
