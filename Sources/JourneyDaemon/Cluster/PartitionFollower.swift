import Dispatch
import Foundation
import JourneyCore
import JourneyEvents
import JourneyNATS
import Logging
import ServiceLifecycle
import Synchronization

/// Cluster mode: has the partition's processor apply what the inputs published to its subject
/// (``PartitionProcessor/follow(_:parser:)``) as it comes. A thread of its own waits on the server for
/// new records (``PartitionReader``, a long-poll pull consumer): an idle partition costs one request per
/// `wait`, a busy one is read in batches of up to 1,024 records, the next batch fetched while the
/// processor applies the last. A failed read fails the processor, which stops the partition's services
/// (crash-only: a new owner replays from the checkpoint); it is logged.
struct PartitionFollower: Service {
    let processor: PartitionProcessor
    let parser: SegmentEventParser
    let reader: PartitionReader
    let wait: Duration

    func run() async throws {
        let stopped = SharedFlag()
        let (reader, processor, parser, wait) = (self.reader, self.processor, self.parser, self.wait)
        let deaf = DeafFollowerFault.ignoresStopOnce(processor.partition)
        let stop: @Sendable () -> Void = {
            if deaf { return }
            stopped.set()
            reader.interrupt()
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await blocking("journeyd follow \(processor.partition)") {
                    defer { reader.close() }
                    do {
                        try Self.follow(reader: reader, processor: processor, parser: parser, wait: wait, stopped: stopped)
                    } catch {
                        // As a failed log in embedded mode: the processor fails, which stops the partition's
                        // services (and the instance lets the partition go).
                        processor.logger.error("partition \(processor.partition): reading the log failed: \(error)")
                        processor.inbox.post(.failed("partition \(processor.partition): reading the log failed: \(error)", diskFull: false))
                    }
                }
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            stop()
        }
        // Stopped by a failure: stay until the group stops, as the other services do.
        if !stopped.isSet { try? await gracefulShutdown() }
    }

    /// Reads and hands batches of records to the processor, one apply outstanding at a time.
    private static func follow(reader: PartitionReader, processor: PartitionProcessor, parser: SegmentEventParser, wait: Duration, stopped: SharedFlag) throws {
        if FollowerFault.stallsOnce(processor.partition) {
            // Fault injection (tests of the stall watchdog): this follower reads nothing until it is stopped.
            while !stopped.isSet { Thread.sleep(forTimeInterval: 0.05) }
            return
        }
        let (logger, partition) = (processor.logger, processor.partition)
        reader.onNewConsumer = { reason, after in
            logger.warning(
                "partition \(partition): \(reason); following again after stream sequence \(after) with a new consumer",
                metadata: [RecordField.kind: "consumer_restarted"])
        }
        var applying: DispatchSemaphore?
        while !stopped.isSet {
            let records = try reader.next(wait: wait).map { (sequence: $0.sequence, payload: $0.payload) }
            guard !records.isEmpty else { continue }
            if let applying {
                // A stopped processor drops the query: then the flag ends this loop.
                while applying.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
                    if stopped.isSet { return }
                }
            }
            let done = DispatchSemaphore(value: 0)
            processor.inbox.post(
                .query { p in
                    defer { done.signal() }
                    do {
                        try p.follow(records, parser: parser)
                    } catch {
                        // At once, on the processor's thread: no checkpoint may be taken of the state a record
                        // applied in part (one already queued behind this query would be).
                        p.fail("partition \(p.partition): applying the log failed: \(error)", diskFull: false)
                    }
                })
            applying = done
        }
    }
}
