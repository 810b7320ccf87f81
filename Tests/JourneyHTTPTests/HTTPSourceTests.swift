import JourneyCore
import JourneyHTTP
import JourneyTesting
import Testing

/// The source's own bookkeeping, without a server: requests are queued whole and cut into batches at
/// the limit; a request is answered once every part of it is settled, with its outcomes in its order.
@Suite struct HTTPSourceTests {
    static func lines(_ prefix: String, _ count: Int) -> [SourceLine] {
        (0..<count).map { SourceLine(bytes: Array("\(prefix)\($0)".utf8)) }
    }

    static func text(_ batch: SourceBatch) -> [String] { batch.lines.map { String(decoding: $0.bytes, as: UTF8.self) } }

    @Test func aRequestLargerThanTheLimitIsCutAcrossBatchesAndAnsweredOnceAllItsPartsAreSettled() async throws {
        let source = HTTPSource()
        let first = Task { await source.submit(Self.lines("a", 10), stream: "web") }
        #expect(await eventually { source.queued == 10 })
        let second = Task { await source.submit(Self.lines("b", 5), stream: "web") }
        #expect(await eventually { source.queued == 15 })

        var batches: [SourceBatch] = []
        while source.queued > 0, let batch = try await source.next(limit: 4) { batches.append(batch) }
        #expect(batches.map(Self.text) == [["a0", "a1", "a2", "a3"], ["a4", "a5", "a6", "a7"], ["a8", "a9", "b0", "b1"], ["b2", "b3", "b4"]])
        #expect(Set(batches.map(\.origin)) == ["http/web"] && Set(batches.map(\.namespace)) == ["http/web"])

        // Settled out of order; each line's outcome lands at its place in its request.
        func outcomes(_ batch: SourceBatch) -> [LineOutcome] {
            Self.text(batch).map { $0 == "a5" || $0 == "b3" ? .rejected(path: "$.type", reason: "bad") : .accepted(messageId: $0) }
        }
        for index in [2, 0, 3] { try await source.acknowledge(batches[index], outcomes: outcomes(batches[index])) }
        // The second request is settled (its parts were in batches 2 and 3), the first still waits for batch 1.
        let secondAnswer = await second.value
        #expect(secondAnswer == .durable(["b0", "b1", "b2", "b3", "b4"].map { $0 == "b3" ? .rejected(path: "$.type", reason: "bad") : .accepted(messageId: $0) }))
        try await source.acknowledge(batches[1], outcomes: outcomes(batches[1]))
        let firstAnswer = await first.value
        #expect(firstAnswer == .durable((0..<10).map { $0 == 5 ? .rejected(path: "$.type", reason: "bad") : .accepted(messageId: "a\($0)") }))
        source.stop()
    }

    @Test func aRefusedPartRefusesItsRequestAndOnlyItsRequest() async throws {
        let source = HTTPSource()
        let first = Task { await source.submit(Self.lines("a", 3), stream: "web") }
        #expect(await eventually { source.queued == 3 })
        let second = Task { await source.submit(Self.lines("b", 2), stream: "web") }
        #expect(await eventually { source.queued == 5 })
        let one = try #require(try await source.next(limit: 2))
        let two = try #require(try await source.next(limit: 2))
        let three = try #require(try await source.next(limit: 2))
        #expect([one, two, three].map(Self.text) == [["a0", "a1"], ["a2", "b0"], ["b1"]])
        try await source.acknowledge(one, outcomes: one.lines.map { _ in .accepted(messageId: "x") })
        await source.refuse(two, reason: "disk full")
        try await source.acknowledge(three, outcomes: three.lines.map { _ in .accepted(messageId: "x") })
        #expect(await first.value == .refused("disk full"))
        #expect(await second.value == .refused("disk full"))
        source.stop()
    }

    @Test func batchesHoldOneStreamAndAFullQueueRefusesAtOnce() async throws {
        let source = HTTPSource(maxQueued: 6)
        let web = Task { await source.submit(Self.lines("w", 3), stream: "web") }
        #expect(await eventually { source.queued == 3 })
        let backend = Task { await source.submit(Self.lines("k", 3), stream: "backend") }
        #expect(await eventually { source.queued == 6 })
        #expect(await source.submit(Self.lines("x", 1), stream: "web") == .busy, "nothing is taken when it does not fit")
        #expect(source.busyAnswers == 1)
        let one = try #require(try await source.next(limit: 100))
        let two = try #require(try await source.next(limit: 100))
        #expect(Self.text(one) == ["w0", "w1", "w2"] && one.namespace == "http/web")
        #expect(Self.text(two) == ["k0", "k1", "k2"] && two.namespace == "http/backend")
        // Stopping answers what was never taken; what was taken is still settled by its batch.
        let waiting = Task { await source.submit(Self.lines("z", 2), stream: "web") }
        #expect(await eventually { source.queued == 2 })
        source.stop()
        #expect(await waiting.value == .refused("journeyd is stopping"))
        for batch in [one, two] { try await source.acknowledge(batch, outcomes: batch.lines.map { _ in .accepted(messageId: "m") }) }
        #expect(await web.value == .durable(Array(repeating: .accepted(messageId: "m"), count: 3)))
        #expect(await backend.value == .durable(Array(repeating: .accepted(messageId: "m"), count: 3)))
    }
}
