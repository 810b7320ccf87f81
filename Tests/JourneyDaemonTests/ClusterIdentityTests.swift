import Foundation
import JourneyCore
import JourneyRules
import JourneySimulation
import JourneyTesting
import Testing

/// Identity across partitions (docs/CLUSTER.md): an `identify` in the known user's partition naming an
/// anonymous id whose events went to another partition joins the two as `journeyd replay` of the whole
/// stream does — through a hand-over of the anonymous state, with the known user's events held until it
/// arrives — on real nats-server and PostgreSQL.
@Suite("Cluster identity", .serialized)
struct ClusterIdentityTests {
    static func partition(_ id: String, of partitions: Int = 2) -> Int {
        var hash = StableHash()
        hash.combine(id)
        return Int(hash.value % UInt64(partitions))
    }

    /// Visitors whose anonymous id and user id fall in different partitions.
    static func visitors(_ count: Int) -> [(anonymous: String, known: String)] {
        Array((0..<500).lazy.map { ("anon-\($0)", "user-\($0)") }.filter { partition($0.0) != partition($0.1) }.prefix(count))
    }

    static func line(_ fields: String, _ id: String, _ time: String) -> String {
        #"{"messageId":"\#(id)","timestamp":"2026-03-01T\#(time):00Z",\#(fields)}"#
    }

