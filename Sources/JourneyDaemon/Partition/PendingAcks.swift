import Foundation
import JourneyCore

/// Batches appended to the log and not yet durable, with who waits for them. The ``LogSyncer`` answers
/// them itself the moment a sync makes them durable — not through the processor's queue, where the
/// answer waited behind whatever the processor was applying (a turn of many batches): that wait, not the
/// `fdatasync`, was most of the paced socket's tail latency (bench/README.md, issue 9).
final class PendingAcks: @unchecked Sendable {
    private struct Entry {
        var sequence: UInt64
        var receipt: IntakeReceipt
        var appended: UInt64
        var refused: [(line: Int, path: String, reason: String)]
    }
    private let lock = NSLock()
    private var entries: [Entry] = []
    private var head = 0
    private let metrics: DaemonMetrics

    init(metrics: DaemonMetrics) { self.metrics = metrics }

    /// A batch appended at `sequence`; answered at once when the log is already durable past it (a sync
    /// that ran meanwhile covered it).
    func add(_ sequence: UInt64, _ receipt: IntakeReceipt, refused: [(line: Int, path: String, reason: String)], durable: () -> UInt64) {
        let now = lock.withLock { () -> Bool in
            if durable() >= sequence { return true }
            entries.append(Entry(sequence: sequence, receipt: receipt, appended: MonotonicClock.nanoseconds, refused: refused))
            return false
        }
        if now {
            receipt.resolve(.durable(refused: refused))
            metrics.batchDurable(nanoseconds: 0)
        }
    }

    /// The log is durable through `durable`: answers every batch it covers.
    func resolve(through durable: UInt64) {
        let ready: ArraySlice<Entry> = lock.withLock {
            var end = head
            while end < entries.count, entries[end].sequence <= durable { end += 1 }
            defer {
                head = end
                if head == entries.count {
                    entries.removeAll(keepingCapacity: true)
                    head = 0
                } else if head > 1024 && head * 2 > entries.count {
                    entries.removeFirst(head)
                    head = 0
                }
            }
            return entries[head..<end]
        }
        let now = MonotonicClock.nanoseconds
        for entry in ready {
            entry.receipt.resolve(.durable(refused: entry.refused))
            metrics.batchDurable(nanoseconds: now - entry.appended)
        }
    }

    /// Nothing more will become durable: every batch waiting is refused.
    func refuseAll(_ reason: String) {
        let left: ArraySlice<Entry> = lock.withLock {
            defer {
                entries.removeAll()
                head = 0
            }
            return entries[head...]
        }
        for entry in left { entry.receipt.resolve(.refused(reason)) }
    }

    var isEmpty: Bool { lock.withLock { head == entries.count } }
}
