import Foundation
import JourneyCore
import JourneyHTTP
import JourneyTesting
import Synchronization
import Testing

@Suite struct HTTPSourceConformanceTests {
    /// Each line is its own `POST /v1/track`, sent once the previous one is queued (so they are queued in
    /// the order written); each answer is kept in the order of the lines.
    @Test func theHTTPSourcePassesTheEventSourceKit() async throws {
        let source = HTTPSource()
        try await withIngestServer(source) { port in
            let answers = Answers()
            let posted = Answers()
            try await EventSourceConformance.check(
                .init(
                    makeSource: { _ in source },
                    produce: { lines in
                        for line in lines {
                            let index = posted.count
                            posted.set(index, "posted")
                            let before = source.queued
                            Task {
                                // Held until acknowledged, which waits for all 60 lines to be posted: minutes
                                // on a loaded machine. A failure is kept as the answer, to be seen.
                                do {
                                    let answer = try await HTTPExchange.send(
                                        "POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-web")], body: Array(line.utf8), timeout: 600)
                                    answers.set(index, "\(answer.status) \(answer.body)")
                                } catch {
                                    answers.set(index, "request \(index) failed: \(error)")
                                }
                            }
                            guard await eventually({ source.queued > before }) else { throw CocoaError(.fileReadUnknown) }
                        }
                    },
                    answers: { count in
                        _ = await eventually { answers.count >= count }
                        return answers.inOrder
                    },
                    resumes: false, acceptedAnswer: #"200 {"success":true}"#, normalize: withoutReceivedAt))
        }
    }
}

/// Answers by the index of the request they answer.
final class Answers: Sendable {
    private let state = Mutex<[Int: String]>([:])
    var count: Int { state.withLock { $0.count } }
    func set(_ index: Int, _ text: String) { state.withLock { $0[index] = text } }
    var inOrder: [String] { state.withLock { answers in (0..<answers.count).compactMap { answers[$0] } } }
}
