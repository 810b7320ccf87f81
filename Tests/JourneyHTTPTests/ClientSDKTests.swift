import Foundation
import JourneyCore
import JourneyHTTP
import JourneyTesting
import Testing

/// The real analytics SDKs (segment-analytics-python, rudder-sdk-python) against the HTTP input: their
/// batching, gzip and retry logic, through a 429, lose nothing and send nothing twice.
@Suite("Analytics SDKs", .serialized)
struct ClientSDKTests {
    static let peer = repositoryRoot + "/Tests/JourneyHTTPTests/Peers/sdk_client.py"

    /// Thirty events of every type, with their own messageIds.
    static func events(_ prefix: String) -> [String] {
        (0..<30).map { i in
            let common = #""messageId":"\#(prefix)-\#(i)","timestamp":"2026-01-01T00:00:\#(String(format: "%02d", i))Z""#
            switch i % 6 {
            case 0: return #"{"type":"track","userId":"u\#(i)","event":"cart_add","properties":{"price":\#(i)},\#(common)}"#
            case 1: return #"{"type":"identify","userId":"u\#(i)","traits":{"email":"u\#(i)@example.com"},\#(common)}"#
            case 2: return #"{"type":"page","userId":"u\#(i)","name":"Home","properties":{"path":"/"},\#(common)}"#
            case 3: return #"{"type":"screen","userId":"u\#(i)","name":"Cart","\#(common.dropFirst())}"#
            case 4: return #"{"type":"group","userId":"u\#(i)","groupId":"g1","traits":{"plan":"pro"},\#(common)}"#
            default: return #"{"type":"alias","userId":"u\#(i)","previousId":"anon-\#(i)",\#(common)}"#
            }
        }
    }

    @Test(arguments: ["segment", "rudder"])
    func theSDKRidesThroughA429AndEveryEventArrivesOnce(sdk: String) async throws {
        let directory = try TemporaryDirectory(prefix: "journeyd-sdk")
        defer { directory.remove() }
        let events = Self.events(sdk)
        try (events.joined(separator: "\n") + "\n").write(toFile: directory.path + "/events.jsonl", atomically: true, encoding: .utf8)
        let source = HTTPSource(maxQueued: 10)
        let taken = try await withIngestServer(source) { port in
            // A request already waiting fills part of the queue: the SDK's batch does not fit, and gets a 429.
            async let blocker = HTTPExchange.send("POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-web")], body: Array(track("blocker").utf8))
            guard await eventually({ source.queued == 1 }) else { throw CocoaError(.fileReadUnknown) }
            let client = try ChildProcess(
                "/usr/bin/env",
                ["python3", Self.peer, "--sdk", sdk, "--url", "http://127.0.0.1:\(port)", "--key", "wk-web", "--events", directory.path + "/events.jsonl"]
                    + (sdk == "rudder" ? ["--gzip"] : []),
                output: directory.path + "/client.log")
            defer { client.signal(SIGKILL) }
            #expect(await eventually { source.busyAnswers >= 1 }, "the SDK was answered 429")
            let taken = try await consume(source, count: 1 + events.count)
            #expect(try await blocker.status == 200)
            #expect(await client.exit() == 0, "\((try? String(contentsOfFile: directory.path + "/client.log", encoding: .utf8)) ?? "")")
            return taken
        }
        let messages = taken.map { json($0.line) }
        let ids = messages.compactMap { $0["messageId"] as? String }
        #expect(ids.count == 1 + events.count && Set(ids) == Set(["blocker"] + (0..<30).map { "\(sdk)-\($0)" }), "every event once: \(ids)")
        let sent = Dictionary(uniqueKeysWithValues: events.map { line in (json(line)["messageId"] as! String, json(line)) })
        for message in messages where message["messageId"] as? String != "blocker" {
            let original = sent[message["messageId"] as! String]!
            #expect(message["type"] as? String == original["type"] as? String)
            #expect(message["userId"] as? String == original["userId"] as? String)
            #expect(message["sentAt"] is String, "the batch's sentAt is kept on each event")
            #expect((message["context"] as? [String: Any])?["library"] != nil, "the SDK's context is kept")
            #expect(message["writeKey"] == nil)
        }
        #expect(taken.allSatisfy { $0.namespace == "http/web" })
    }
}
