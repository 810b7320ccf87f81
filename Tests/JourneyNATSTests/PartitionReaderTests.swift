import CNats
import Foundation
import Synchronization
import JourneyCore
@testable import JourneyNATS
import JourneyTesting
import Testing

@Suite("Partition reader", .serialized, .natsServer)
struct PartitionReaderTests {
    /// A backlog comes in batches of at most `batch`, in order, nothing skipped; then the reader waits
    /// for its `wait` only.
    @Test func aBacklogIsReadInBatchesInOrder() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let stream = try openStream(url)
            let log = try JetStreamLog(stream: stream, partition: 1)
            let before = log.lastSequence
            let messages = (0..<2500).map { PartitionPublisher.Message(partition: 1, messageId: "", payload: Array("r\($0)".utf8)) }
            _ = try PartitionPublisher(stream: stream).publish(batch: messages)
            let reader = try PartitionReader(log: log, after: before, batch: 1024)
            defer { reader.close() }
            var read: [PartitionReader.Record] = []
            var calls = 0
            while read.count < messages.count && calls < 100 {
                let records = try reader.next(wait: .seconds(10))
                #expect(records.count <= 1024)
                read += records
                calls += 1
            }
            #expect(read.map(\.payload) == messages.map(\.payload))
            #expect(zip(read, read.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            #expect(calls >= 3 && calls <= 6, "\(calls) calls for 2,500 records")
            // The log's own read (a new owner's replay) goes through a reader too, without waiting at the end.
            let replayStarted = ContinuousClock.now
            var replayed: [[UInt8]] = []
            try log.read(after: before) { _, bytes in
                replayed.append(Array(bytes))
                return true
            }
            #expect(replayed == messages.map(\.payload))
            #expect(ContinuousClock.now - replayStarted < .seconds(5))
            // Nothing more: an empty answer once the wait is over, not at some longer server timeout.
            let idle = ContinuousClock.now
            #expect(try reader.next(wait: .milliseconds(200)).isEmpty)
            #expect(ContinuousClock.now - idle < .seconds(5))
        }
    }

    /// A consumer deleted on the server (an operator, its inactivity threshold after a long pause of the
    /// process) is started again after the last record returned: the reader goes on, nothing skipped or
    /// read twice.
    @Test func aConsumerDeletedOnTheServerIsStartedAgain() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let stream = try openStream(url)
            let log = try JetStreamLog(stream: stream, partition: 3)
            let before = log.lastSequence
            let publisher = try PartitionPublisher(stream: stream)
            func publish(_ range: Range<Int>) throws -> [[UInt8]] {
                let messages = range.map { PartitionPublisher.Message(partition: 3, messageId: "", payload: Array("d\($0)".utf8)) }
                _ = try publisher.publish(batch: messages)
                return messages.map(\.payload)
            }
            let reader = try PartitionReader(log: log, after: before, batch: 16)
            defer { reader.close() }
            let restarts = Mutex<[(reason: String, after: UInt64)]>([])
            reader.onNewConsumer = { reason, after in restarts.withLock { $0.append((reason, after)) } }
            var expected = try publish(0..<40)
            var read = try reader.next(wait: .seconds(10))
            let firstRead = read.count
            #expect(firstRead == 1 || firstRead == 16)
            let name = try #require(reader.consumer)
            var code = jsErrCode(0)
            let deleted = stream.name.withCString { s in name.withCString { c in js_DeleteConsumer(log.context.handle, s, c, nil, &code) } }
            #expect(deleted == NATS_OK, "delete consumer \(name): \(String(cString: natsStatus_GetText(deleted)))")
            expected += try publish(40..<60)
            var calls = 0
            while read.count < expected.count && calls < 50 {
                read += try reader.next(wait: .seconds(2))
                calls += 1
            }
            #expect(read.map(\.payload) == expected, "\(read.count) of \(expected.count) read in \(calls) calls")
            #expect(reader.consumer != nil && reader.consumer != name, "a new consumer")
            let said = restarts.withLock { $0 }
            #expect(said.count == 1 && said.first?.reason == "its consumer is gone from the server")
            #expect(said.first?.after == read[firstRead - 1].sequence, "followed again after the last record returned")
        }
    }

    /// A consumer deleted while the reader waits on it (an operator's `nats consumer rm`: the server answers
    /// the waiting request with an error) is started again at once, not reported as a failed read.
    @Test func aConsumerDeletedWhileTheReaderWaitsIsStartedAgain() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let stream = try openStream(url)
            let log = try JetStreamLog(stream: stream, partition: 0)
            let publisher = try PartitionPublisher(stream: stream)
            let reader = try PartitionReader(log: log, after: log.lastSequence)
            defer { reader.close() }
            let restarts = Mutex<[String]>([])
            reader.onNewConsumer = { reason, _ in restarts.withLock { $0.append(reason) } }
            let name = try #require(reader.consumer)
            let deleted = DispatchSemaphore(value: 0)
            let deleter = Thread {
                defer { deleted.signal() }
                // Once the server holds the reader's request (however long the reader takes to make it).
                var waiting: Int64 = 0
                for _ in 0..<6000 where waiting == 0 {
                    var info: UnsafeMutablePointer<jsConsumerInfo>?
                    var code = jsErrCode(0)
                    _ = stream.name.withCString { s in name.withCString { c in js_GetConsumerInfo(&info, log.context.handle, s, c, nil, &code) } }
                    waiting = info?.pointee.NumWaiting ?? 0
                    if let info { jsConsumerInfo_Destroy(info) }
                    if waiting == 0 { usleep(20_000) }
                }
                var code = jsErrCode(0)
                _ = stream.name.withCString { s in name.withCString { c in js_DeleteConsumer(log.context.handle, s, c, nil, &code) } }
            }
            deleter.start()
            defer { deleted.wait() }
            var read: [PartitionReader.Record] = []
            var calls = 0
            // Long requests: the deletion lands on one waiting (a request expiring between the deleter's look
            // and its delete would take the other path, the check after an empty answer).
            while restarts.withLock({ $0.isEmpty }) && calls < 10 {
                read += try reader.next(wait: .seconds(60))
                calls += 1
            }
            #expect(restarts.withLock { $0 } == ["its consumer was deleted on the server"], "after \(calls) calls")
            _ = try publisher.publish(.init(partition: 0, messageId: "", payload: Array("after".utf8)))
            read += try reader.next(wait: .seconds(30))
            #expect(read.map(\.payload) == [Array("after".utf8)])
        }
    }

    /// A waiting reader returns as soon as a record comes, long before its wait is over; an interrupted
    /// one returns at once with nothing.
    @Test func aWaitingReaderWakesForANewRecordAndWhenInterrupted() async throws {
        let url = try SharedNATSServer.server.url
        try await offThread {
            let stream = try openStream(url)
            let log = try JetStreamLog(stream: stream, partition: 2)
            let reader = try PartitionReader(log: log, after: log.lastSequence)
            defer { reader.close() }
            let publisher = try PartitionPublisher(stream: stream)
            let later = Thread {
                usleep(300_000)
                _ = try? publisher.publish(.init(partition: 2, messageId: "", payload: Array("late".utf8)))
            }
            later.start()
            let started = ContinuousClock.now
            let records = try reader.next(wait: .seconds(60))
            #expect(records.map(\.payload) == [Array("late".utf8)])
            #expect(ContinuousClock.now - started < .seconds(30), "returned with the record, not at the end of the wait")
            let stopper = Thread {
                usleep(300_000)
                reader.interrupt()
            }
            stopper.start()
            let waiting = ContinuousClock.now
            #expect(try reader.next(wait: .seconds(60)).isEmpty)
            #expect(ContinuousClock.now - waiting < .seconds(30), "returned when interrupted")
        }
    }
}
