import Dispatch
import Foundation
import JourneyCore

/// A checkpoint's outbox rows, put in key order and encoded on another thread while the checkpoint's
/// writer inserts its users, timers and ids, then the rows already encoded.
///
/// A back-fill's last checkpoint holds every touch it made (49,847 in the bench's 200,000-event spool
/// run), and ordering and encoding them was about a third of that checkpoint's time on the one thread
/// SQLite writes from, while the other core was idle: the end of a run waits for that checkpoint.
///
/// The rows are encoded in chunks (one buffer each, not one allocation per row), at most a few chunks
/// ahead of the writer, so a checkpoint of millions of touches never holds more than those chunks
/// encoded at once. A writer that stops early (an insert failed, before or while it read the rows) lets
/// the encoding thread go: ``abandon()``.
final class EncodedOutbox: @unchecked Sendable {
    private struct Chunk {
        var indices: ArraySlice<Int>
        var bytes: [UInt8]
        var ends: [Int]
    }

    private let chunkCount: Int
    /// Signalled once per chunk encoded.
    private let encoded = DispatchSemaphore(value: 0)
    /// Chunks the encoder may be ahead of the writer.
    private let room: DispatchSemaphore
    private let lock = NSLock()
    private var chunks: [Chunk] = []  // under `lock`: encoded and not yet taken, in order
    private var abandoned = false  // under `lock`

    /// Starts ordering and encoding `entries` (a copy of the array: nothing here changes them).
    init(_ entries: [OutboxEntry], rowsPerChunk: Int = 4096, chunksAhead: Int = 4) {
        chunkCount = (entries.count + rowsPerChunk - 1) / rowsPerChunk
        room = DispatchSemaphore(value: chunksAhead)
        guard !entries.isEmpty else { return }
        // A thread of its own, not a dispatch worker: it waits for room while the writer catches up.
        let thread = Thread { [self] in
            let order = SQLiteCheckpointStore.keyOrder(entries.map { ($0.touch.user, $0.touch.id) })
            var w = ByteWriter(capacity: 0)
            for start in stride(from: 0, to: order.count, by: rowsPerChunk) {
                room.wait()
                if lock.withLock({ abandoned }) { return }
                let indices = order[start..<min(start + rowsPerChunk, order.count)]
                w.bytes = []
                w.bytes.reserveCapacity(indices.count * 256)
                var ends: [Int] = []
                ends.reserveCapacity(indices.count)
                for i in indices {
                    entries[i].encode(into: &w)
                    ends.append(w.bytes.count)
                }
                let chunk = Chunk(indices: indices, bytes: w.bytes, ends: ends)
                lock.withLock { chunks.append(chunk) }
                encoded.signal()
            }
        }
        thread.name = "journeyd checkpoint encoding"
        thread.start()
    }

    /// Calls `body` with each entry's index and encoded row, in key order, as the rows are encoded.
    /// Call once.
    func forEach(_ body: (_ index: Int, _ row: UnsafeRawBufferPointer) throws -> Void) rethrows {
        defer { abandon() }
        for _ in 0..<chunkCount {
            encoded.wait()
            let chunk = lock.withLock { chunks.removeFirst() }
            room.signal()
            try chunk.bytes.withUnsafeBytes { raw in
                var start = 0
                for (n, i) in chunk.indices.enumerated() {
                    try body(i, UnsafeRawBufferPointer(rebasing: raw[start..<chunk.ends[n]]))
                    start = chunk.ends[n]
                }
            }
        }
    }

    /// No more rows are read (the writer is done, or stopped before it read them all — or any): the
    /// encoding thread stops at its next chunk and lets go of the entries. Safe to call more than once.
    func abandon() {
        lock.withLock { abandoned = true }
        for _ in 0..<chunkCount { room.signal() }  // an encoder waiting for room finds it, and stops
    }
}
