import Dispatch
import JourneyCore

/// A checkpoint's outbox rows, put in key order and encoded on another thread while the checkpoint's
/// writer inserts its users, timers and ids.
///
/// A back-fill's last checkpoint holds every touch it made (49,847 in the bench's 200,000-event spool
/// run), and ordering and encoding them was about a third of that checkpoint's time on the one thread
/// SQLite writes from, while the other core was idle: the end of a run waits for that checkpoint.
/// The rows go into one buffer (one allocation, not one per row), read back by index in key order.
final class EncodedOutbox: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the encoding thread before `done` is signalled; read only after `wait()`.
    private var order: [Int] = []
    private var bytes: [UInt8] = []
    private var ends: [Int] = []

    /// Starts ordering and encoding `entries` (a copy of the array: nothing here changes them).
    init(_ entries: [OutboxEntry]) {
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            order = SQLiteCheckpointStore.keyOrder(entries.map { ($0.touch.user, $0.touch.id) })
            var w = ByteWriter(capacity: entries.count * 256)
            ends.reserveCapacity(entries.count)
            for i in order {
                entries[i].encode(into: &w)
                ends.append(w.bytes.count)
            }
            bytes = w.bytes
            done.signal()
        }
    }

    /// Waits for the encoding, then calls `body` with each entry's index and encoded row, in key order.
    func forEach(_ body: (_ index: Int, _ row: UnsafeRawBufferPointer) throws -> Void) rethrows {
        done.wait()
        done.signal()  // a second call does not wait forever
        try bytes.withUnsafeBytes { raw in
            var start = 0
            for (n, i) in order.enumerated() {
                try body(i, UnsafeRawBufferPointer(rebasing: raw[start..<ends[n]]))
                start = ends[n]
            }
        }
    }
}
