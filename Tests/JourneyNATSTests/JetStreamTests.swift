import Foundation
import JourneyCore
import JourneyNATS
import JourneyTesting
import Synchronization
import Testing

@Suite("JetStream event log", .serialized, .natsServer)
struct JetStreamTests {
    /// The kit, on partition 0, while another publisher fills partition 1: the partition's numbers skip
    /// the other's, as they do in a cluster.
    @Test func aPartitionOfTheStreamKeepsTheLogContract() async throws {
        let url = try SharedNATSServer.server.url
        let others = try await offThread {
            let stream = try openStream(url)
            let publisher = try PartitionPublisher(stream: stream)
            let done = Atomic<Bool>(false)
            let finished = Atomic<Bool>(false)
            let published = Atomic<Int>(0)
            let neighbour = Thread {
                while !done.load(ordering: .relaxed) {
                    let message = PartitionPublisher.Message(partition: 1, messageId: UUID().uuidString, payload: Array("other".utf8))
                    if (try? publisher.publish(message)) != nil { published.add(1, ordering: .relaxed) }
                }
                finished.store(true, ordering: .relaxed)
            }
            neighbour.start()
            defer {
                done.store(true, ordering: .relaxed)
                while !finished.load(ordering: .relaxed) { usleep(1000) }  // on a thread of its own (offThread)
            }
            // The neighbour has begun (and goes on) before the kit appends: the partition's numbers have gaps.
            while published.load(ordering: .relaxed) == 0 { usleep(1000) }
            try EventLogConformance.check(consecutive: false) { try JetStreamLog(stream: stream, partition: 0) }
            return published.load(ordering: .relaxed)
        }
        #expect(others > 0, "the neighbouring partition was written while the kit ran")
    }

    @Test func theSameMessageIdWithinTheWindowIsStoredOnce() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let stream = try openStream(url)
            let publisher = try PartitionPublisher(stream: stream)
            let log = try JetStreamLog(stream: stream, partition: 2)
            let before = log.lastSequence
            let message = PartitionPublisher.Message(partition: 2, messageId: "m-\(UUID())", payload: Array("{\"event\":\"x\"}".utf8))
            let first = try publisher.publish(message)
            let again = try publisher.publish(message)
            #expect(!first.duplicate && again.duplicate && again.sequence == first.sequence)
            // A batch repeating it and itself: only the new id is stored.
            let fresh = PartitionPublisher.Message(partition: 2, messageId: "m-\(UUID())", payload: Array("y".utf8))
            let batch = try publisher.publish(batch: [message, fresh, fresh])
            #expect(batch.stored == 1 && batch.duplicates == 2)
            var stored: [[UInt8]] = []
            try log.read(after: before) { _, bytes in
                stored.append(Array(bytes))
                return true
            }
            #expect(stored == [message.payload, fresh.payload])
        }
    }

    /// The window is the stream's, set on every open: a short one lets an id through again once it passed.
    @Test func aMessageIdIsStoredAgainOnceTheDuplicateWindowHasPassed() async throws {
        let url = try SharedNATSServer.server.url
        let stream = try await offThread { try openStream(url, duplicateWindow: .seconds(1)) }
        defer { _ = try? openStream(url) }  // the suite's default window again
        let publisher = try PartitionPublisher(stream: stream)
        let message = PartitionPublisher.Message(partition: 2, messageId: "w-\(UUID())", payload: Array("w".utf8))
        let first = try await offThread { try publisher.publish(message) }
        let storedAgain = try await eventually(interval: .milliseconds(200)) {
            try await offThread { try publisher.publish(message) }.sequence != first.sequence
        }
        #expect(storedAgain)
    }

    @Test func anInstanceConfiguredWithAnotherPartitionCountIsRefused() async throws {
        let url = try SharedNATSServer.server.url
        let error = try await offThread { () -> JetStreamError? in
            _ = try openStream(url, partitions: 4)
            do {
                _ = try openStream(url, partitions: 16)
                return nil
            } catch let error as JetStreamError { return error } catch { return nil }
        }
        let text = try #require(error).description
        #expect(text.contains("stream JOURNEYD") && text.contains("created with 4 partitions") && text.contains("configured with 16"), "\(text)")
        #expect(text.hasPrefix(url), "\(text)")
    }

    @Test func eachUserHasOnePartitionAndItsEventsComeBackInOrder() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let stream = try openStream(url)
            let users = (0..<200).map { "user-\($0)" }
            var expected = StableHash()
            expected.combine("user-7")
            #expect(stream.partition(of: "user-7") == Int(expected.value % 4))
            #expect(Set(users.map(stream.partition(of:))) == Set(0..<4), "200 users spread over the 4 partitions")
            let logs = try (0..<4).map { try JetStreamLog(stream: stream, partition: $0) }
            let starts = logs.map(\.lastSequence)
            let messages = users.enumerated().map { index, user in
                PartitionPublisher.Message(partition: stream.partition(of: user), messageId: "order-\(index)-\(UUID())", payload: Array("\(user) \(index)".utf8))
            }
            let acknowledged = try PartitionPublisher(stream: stream).publish(batch: messages)
            #expect(acknowledged.stored == 200)
            for (partition, log) in logs.enumerated() {
                var read: [String] = []
                try log.read(after: starts[partition]) { _, bytes in
                    read.append(String(decoding: bytes, as: UTF8.self))
                    return true
                }
                #expect(read == messages.filter { $0.partition == partition }.map { String(decoding: $0.payload, as: UTF8.self) })
            }
        }
    }

    /// Group commit: deferred appends are published without waiting; sync returns once all are stored.
    @Test func deferredAppendsAreStoredInOrderOnceSyncReturns() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let log = try JetStreamLog(stream: try openStream(url), partition: 3)
            let start = log.lastSequence
            let numbered = try log.append { $0.varint(0) }
            for i in 1..<2000 { try log.appendDeferred { $0.varint(UInt64(i)) } }
            let durable = try log.sync()
            var values: [UInt64] = []
            var sequences: [UInt64] = []
            try log.read(after: start) { sequence, bytes in
                var reader = ByteReader(bytes)
                values.append(try reader.varint())
                sequences.append(sequence)
                return true
            }
            #expect(values == Array(0..<2000))
            #expect(sequences.first == numbered && sequences.last == durable && log.durableSequence == durable)
        }
    }

    @Test func aRewriteThatWouldEditARecordIsRefusedBeforeErasingAnything() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let log = try JetStreamLog(stream: try openStream(url), partition: 3)
            let start = log.lastSequence
            let kept = try log.append { $0.string("keep") }
            let edited = try log.append { $0.string("edit") }
            #expect(throws: LogError.self) {
                try log.rewrite { sequence, _ in sequence == kept ? [] : sequence == edited ? [1, 2, 3] : nil }
            }
            var held: [UInt64] = []
            try log.read(after: start) { sequence, _ in
                held.append(sequence)
                return true
            }
            #expect(held == [kept, edited])
        }
    }

    @Test func errorsNameTheServerWithoutItsCredentialsAndTheReason() async throws {
        let error = await offThread { () -> JetStreamError? in
            do {
                _ = try NATSConnection(url: "nats://journeyd:s3cret@127.0.0.1:1")
                return nil
            } catch let error as JetStreamError { return error } catch { return nil }
        }
        let text = try #require(error).description
        #expect(text.hasPrefix("nats://127.0.0.1:1 ") && text.contains("connect failed: "), "\(text)")
        #expect(!text.contains("s3cret"))
    }
}
