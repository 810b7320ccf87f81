public import JourneyCore

/// The contract every ``EventSource`` keeps (spool, tail, socket, HTTP): lines come out exactly once,
/// in the order producers wrote them, in batches no larger than asked; acknowledging them gives each
/// producer its answer (where producers get answers); a source that resumes from committed positions
/// hands out only what was not acknowledged before; `stop` ends `next` promptly.
public enum EventSourceConformance {
    /// How the kit drives one kind of source.
    public struct Harness: Sendable {
        /// A source, resuming from `positions` (the positions of batches acknowledged before).
        public var makeSource: @Sendable (_ positions: [String: Int64]) async throws -> any EventSource
        /// Has a producer write `lines`, in order; returns once they are written.
        public var produce: @Sendable (_ lines: [String]) async throws -> Void
        /// The answers producers received, in order, once at least `count` have arrived (nil for sources
        /// whose producers get none).
        public var answers: @Sendable (_ count: Int) async throws -> [String]?
        /// Whether the source resumes from positions (files do; a socket's producer resends instead).
        public var resumes: Bool
        /// What a producer receives for a line acknowledged as `.accepted(messageId: "x")` (the socket's
        /// `ok x`, HTTP's `200 {"success":true}`).
        public var acceptedAnswer: String
        /// A line as read, without what the source adds to it (HTTP's `receivedAt`), to compare with what
        /// the producer wrote.
        public var normalize: @Sendable (String) -> String

        public init(
            makeSource: @escaping @Sendable ([String: Int64]) async throws -> any EventSource,
            produce: @escaping @Sendable ([String]) async throws -> Void, answers: @escaping @Sendable (Int) async throws -> [String]?,
            resumes: Bool, acceptedAnswer: String = "ok x", normalize: @escaping @Sendable (String) -> String = { $0 }
        ) {
            self.normalize = normalize
            self.makeSource = makeSource
            self.produce = produce
            self.answers = answers
            self.resumes = resumes
            self.acceptedAnswer = acceptedAnswer
        }
    }

    public static func check(_ harness: Harness) async throws {
        let lines = (0..<100).map { #"{"type":"track","userId":"u\#($0 % 7)","event":"e","messageId":"m\#($0)","timestamp":"2025-01-01T00:00:00Z"}"# }
        var source = try await harness.makeSource([:])
        try await harness.produce(Array(lines[0..<60]))
        var positions: [String: Int64] = [:]
        var received: [String] = []
        var acknowledged = 0
        // Take 60 lines in batches of at most 7; acknowledge the first 42.
        while received.count < 60 {
            guard let batch = try await source.next(limit: 7) else { throw ConformanceFailure("next returned nil while lines were waiting") }
            try require(batch.lines.count <= 7, "a batch holds at most the limit (got \(batch.lines.count))")
            received += batch.lines.map { harness.normalize(String(decoding: $0.bytes, as: UTF8.self)) }
            if received.count <= 42 {
                try await source.acknowledge(batch, outcomes: batch.lines.map { _ in .accepted(messageId: "x") })
                acknowledged += batch.lines.count
                for (key, value) in batch.positions {
                    if let value { positions[key] = value } else { positions[key] = nil }
                }
            }
        }
        try require(received == Array(lines[0..<60]), "lines come out once each, in order")
        if let answers = try await harness.answers(acknowledged) {
            // Producers get one answer per acknowledged line, in order, and nothing for the rest yet.
            try require(answers.count == acknowledged && answers.allSatisfy { $0 == harness.acceptedAnswer },
                "producers get one answer per acknowledged line (\(answers.count) answers for \(acknowledged) lines; first other than expected: \(answers.first { $0 != harness.acceptedAnswer } ?? "none"))")
        }
        source.stop()
        try require(try await source.next(limit: 7) == nil, "next returns nil once the source is stopped")

        guard harness.resumes else { return }
        // A new source from the acknowledged positions hands out what was not acknowledged, then new lines.
        source = try await harness.makeSource(positions)
        try await harness.produce(Array(lines[60..<100]))
        var resumed: [String] = []
        while resumed.count < 100 - acknowledged {
            guard let batch = try await source.next(limit: 16) else { throw ConformanceFailure("next returned nil after resuming") }
            resumed += batch.lines.map { harness.normalize(String(decoding: $0.bytes, as: UTF8.self)) }
            try await source.acknowledge(batch, outcomes: batch.lines.map { _ in .accepted(messageId: "x") })
        }
        try require(resumed == Array(lines[acknowledged..<100]), "a resumed source hands out exactly what was not acknowledged, in order")
        source.stop()
    }
}
