import Foundation
import JourneyCore
import JourneyTesting
import Testing

@testable import JourneyStore

@Suite("Encoded outbox rows")
struct EncodedOutboxTests {
    /// The rows come in the table's key order, (user, touch id), each one the encoding of its entry.
    @Test func rowsComeInKeyOrderEachDecodingToItsEntry() throws {
        var entries: [OutboxEntry] = []
        for n in [7, 3, 11, 0, 5] {
            for user in ["bob", "ada", "cy"] {
                let touch = Touch(
                    id: String(format: "%016x", n * 31 + user.count), user: user, journey: "cart", version: "v1",
                    enrollment: "\(user)#\(n)", step: "remind", channel: "email", template: "cart_reminder",
                    at: Timestamp(milliseconds: Int64(n)))
                entries.append(OutboxEntry(touch: touch, message: RenderedMessage(text: "hello \(user) \(n)"), state: n == 3 ? .sent : .pending))
            }
        }
        var seen: [(user: String, id: String)] = []
        try EncodedOutbox(entries).forEach { index, row throws in
            var reader = ByteReader(row)
            #expect(try OutboxEntry(from: &reader) == entries[index])
            #expect(reader.offset == row.count)
            seen.append((entries[index].touch.user, entries[index].touch.id))
        }
        #expect(seen.count == entries.count)
        let sorted = seen.sorted { ($0.user, $0.id) < ($1.user, $1.id) }
        #expect(seen.map(\.user) == sorted.map(\.user) && seen.map(\.id) == sorted.map(\.id))
    }

    /// Many chunks, few of them ahead: every row comes, once, in order; and a writer that stops early
    /// (an insert failed) is not left waiting, nor is the encoder.
    @Test func rowsComeChunkByChunkAndAnEarlyStopLetsTheEncoderGo() async throws {
        let entries = (0..<1000).map { n in
            OutboxEntry(
                touch: Touch(
                    id: String(format: "%016x", n), user: "u\(n % 7)", journey: "j", version: "v", enrollment: "e", step: "s",
                    channel: "c", template: "t", at: Timestamp(milliseconds: Int64(n))),
                message: RenderedMessage(text: "\(n)"))
        }
        var seen: [Int] = []
        EncodedOutbox(entries, rowsPerChunk: 16, chunksAhead: 2).forEach { index, _ in seen.append(index) }
        #expect(seen.count == 1000 && Set(seen).count == 1000)
        #expect(seen.map { (entries[$0].touch.user, entries[$0].touch.id) }.elementsEqual(
            seen.map { (entries[$0].touch.user, entries[$0].touch.id) }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }, by: ==))

        struct Stop: Error {}
        var rows = 0
        // The encoding thread holds the rows until it returns: once it has, nothing does.
        weak var abandoned: EncodedOutbox?
        do {
            let outbox = EncodedOutbox(entries, rowsPerChunk: 16, chunksAhead: 2)
            abandoned = outbox
            #expect(throws: Stop.self) {
                try outbox.forEach { _, _ in
                    rows += 1
                    if rows == 40 { throw Stop() }
                }
            }
        }
        #expect(rows == 40)
        #expect(await eventually { abandoned == nil }, "the encoding thread still waits for room")
    }

    /// A checkpoint whose write fails before it reaches the outbox (a user's row could not be inserted)
    /// never reads the rows: abandoned, the encoding thread stops waiting for room and lets them go.
    @Test func anOutboxNeverReadLetsTheEncoderGoOnceAbandoned() async throws {
        let entries = (0..<1000).map { n in
            OutboxEntry(
                touch: Touch(
                    id: String(format: "%016x", n), user: "u\(n % 7)", journey: "j", version: "v", enrollment: "e", step: "s",
                    channel: "c", template: "t", at: Timestamp(milliseconds: Int64(n))),
                message: RenderedMessage(text: "\(n)"))
        }
        weak var unread: EncodedOutbox?
        do {
            let outbox = EncodedOutbox(entries, rowsPerChunk: 16, chunksAhead: 2)
            unread = outbox
            outbox.abandon()
        }
        #expect(await eventually { unread == nil }, "the encoding thread still waits for room")
    }

    @Test func noEntriesNoRows() {
        var rows = 0
        EncodedOutbox([]).forEach { _, _ in rows += 1 }
        #expect(rows == 0)
    }
}
