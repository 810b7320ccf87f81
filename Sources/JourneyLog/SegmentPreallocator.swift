import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps the active segment's file allocated ahead of its records, on a thread of its own: zeros
/// written and synced a chunk at a time (written, not `fallocate`d: an unwritten extent is converted
/// by the first write into it, which is a metadata change again). A group commit then writes records
/// into blocks the file already has, and its `fdatasync` flushes data only: the file's size and extents
/// do not change, so on ext4 it does not wait for a journal commit — which carries every other
/// process's pending data with it, the group commit's tail latency on a busy disk (bench/README.md).
///
/// Zeros are never written over records: a write first reserves its range (waiting while zeros are
/// being written into it), and zeros go only after the end of the records reserved. The bytes after
/// the last record are zeros, which no record reads as (a torn tail is cut back on open, as before).
final class SegmentPreallocator: @unchecked Sendable {
    /// How far ahead of the records the file is kept allocated.
    let chunk: Int
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var path: String?
    /// The file's size: records, then zeros.
    private var allocated = 0
    /// The end of the records written or being written.
    private var dataEnd = 0
    private var wanted = 0
    private var extending: Range<Int>?
    private var stopped = false

    init(chunk: Int) {
        self.chunk = chunk
        let thread = Thread { [self] in loop() }
        thread.name = "journeyd log preallocate"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// `path` is the active segment now; its file is `size` bytes, all of them records.
    func activate(path: String, size: Int) {
        condition.withLock {
            while extending != nil { condition.wait() }
            self.path = path
            allocated = size
            dataEnd = size
            wanted = size + chunk
            condition.broadcast()
        }
    }

    /// Stops preallocating the active segment (before it is closed, cut back or replaced), once no zeros
    /// are being written into it.
    func deactivate() {
        condition.withLock {
            while extending != nil { condition.wait() }
            path = nil
        }
    }

    /// Before records are written at `range`: waits while zeros are being written there.
    func reserve(_ range: Range<Int>) {
        condition.withLock {
            while let zeros = extending, zeros.overlaps(range) { condition.wait() }
            dataEnd = max(dataEnd, range.upperBound)
        }
    }

    /// After records were written up to `end`: asks for more room once less than half a chunk is left.
    func written(upTo end: Int) {
        condition.withLock {
            guard path != nil, end + chunk / 2 > wanted else { return }
            wanted = end + chunk
            condition.broadcast()
        }
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    private func loop() {
        while true {
            let work: (path: String, range: Range<Int>)? = condition.withLock {
                while !stopped {
                    if let path, wanted > max(allocated, dataEnd) {
                        let range = max(allocated, dataEnd)..<wanted
                        extending = range
                        return (path, range)
                    }
                    condition.wait()
                }
                return nil
            }
            guard let work else { return }
            let filled = Self.fill(work.path, work.range)
            condition.withLock {
                extending = nil
                if filled {
                    allocated = max(allocated, work.range.upperBound)
                } else {
                    wanted = 0  // no room to spare (or no file): records are appended as they come
                }
                condition.broadcast()
            }
        }
    }

    /// Writes zeros over `range` of the file and syncs them; false when that is not possible or the
    /// file system has little room left (zeros must not take the space records need).
    static func fill(_ path: String, _ range: Range<Int>) -> Bool {
        var info = statvfs()
        guard statvfs(path, &info) == 0, Double(info.f_bavail) * Double(info.f_frsize) > Double(range.count) * 64 else { return false }
        let file = open(path, O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return false }
        defer { close(file) }
        let zeros = [UInt8](repeating: 0, count: min(range.count, 1 << 20))
        var offset = range.lowerBound
        while offset < range.upperBound {
            let n = zeros.withUnsafeBytes { pwrite(file, $0.baseAddress!, min($0.count, range.upperBound - offset), off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return fdatasync(file) == 0
    }
}
