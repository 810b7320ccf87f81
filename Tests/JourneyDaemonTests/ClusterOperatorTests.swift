import Foundation
import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneyTesting
import Synchronization
import Testing

/// "Why did this user get that?" in cluster mode: `journeyd explain USER` and `journeyd forget USER` go to
/// the instance that owns the user's partition. Two instances, P = 4: the owner answers with the user's
/// story (every touch the replay gives the user, with its delivery state), the other instance refuses and
/// names the owner; `forget` on the owner erases the user, after which the owner knows nothing of them.
@Suite("Cluster operator requests", .serialized)
struct ClusterOperatorTests {
    @Test(.timeLimit(.minutes(10)))
    func explainAndForgetAreAnsweredByTheOwnerAndTheOtherInstanceNamesIt() async throws {
        let partitions = 4
        let fixture = try DaemonFixture(events: 2000, files: 0, seed: 31)
        defer { fixture.remove() }
        try await ClusterPeers.with { peers in
            try peers.configure(fixture, partitions: partitions, ttl: "2s")
            // Checkpoints every second while the log grows: the one after `forget` comes soon.
            try fixture.appendSettings("state:\n  checkpoint: { every: 1s }\n")
            let (a, socketA) = try peers.startInstance("a", fixture)
            defer { a.signal(SIGKILL) }
            let (b, _) = try peers.startInstance("b", fixture)
            defer { b.signal(SIGKILL) }
            let spread = await eventually(timeout: .seconds(120)) { await peers.leaseCounts() == ["a": 2, "b": 2] }
            let leases = await peers.leaseCounts()
            #expect(spread, "\(leases)")
            #expect(await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: socketA) })
            let lines = try fixture.eventLines()
            let answered = try await offThread { try exchange(lines, at: socketA) }
            #expect(answered.count == lines.count && answered.allSatisfy { $0.hasPrefix("ok ") })
            let replay = try clusterReplay(fixture, partitions: partitions)
            let expected = TouchKey.parse(replay.touches)
            #expect(await eventually(timeout: .seconds(120)) { ClusterPeers.delivered(fixture, instances: ["a", "b"]).count >= expected.count })

            // report: either instance answers for the whole cluster — its own partitions live, the other's as of
            // their last checkpoints (every second here) — and the funnel is the replay's over every partition.
            let rules = try RuleLoader.load(directory: fixture.rules)
            let whole = ReportSummary(figures: replay.figures, rules: rules, outbox: nil, source: "").jsonValue
            let compared = ["journeys", "touches_per_day", "stages", "transitions", "duplicates"]
            for name in ["a", "b"] {
                let page = fixture.root + "/report-\(name).html"
                let answered = Mutex<(Int32, String)>((0, ""))
                let agrees = await eventually(timeout: .seconds(60)) {
                    let (status, output) = (try? await ChildProcess.run(
                        journeydBinary, ["report", "--json", "-o", page, "--rules", fixture.rules, "--control", fixture.root + "/\(name)/control.sock"])) ?? (-1, "")
                    answered.withLock { $0 = (status, output) }
                    let figures = (try? JSONParser().parse(output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}")) ?? .null
                    return status == 0 && compared.allSatisfy { figures[$0] == whole[$0] }
                }
                let (status, output) = answered.withLock { $0 }
                #expect(agrees, "instance \(name) (status \(status)): \(output.prefix(3000))\nreplay: \(compared.map { "\($0): \(whole[$0]?.jsonText ?? "")" }.joined(separator: "\n"))")
                let html = (try? String(contentsOfFile: page, encoding: .utf8)) ?? ""
                // Which partitions are live here depends on the leases at that moment (2 each, unless one moved).
                let sourceLine = try Regex("cluster instance \(name): [0-4] of 4 partitions live, [0-4] as of their last checkpoints")
                #expect(html.contains(sourceLine), "\(html.prefix(2000))")
            }

            // The user with the most touches.
            let (user, touches) = try #require(Dictionary(grouping: expected, by: \.user).max { $0.value.count < $1.value.count })
            func ask(_ request: String, _ name: String) async throws -> (status: Int32, output: String, json: Value) {
                let (status, output) = try await ChildProcess.run(
                    journeydBinary, [request, user, "--json", "--rules", fixture.rules, "--control", fixture.root + "/\(name)/control.sock"])
                let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
                return (status, output, (try? JSONParser().parse(line)) ?? .null)
            }
            let answers = [("a", try await ask("explain", "a")), ("b", try await ask("explain", "b"))]
            let owners = answers.filter { $0.1.status == 0 }
            #expect(owners.count == 1, "\(answers.map { "\($0.0): \($0.1.output)" })")
            let (owner, story) = try #require(owners.first)
            let (other, refusal) = try #require(answers.first { $0.0 != owner })
            #expect(story.json["instance"]?.stringValue == owner)
            #expect(story.json["known"]?.boolValue == true)
            let told = Set((story.json["touches"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
            #expect(told == Set(touches.map(\.id)), "\(story.output)")
            #expect(refusal.output.contains("user \(user) is in partition") && refusal.output.contains("owned by instance \(owner)"), "\(refusal.output)")
            print("cluster explain: \(user) (\(touches.count) touches) answered by \(owner); \(other) said: \(refusal.output.split(separator: "\n").last ?? "")")

            // forget: refused by the other instance (naming the owner), done by the owner.
            let wrong = try await ask("forget", other)
            #expect(wrong.status != 0 && wrong.output.contains("owned by instance \(owner)"), "\(wrong.output)")
            func status(_ name: String) async throws -> Value {
                let (_, output) = try await ChildProcess.run(journeydBinary, ["status", "--json", "--control", fixture.root + "/\(name)/control.sock"])
                return (try? JSONParser().parse(output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}")) ?? .null
            }
            let before = try await status(owner)
            let checkpoints = before["checkpoints"]?.numberValue ?? 0
            let forgotten = try await ask("forget", owner)
            #expect(forgotten.status == 0 && forgotten.json["known"]?.boolValue == true, "\(forgotten.output)")
            // The checkpoint that covers the erasure purges the user's events from the partition's subject (a
            // JetStream message cannot be edited): the partition stays owned under the same lease, nothing fails.
            #expect(await eventually(timeout: .seconds(60)) { ((try? await status(owner))?["checkpoints"]?.numberValue ?? 0) > checkpoints })
            await pause(.seconds(2))
            let later = try await status(owner)
            #expect(later["partitions"]?.stringValue == before["partitions"]?.stringValue, "\(before) → \(later)")
            let log = ClusterRebalanceTests.logLines(fixture, owner)
            #expect(!log.contains { $0.contains("stopped by itself") || $0.contains("checkpoint failed") }, "\(log.suffix(20))")
            let after = try await ask("explain", owner)
            #expect(after.status == 0 && after.json["known"]?.boolValue == false, "\(after.output)")
            #expect((after.json["touches"]?.arrayValue ?? []).isEmpty, "\(after.output)")

            // The user's events sent again afterwards (new message ids), through the other instance's input —
            // which cannot know of the forget: the owner drops them and keeps nothing of the user, while it goes on
            // applying the partition's other users' events.
            func partitionOf(_ id: String) -> Int {
                var hash = StableHash()
                hash.combine(id)
                return Int(hash.value % UInt64(partitions))
            }
            func again(_ id: String, _ prefix: String) -> [String] {
                lines.filter { $0.contains("\"userId\":\"\(id)\"") }.map { $0.replacingOccurrences(of: "\"messageId\":\"", with: "\"messageId\":\"\(prefix)") }
            }
            let neighbour = try #require(Set(expected.map(\.user)).first { $0 != user && partitionOf($0) == partitionOf(user) })
            let (forgottenAgain, neighbourAgain) = (again(user, "again-"), again(neighbour, "again-"))
            #expect(!forgottenAgain.isEmpty && !neighbourAgain.isEmpty)
            let eventsBefore = try await status(owner)["events"]?.numberValue ?? 0
            let resent = try await offThread { try exchange(forgottenAgain + neighbourAgain, at: fixture.root + "/\(other).sock") }
            #expect(resent.count == forgottenAgain.count + neighbourAgain.count && resent.allSatisfy { $0.hasPrefix("ok ") }, "\(resent.prefix(3))")
            let settled = await eventually(timeout: .seconds(60)) {
                let now = try? await status(owner)
                return now?["forgotten_refused"]?.numberValue == Double(forgottenAgain.count)
                    && now?["events"]?.numberValue == eventsBefore + Double(neighbourAgain.count)
            }
            let afterResend = try await status(owner)
            #expect(settled, "sent again: \(forgottenAgain.count) of \(user), \(neighbourAgain.count) of \(neighbour); events \(eventsBefore) → \(afterResend["events"]?.numberValue ?? -1), forgotten_refused \(afterResend["forgotten_refused"]?.numberValue ?? -1)")
            let afterAgain = try await ask("explain", owner)
            #expect(afterAgain.status == 0 && afterAgain.json["known"]?.boolValue == false, "\(afterAgain.output)")
            #expect(await a.stop() == 0)
            #expect(await b.stop() == 0)
        }
    }
}
