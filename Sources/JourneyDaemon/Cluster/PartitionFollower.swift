import Dispatch
import JourneyEvents
import JourneyNATS
import ServiceLifecycle
import Synchronization

/// Cluster mode: has the partition's processor apply what the inputs published to its subject
/// (``PartitionProcessor/follow(_:parser:)``) as it comes. A thread of its own waits on the server for
/// new records (``PartitionReader``, a long-poll pull consumer): an idle partition costs one request per
/// `wait`, a busy one is read in batches of up to 1,024 records, the next batch fetched while the
/// processor applies the last. A failed read stops the partition's services (crash-only: a new owner
/// replays from the checkpoint).
struct PartitionFollower: Service {
    let processor: PartitionProcessor
    let parser: SegmentEventParser
    let reader: PartitionReader
    let wait: Duration

    func run() async throws {
        let stopped = StopFlag()
        let (reader, processor, parser, wait) = (self.reader, self.processor, self.parser, self.wait)
        let stop: @Sendable () -> Void = {
            stopped.value.store(true, ordering: .releasing)
            reader.interrupt()
        }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await blocking("journeyd follow \(processor.partition)") {
                    defer { reader.close() }
                    try Self.follow(reader: reader, processor: processor, parser: parser, wait: wait, stopped: stopped)
                }
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            stop()
        }
    }

    /// Reads and hands batches of records to the processor, one apply outstanding at a time.
    private static func follow(reader: PartitionReader, processor: PartitionProcessor, parser: SegmentEventParser, wait: Duration, stopped: StopFlag) throws {
        var applying: DispatchSemaphore?
        while !stopped.value.load(ordering: .acquiring) {
            let records = try reader.next(wait: wait).map { (sequence: $0.sequence, payload: $0.payload) }
            guard !records.isEmpty else { continue }
            if let applying {
                // A stopped processor drops the query: then the flag ends this loop.
                while applying.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
                    if stopped.value.load(ordering: .acquiring) { return }
                }
            }
            let done = DispatchSemaphore(value: 0)
            processor.inbox.post(
                .query { p in
                    defer { done.signal() }
                    do {
                        try p.follow(records, parser: parser)
                    } catch {
                        p.inbox.post(.failed("partition \(p.partition): applying the log failed: \(error)", diskFull: false))
                    }
                })
            applying = done
        }
    }
}

private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
