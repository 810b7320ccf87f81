import Foundation
import JourneyCore
import Logging
import ServiceLifecycle

/// Writes checkpoints in the background (DESIGN §6): every `state.checkpoint.every` while the log
/// grows, sooner once `state.checkpoint.log_bytes` were logged since the last one, and once more at
/// shutdown. A checkpoint is the processor's snapshot of what changed, written to the checkpoint store
/// in one transaction only after the log is durable up to the position it covers; then the log
/// segments it covers are deleted (after `state.log_retention`).
///
/// A failed write stops the daemon (crash-only): the log still holds everything, and a restart
/// replays it from the last checkpoint that was written.
struct Checkpointer: Service {
    let processor: PartitionProcessor
    let store: any CheckpointStore
    let log: any EventLog
    let every: TimeSpan
    let logBytes: Int
    let retention: TimeSpan
    let logger: Logger
    /// The log position the last checkpoint written covers (records replayed at start are after it).
    let covered: UInt64
    /// Cluster mode: the partition's lease token, which every checkpoint carries (a checkpoint under a
    /// token that is no longer current is refused by the store, and this service fails: the partition stops).
    var fence: FencingToken? = nil
    /// The log's ``EventLog/storedBytes`` at the position `covered` (nil: as it is when this starts). Cluster
    /// mode counts from the checkpoint it restored, so a takeover that replayed much checkpoints at once:
    /// a chain of kills then does not pile up the replay each next owner must do.
    var bytesCovered: Int? = nil
    /// Cluster mode: a checkpoint that covers a `forget` purges the partition's subject through it instead of
    /// rewriting records (a JetStream message cannot be edited, and each holds other users' events too):
    /// the forgotten user's events leave the stream at once, whatever `state.log_retention` says.
    var eraseByDiscarding = false
    /// Where written snapshots are freed (``DeferredRelease``).
    let garbage = DeferredRelease(label: "journeyd checkpoint release")

    func run() async throws {
        var last = MonotonicClock.nanoseconds
        var lastSequence = covered
        var bytesAtLast = bytesCovered ?? log.storedBytes
        var retained: [(at: UInt64, sequence: UInt64)] = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {  // (a cancelled nap returns at once)
            await nap(.milliseconds(250))
            let now = MonotonicClock.nanoseconds
            let grown = log.lastSequence != lastSequence
            let due = now - last >= UInt64(every.milliseconds) * 1_000_000 || log.storedBytes - bytesAtLast >= logBytes
            guard grown && due else { continue }
            guard let written = try await checkpoint() else { return }
            last = MonotonicClock.nanoseconds
            // What the checkpoint covers, not the log's end now: records appended while it was written
            // (a delivery's outcome) are not in it, and the last checkpoint at shutdown must take them.
            lastSequence = written
            retained.append((last, written))
            // Segments a checkpoint covers go once the retention has passed.
            let horizon = last - min(last, UInt64(max(0, retention.milliseconds)) * 1_000_000)
            if let keep = retained.last(where: { $0.at <= horizon }) {
                try await blocking("journeyd checkpoint") { [log] in try log.discard(through: keep.sequence) }
                retained.removeAll { $0.at <= horizon }
            }
            bytesAtLast = log.storedBytes
        }
        // Shutdown: the dispatcher has drained and its decisions are logged; one last checkpoint makes
        // the next start quick.
        if log.lastSequence != lastSequence {
            if let written = try await checkpoint(last: true), retention <= .zero {
                try await blocking("journeyd checkpoint") { [log] in try log.discard(through: written) }
            }
        }
    }

    /// Takes and writes one checkpoint; returns the log sequence it covers (nil when the processor has
    /// stopped and nothing was written). After the `last` one the processor only stops, so it is not told:
    /// letting go of what the checkpoint holds (every final touch of a back-fill) would only delay the stop.
    private func checkpoint(last: Bool = false) async throws -> UInt64? {
        let started = MonotonicClock.nanoseconds
        let taken: Checkpoint? = await withCheckedContinuation { continuation in
            processor.inbox.post(.checkpoint(reply: { continuation.resume(returning: $0) }))
        }
        guard var snapshot = consume taken else { return nil }  // the processor stopped: nothing to write, nothing covered
        snapshot.fence = fence
        try await blocking("journeyd checkpoint") { [log, store, snapshot, eraseByDiscarding] in
            if log.durableSequence < snapshot.logSequence { _ = try log.sync() }
            try store.write(snapshot)
            // Users forgotten: the checkpoint no longer needs their events nor the records naming them.
            if eraseByDiscarding {
                if !snapshot.forgottenUsers.isEmpty { try log.discard(through: snapshot.logSequence) }
            } else {
                try LogErasure.erase(Set(snapshot.forgottenUsers), through: snapshot.logSequence, in: log)
            }
        }
        if !last { processor.inbox.post(.checkpointWritten(snapshot.logSequence)) }
        let milliseconds = (MonotonicClock.nanoseconds - started) / 1_000_000
        processor.metrics.checkpoint(nanoseconds: MonotonicClock.nanoseconds - started)
        logger.debug(
            "checkpoint at log record \(snapshot.logSequence): \(snapshot.users.count) users, \(snapshot.outbox.count) touches, \(snapshot.timersArmed.count) timers armed, in \(milliseconds) ms")
        let covered = snapshot.logSequence
        // A back-fill's last checkpoint holds every user and touch: freeing them took a twentieth of a second
        // between the last write and the stop.
        garbage.release(consume snapshot)
        return covered
    }
}