    static func cart(_ anonymous: String, _ n: Int) -> String {
        line(#""type":"track","event":"cart_add","anonymousId":"\#(anonymous)","properties":{"price":60,"cart_id":"c\#(n)"}"#, "cart-\(n)", "10:00")
    }

    static func identify(_ known: String, _ anonymous: String, _ n: Int, at time: String = "10:05") -> String {
        line(
            #""type":"identify","userId":"\#(known)","anonymousId":"\#(anonymous)","traits":{"first_name":"Visitor \#(n)","email":"v\#(n)@example.com"}"#,
            "identify-\(n)", time)
    }

    static func purchase(_ fields: String, _ n: Int, at time: String) -> String {
        line(#""type":"track","event":"purchase",\#(fields),"properties":{"total":60}"#, "purchase-\(n)", time)
    }

    /// An event in each partition at noon, so each partition's event time passes the carts' one-hour
    /// waits, as the replay's does.
    static func noon() -> [String] {
        let fillers = (0..<100).lazy.map { "filler-\($0)" }
        return (0..<2).map { p in
            line(#""type":"track","event":"ping","userId":"\#(fillers.first { partition($0) == p }!)""#, "noon-\(p)", "12:00")
        }
    }

    /// `journeyd replay` of the whole stream, one partition, to noon: sorted touch lines.
    static func replayed(_ lines: [String], _ fixture: DaemonFixture) throws -> [String] {
        try (lines.joined(separator: "\n") + "\n").write(toFile: fixture.root + "/all.jsonl", atomically: true, encoding: .utf8)
        let out = fixture.root + "/replay.jsonl"
        let sink = try OutputFile(path: out)
        _ = try Replay.run(
            path: fixture.root + "/all.jsonl", rules: try RuleLoader.load(directory: fixture.rules),
            options: .init(until: Timestamp(iso8601: "2026-03-01T12:00:00Z")), touches: sink, reject: { _ in })
        try sink.close()
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init).sorted()
    }

    /// Waits until the instance owns both partitions and has replayed them: what is sent from then on is
    /// applied live (counted in `journeyd status`), not in a partition's replay at start.
    static func owningBoth(_ control: String) async -> Bool {
        await eventually(timeout: .seconds(120)) {
            ((try? await ClusterPeers.status(control: control))?["partitions"] as? String)?.hasPrefix("2 of 2") == true
        }
    }

    static func checkpointEverySecond(_ fixture: DaemonFixture) throws {
        try fixture.appendSettings("state:\n  checkpoint: { every: 1s }\n")
    }

    static func send(_ lines: [String], _ socket: String) async throws {
        let answers = try await offThread { try exchange(lines, at: socket) }
        #expect(answers.count == lines.count && answers.allSatisfy { $0.hasPrefix("ok ") }, "\(answers)")
    }

    static func reminded(_ touches: [String]) -> Set<String> {
        Set(touches.filter { $0.contains("cart_abandonment") }.compactMap { $0.firstMatch(of: /"user":"([^"]*)"/).map { String($0.output.1) } })
    }

    /// Three visitors fill a cart anonymously and sign up; their ids fall in different partitions. The
    /// first is reminded of the cart as the known user; the second buys in the same batch as the sign-up
    /// (held until the cart arrives, then applied: the purchase ends the moved cart); the third buys
    /// under the anonymous id after signing up (forwarded to the known user's partition).
    @Test(.timeLimit(.minutes(10)))
    func anIdentifyJoinsTheHistoryAnotherPartitionHolds() async throws {
        let fixture = try DaemonFixture(events: 10, files: 0, seed: 9)
        defer { fixture.remove() }
        let v = Self.visitors(3)
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: 2)
            try Self.checkpointEverySecond(fixture)
            let (instance, socket) = try peers.startInstance("a", fixture)
            defer { instance.signal(SIGKILL) }
            #expect(await eventually(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: socket) })
            let control = fixture.root + "/a/control.sock"
            #expect(await Self.owningBoth(control))
            var stream: [String] = []
            func send(_ lines: [String]) async throws {
                stream += lines
                try await Self.send(lines, socket)
            }
            try await send(v.indices.map { Self.cart(v[$0].anonymous, $0) })
            try await send([Self.identify(v[0].known, v[0].anonymous, 0)])
            try await send([Self.identify(v[1].known, v[1].anonymous, 1), Self.purchase(#""userId":"\#(v[1].known)""#, 1, at: "10:06")])
            try await send([Self.identify(v[2].known, v[2].anonymous, 2)])
            #expect(await eventually(timeout: .seconds(60)) {
                (try? await ClusterPeers.status(control: control)["identity_handovers"] as? Double) == 3
            }, "three hand-overs")
            try await send([Self.purchase(#""anonymousId":"\#(v[2].anonymous)""#, 2, at: "10:10")])
            #expect(await eventually(timeout: .seconds(60)) {
                (try? await ClusterPeers.status(control: control)["events_forwarded"] as? Double) == 1
            }, "the anonymous purchase forwarded")
            // A producer's retry of a cart applied before the hand-over is a duplicate where it was applied:
            // not forwarded (the known user's partition never saw its message id).
            try await send([Self.cart(v[0].anonymous, 0)])
            // A visitor whose ids share a partition signs up (merged there); then someone else signs up on the
            // same device, from the other partition: that anonymous id belongs to someone already — nothing
            // to join — and the retry of that sign-up (another record, within JetStream's duplicate window)
            // neither asks again nor leaves the user waiting.
            let local = try #require((0..<500).lazy.map { ("device-\($0)", "member-\($0)") }.first { Self.partition($0.0) == Self.partition($0.1) })
            let other = try #require((500..<600).lazy.map { "user-\($0)" }.first { Self.partition($0) != Self.partition(local.0) })
            try await send([Self.identify(local.1, local.0, 6, at: "10:19")])
            let shared = Self.identify(other, local.0, 7, at: "10:20")
            try await send([shared])
            #expect(await eventually(timeout: .seconds(60)) {
                (try? await ClusterPeers.status(control: control)["merges_not_joined"] as? Double) == 1
            }, "nothing to join")
            try await send([shared, Self.purchase(#""userId":"\#(other)""#, 7, at: "10:21")])
            try await send(Self.noon())
            let expected = try Self.replayed(stream, fixture)
            #expect(Self.reminded(expected) == [v[0].known], "the replay reminds the first visitor only: \(expected)")
            #expect(await eventually(timeout: .seconds(60)) { ClusterPeers.delivered(fixture, instances: ["a"]).sorted() == expected })
            #expect(ClusterPeers.delivered(fixture, instances: ["a"]).sorted() == expected)
            let status = try await ClusterPeers.status(control: control)
            #expect(status["merges_not_joined"] as? Double == 1 && status["ids_handed_over"] as? Double == 3, "\(status)")
            #expect(status["events_forwarded"] as? Double == 1 && status["duplicates"] as? Double == 2, "\(status)")
            let (_, otherStory) = try await ChildProcess.run(journeydBinary, ["explain", other, "--rules", fixture.rules, "--control", control])
            #expect(!otherStory.contains("waits for") && otherStory.contains("purchase"), "\(otherStory)")
            let metrics = status["metrics"] as? [String: Any]
            let handovers = (metrics?["journeyd_cluster_identity_handovers_total"] as? [[String: Any]])?.first?["value"] as? Double
            #expect(handovers == 3, "\(status)")
            // `explain` of the known user (asked of its partition's owner) shows the joined id and the cart's touch
            // (a sent touch stays in memory until the checkpoint holding it is written: listed whenever asked).
            let (explained, story) = try await ChildProcess.run(
                journeydBinary, ["explain", v[0].known, "--rules", fixture.rules, "--control", control])
            #expect(explained == 0, "\(story)")
            #expect(story.contains("ids merged into it: \(v[0].anonymous)") && story.contains("cart_abandonment/remind"), "\(story)")

            // `forget` reaches the person in both partitions: asked of the known user's (the anonymous id's
            // pointer row there and in its own partition go too), or of the anonymous id's (which asks the
            // known user's partition to erase the person).
            func rows(_ n: Int) async -> String {
                let ids = "'\(v[n].known)', '\(v[n].anonymous)'"
                return (try? await peers.postgres.psql("journeyd", "SELECT count(*) FROM user_state WHERE id IN (\(ids))"))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            }
            // The known user, its copy of the anonymous id's pointer, and the pointer in the anonymous partition.
            #expect(await eventually(timeout: .seconds(60)) {
                let (first, second) = (await rows(0), await rows(1))
                return first == "3" && second == "3"
            }, "checkpointed")
            for (n, id) in [(0, v[0].known), (1, v[1].anonymous)] {
                let (status, output) = try await ChildProcess.run(journeydBinary, ["forget", id, "--json", "--control", control])
                #expect(status == 0 && output.contains(#""ids_in_other_partitions":1"#), "\(output)")
                let erased = await eventually(timeout: .seconds(60)) { await rows(n) == "0" }
                let left = await rows(n)
                #expect(erased, "forgetting \(id) erased the person everywhere: \(left) rows left")
            }
            // The anonymous id's later events are refused in its own partition.
            try await Self.send([Self.purchase(#""anonymousId":"\#(v[0].anonymous)""#, 9, at: "12:30")], socket)
            #expect(await eventually(timeout: .seconds(60)) {
                (try? await ClusterPeers.status(control: control)["forgotten_refused"] as? Double) == 1
            }, "the forgotten anonymous id's event is refused")
            #expect(await instance.stop() == 0)
        }
    }

    /// A hold outlives its owner: the anonymous side's partition reads nothing at first (a real stall), so
    /// the known users' identifies wait, checkpointed with their held purchase (and an alias merging one
    /// of them into an account, which waits behind the hand-over); the instance is killed and started
    /// again; the new owner restores the holds from the checkpoint, the other partition answers the
    /// requests it finds in its subject, and the outcome is the replay's.
    @Test(.timeLimit(.minutes(10)))
    func aHoldOutlivesItsOwnersDeath() async throws {
        let fixture = try DaemonFixture(events: 10, files: 0, seed: 9)
        defer { fixture.remove() }
        // Both visitors' anonymous ids in one partition, their user ids in the other.
        let anonymousSide = Self.partition(Self.visitors(1)[0].anonymous)
        let v = Array(Self.visitors(20).filter { Self.partition($0.anonymous) == anonymousSide }.prefix(2))
        try #require(v.count == 2)
        try await ClusterPeers.with { peers in
            // The stall watchdog must not let the stalled partition go (and read) before the kill, however slow.
            try peers.configure(fixture, partitions: 2, stallAfter: "1h")
            try Self.checkpointEverySecond(fixture)
            var stream: [String] = []
            let first = try peers.startInstance("a", fixture, environment: ["JOURNEYD_FAULT_STALL_FOLLOWER": "\(anonymousSide)"])
            defer { first.0.signal(SIGKILL) }
            #expect(await eventually(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: first.socket) })
            #expect(await Self.owningBoth(fixture.root + "/a/control.sock"))
            // A later alias joins the first visitor (still waiting) into an account in the same partition: it
            // waits behind the hand-over, then joins the visitor with the cart it brought.
            let account = try #require((500..<600).lazy.map { "account-\($0)" }.first { Self.partition($0) == Self.partition(v[0].known) })
            let held = [
                Self.cart(v[0].anonymous, 0), Self.cart(v[1].anonymous, 1), Self.identify(v[0].known, v[0].anonymous, 0),
                Self.identify(v[1].known, v[1].anonymous, 1), Self.purchase(#""userId":"\#(v[1].known)""#, 1, at: "10:06"),
                Self.line(#""type":"alias","userId":"\#(account)","previousId":"\#(v[0].known)""#, "alias-0", "10:07"),
            ]
            stream += held
            try await Self.send(held, first.socket)
            // The known users are checkpointed, holding (nothing in the stalled partition answers).
            func rows() async -> String {
                (try? await peers.postgres.psql("journeyd", "SELECT count(*) FROM user_state WHERE id IN ('\(v[0].known)', '\(v[1].known)')"))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            }
            #expect(await eventually(timeout: .seconds(60)) { await rows() == "2" }, "the holding users are checkpointed")
            let status = try await ClusterPeers.status(control: fixture.root + "/a/control.sock")
            #expect(status["identity_handovers"] as? Double == 0, "\(status)")
            let (_, waiting) = try await ChildProcess.run(
                journeydBinary, ["explain", v[1].known, "--rules", fixture.rules, "--control", fixture.root + "/a/control.sock"])
            #expect(waiting.contains("waits for \(v[1].anonymous)'s state from another partition, to merge it (cluster mode); 2 event(s) wait with it"), "\(waiting)")
            first.0.signal(SIGKILL)
            _ = await first.0.stop(SIGKILL)
            let (second, socket) = try peers.startInstance("a", fixture)
            defer { second.signal(SIGKILL) }
            #expect(await eventually(timeout: .seconds(120)) { FileManager.default.fileExists(atPath: socket) })
            // Answered once the other partition reads its subject (live, or in its replay at start).
            func joined(_ n: Int) async -> Bool {
                let user = n == 0 ? account : v[n].known
                let story = try? await ChildProcess.run(
                    journeydBinary, ["explain", user, "--rules", fixture.rules, "--control", fixture.root + "/a/control.sock"]).1
                let merged = story?.split(separator: "\n").first { $0.contains("ids merged into it:") } ?? ""
                // The account holds the first visitor (who holds the anonymous id) and the cart it brought.
                return n == 0 ? merged.contains(v[0].known) && story?.contains("cart_abandonment") == true : merged.contains(v[n].anonymous)
            }
            #expect(await eventually(timeout: .seconds(60)) {
                let first = await joined(0)
                let second = await joined(1)
                return first && second
            }, "both holds answered after the restart")
            stream += Self.noon()
            try await Self.send(Self.noon(), socket)
            let expected = try Self.replayed(stream, fixture)
            #expect(Self.reminded(expected) == [account], "\(expected)")
            #expect(await eventually(timeout: .seconds(60)) { ClusterPeers.delivered(fixture, instances: ["a"]).sorted() == expected })
            #expect(ClusterPeers.delivered(fixture, instances: ["a"]).sorted() == expected)
            #expect(await second.stop() == 0)
        }
    }

    /// Hand-overs while instances die, on the wall clock: 120 visitors fill a cart, then sign up, across
    /// two instances and four partitions; a third buy right after signing up (in the sign-up's batch), a
    /// third later under their anonymous id; the instance that took the carts is killed right after the
    /// sign-ups and started again. A minute after the carts (far longer than a takeover, however busy the
    /// machine) exactly the visitors who did not buy are reminded — each once, under the known id, as an
    /// enrollment of the known user — whichever instance held the hand-overs when.
    @Test(.timeLimit(.minutes(10)))
    func handOversSurviveAKilledInstance() async throws {
        let fixture = try DaemonFixture(events: 10, files: 0, seed: 11)
        defer { fixture.remove() }
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.rules + "/journeys") {
            try FileManager.default.removeItem(atPath: fixture.rules + "/journeys/" + name)
        }
        try fixture.install(
            """
            journey: quick_cart
            trigger:
              event: cart_add
            steps:
              - id: wait_purchase
                wait_for: { event: purchase, timeout: 60s }
                on_event: exit
              - id: remind
                send: email
                template: cart_reminder

            """, at: "journeys/quick_cart.yaml")
        let visitors = (0..<120).map { ("anon-\($0)", "user-\($0)") }
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: 4, ttl: "2s")
            try Self.checkpointEverySecond(fixture)
            let (a, socketA) = try peers.startInstance("a", fixture, eventClock: false)
            defer { a.signal(SIGKILL) }
            let (b, socketB) = try peers.startInstance("b", fixture, eventClock: false)
            defer { b.signal(SIGKILL) }
            let spread = await eventually(timeout: .seconds(120)) { await peers.leaseCounts() == ["a": 2, "b": 2] }
            #expect(spread, "\(ClusterPeers.ownershipRecords(fixture, instances: ["a", "b"]))")
            #expect(await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: socketA) && FileManager.default.fileExists(atPath: socketB) })
            func line(_ fields: String, _ id: String) -> String {
                let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
                return #"{"messageId":"\#(id)","timestamp":"\#(now.iso8601)",\#(fields)}"#
            }
            try await Self.send(
                visitors.enumerated().map { n, v in
                    line(#""type":"track","event":"cart_add","anonymousId":"\#(v.0)","properties":{"cart_id":"c\#(n)"}"#, "cart-\(n)")
                }, socketA)
            try await Self.send(
                visitors.enumerated().flatMap { n, v in
                    [line(#""type":"identify","userId":"\#(v.1)","anonymousId":"\#(v.0)","traits":{"first_name":"Visitor \#(n)"}"#, "identify-\(n)")]
                        + (n % 3 == 1 ? [line(#""type":"track","event":"purchase","userId":"\#(v.1)""#, "purchase-\(n)")] : [])
                }, socketB)
            a.signal(SIGKILL)
            _ = await a.stop(SIGKILL)
            try await Self.send(
                visitors.enumerated().filter { $0.offset % 3 == 2 }.map { n, v in
                    line(#""type":"track","event":"purchase","anonymousId":"\#(v.0)""#, "purchase-\(n)")
                }, socketB)
            let (again, _) = try peers.startInstance("a", fixture, eventClock: false)
            defer { again.signal(SIGKILL) }
            func reminded() -> [String] {
                ClusterPeers.delivered(fixture, instances: ["a", "b"]).filter { $0.contains("quick_cart") }
                    .compactMap { $0.firstMatch(of: /"user":"([^"]*)"/).map { String($0.output.1) } }
            }
            let expected = visitors.enumerated().filter { $0.offset % 3 == 0 }.map(\.element.1)
            let all = await eventually(timeout: .seconds(180)) { Set(reminded()) == Set(expected) }
            await pause(.seconds(10))  // a buyer's reminder, sent wrongly, would have been due at the same moment
            let sent = reminded()
            #expect(all && sent.sorted() == expected.sorted(), "reminded \(sent.count): \(sent.sorted())\n\(ClusterPeers.ownershipRecords(fixture, instances: ["a", "b"]))")
            // The enrollment the cart started under the anonymous id goes on as the known user's own.
            let touches = ClusterPeers.delivered(fixture, instances: ["a", "b"]).filter { $0.contains("quick_cart") }
            #expect(touches.allSatisfy { touch in
                touch.firstMatch(of: /"user":"(user-[0-9]+)"/).map { touch.contains(#""enrollment":"\#($0.output.1)#"#) } ?? false
            }, "\(touches.prefix(3))")
            #expect(await again.stop() == 0)
            #expect(await b.stop() == 0)
        }
    }
}
