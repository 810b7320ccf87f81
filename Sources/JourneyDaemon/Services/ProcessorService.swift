import Foundation
import ServiceLifecycle

/// Runs a partition's processor on a thread of its own for the life of the service group. On graceful
/// shutdown (the last service to stop: sources, dispatcher and checkpointer have finished) it asks the
/// processor to stop once everything accepted is durable.
struct ProcessorService: Service {
    let processor: PartitionProcessor

    func run() async throws {
        // Stopped gracefully, or — when the group is cancelled — at once: either way the processor
        // finishes what is accepted and the thread ends, so the group can return.
        let failure: String? = try await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let thread = Thread { continuation.resume(returning: processor.run()) }
                    thread.name = "journeyd partition \(processor.partition)"
                    thread.stackSize = 8 << 20
                    thread.start()
                }
            } onCancel: {
                processor.inbox.post(.stop(reply: {}))
            }
        } onGracefulShutdown: {
            processor.inbox.post(.stop(reply: {}))
        }
        if let failure { throw DaemonError(failure, storage: true) }
    }
}
