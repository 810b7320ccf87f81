import Foundation
import JourneyCore
import JourneyEvents
import JourneyHTTP
import JourneyTesting
import Logging
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The keys the tests' servers accept: two streams.
let testKeys = WriteKeys(["wk-web": "web", "wk-app": "app"])

/// Runs an ``IngestServer`` for `source` on a free loopback port for the length of `body`.
func withIngestServer<T: Sendable>(
    _ source: HTTPSource, keys: WriteKeys = testKeys, configure: (inout IngestServer.Configuration) -> Void = { _ in },
    _ body: @escaping @Sendable (UInt16) async throws -> T
) async throws -> T {
    var configuration = IngestServer.Configuration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let server = IngestServer(
        source: source, keys: keys, configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        listening: { _, port in continuation.yield(port) })
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await server.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CocoaError(.fileReadUnknown) }
        group.addTask { try await body(UInt16(port)) }
        var result: T?
        while result == nil, let next = try await group.next() {
            if let next { result = next }
        }
        group.cancelAll()  // the server: cancelling it ends it, and any request still waiting
        return result!
    }
}

/// Plays the daemon's part: takes `count` events from `source` and acknowledges each as the event
/// parser judges it (accepted, or rejected with its path and reason). Returns the lines, in order, with
/// the namespace of the batch each came in.
/// Checks that an event the request handler parsed is the one its bytes make (what the pump would parse).
func consume(_ source: HTTPSource, count: Int) async throws -> [(line: String, namespace: String, parsed: Bool)] {
    let parser = SegmentEventParser()
    var taken: [(String, String, Bool)] = []
    while taken.count < count {
        guard let batch = try await source.next(limit: 64) else { break }
        var outcomes: [LineOutcome] = []
        for line in batch.lines {
            taken.append((String(decoding: line.bytes, as: UTF8.self), batch.namespace, line.event != nil))
            switch parser.parse(line.bytes, source: batch.origin) {
            case .success(let event):
                #expect(line.event == event, "the handler parsed the event its bytes make")
                outcomes.append(.accepted(messageId: event.messageId))
            case .failure(let rejection):
                #expect(line.event == nil, "an event the parser rejects goes in unparsed, for the pump to quarantine")
                outcomes.append(.rejected(path: rejection.path, reason: rejection.reason))
            }
        }
        try await source.acknowledge(batch, outcomes: outcomes)
    }
    return taken
}

/// A track event of exactly `bytes` bytes (padded in a property).
func event(bytes: Int, id: String = "m") -> String {
    let bare = #"{"type":"track","userId":"u","event":"e","messageId":"\#(id)","timestamp":"2026-01-01T00:00:00Z","properties":{"pad":""}}"#
    let pad = String(repeating: "x", count: bytes - bare.utf8.count)
    return #"{"type":"track","userId":"u","event":"e","messageId":"\#(id)","timestamp":"2026-01-01T00:00:00Z","properties":{"pad":"\#(pad)"}}"#
}

func track(_ id: String, user: String = "u1") -> String {
    #"{"type":"track","userId":"\#(user)","event":"signup","messageId":"\#(id)","timestamp":"2026-01-01T00:00:00Z"}"#
}

/// `bytes` compressed with gzip(1).
func gzip(_ bytes: [UInt8]) async throws -> [UInt8] {
    let directory = try TemporaryDirectory(prefix: "journeyd-gzip")
    defer { directory.remove() }
    let path = directory.path + "/body"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let result = try await ChildProcess.run("/usr/bin/env", ["gzip", "-k", path])
    guard result.status == 0 else { throw CocoaError(.fileWriteUnknown) }
    return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
}

/// The JSON object of an answer's body.
func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}

/// An event line as the HTTP input hands it over, without the `receivedAt` it stamps on every event
/// (a line without one comes back marked, so a comparison fails).
@Sendable func withoutReceivedAt(_ line: String) -> String {
    guard let range = line.range(of: #","receivedAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z""#, options: .regularExpression) else {
        return line + " (no receivedAt)"
    }
    return line.replacingCharacters(in: range, with: "")
}
