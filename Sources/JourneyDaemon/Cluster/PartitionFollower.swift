import JourneyEvents
import ServiceLifecycle
import Synchronization

/// Cluster mode: has the partition's processor apply what the inputs published to its subject
/// (``PartitionProcessor/follow(parser:)``), again as soon as a pass applied something, else after
/// `interval`. A failed read stops the processor (crash-only: a new owner replays from the checkpoint).
struct PartitionFollower: Service {
    let processor: PartitionProcessor
    let parser: SegmentEventParser
    let interval: Duration

    func run() async throws {
        let busy = Atomic<Bool>(false)
        let appliedSome = Atomic<Bool>(false)
        let parser = self.parser
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if !busy.load(ordering: .acquiring) {
                busy.store(true, ordering: .releasing)
                // A query, not awaited: a processor that stopped drops it, and this loop ends with the group.
                processor.inbox.post(
                    .query { p in
                        defer { busy.store(false, ordering: .releasing) }
                        do {
                            appliedSome.store(try p.follow(parser: parser) > 0, ordering: .relaxed)
                        } catch {
                            p.inbox.post(.failed("partition \(p.partition): reading the log failed: \(error)", diskFull: false))
                        }
                    })
            }
            if !appliedSome.exchange(false, ordering: .relaxed) { await nap(interval) } else { await Task.yield() }
        }
    }
}
