import Foundation
public import JourneyCore
import Synchronization

/// The embedded ``EventLog``: segment files in a directory of the state directory.
///
/// Format (docs/ARCHITECTURE.md, "The event log"): each segment file is named after the sequence number
/// of its first record (`00000000000000000001.log`) and starts with a 16-byte header — the magic
/// `JRNYLOG1` and that first sequence number. Records follow back to back:
///
///     u32 payload length | u32 CRC-32C of (length, sequence, payload) | u64 sequence | payload
///
/// all little-endian. A sync writes everything appended since the last one with one `write(2)` and one
/// `fdatasync(2)` (group commit). A segment is closed once it passes ``Options/segmentBytes``; the next
/// starts with a new file and a directory fsync.
///
/// Opening recovers from a crash at any byte: the last segment is scanned and cut back to its last whole
/// record (a torn tail: a short record, a bad checksum, a length that runs past the end); earlier
/// segments were synced whole before the next one began, and any damage found in them later is reported,
/// never skipped.
public final class SegmentedLog: EventLog, @unchecked Sendable {
    public struct Options: Sendable {
        /// A segment is closed and a new one started once it holds this many bytes.
        public var segmentBytes: Int
        /// `fdatasync` on every sync (the default). Off only for benchmarks that measure without the disk.
        public var fsync: Bool

        /// How far ahead of its records the active segment's file is kept allocated (zeros, written and
        /// synced in the background), so that a group commit's `fdatasync` changes no metadata; 0: off.
        public var preallocateBytes: Int

        public init(segmentBytes: Int = 64 << 20, fsync: Bool = true, preallocateBytes: Int = 4 << 20) {
            self.segmentBytes = segmentBytes
            self.fsync = fsync
            self.preallocateBytes = preallocateBytes
        }
    }

    static let magic: [UInt8] = Array("JRNYLOG1".utf8)
    static let headerBytes = 16
    static let recordHeaderBytes = 16
    /// No single record is larger (a batch of events is split long before): a longer length is damage.
    static let maxPayloadBytes = 256 << 20

    public let directory: String
    let options: Options

    /// What `append` and `sync` share: the records appended and not yet handed to a sync.
    private struct Pending {
        var buffer: [UInt8] = []
        var lastSequence: UInt64 = 0
    }
    private let pending = Mutex(Pending())
    /// Serializes syncs, discards and rewrites (one at a time; appends continue meanwhile).
    private let writeLock = NSLock()
    // Guarded by writeLock:
    private var segments: [Segment] = []
    private var fd: Int32 = -1
    private var activeBytes = 0
    private let durable = Atomic<UInt64>(0)
    private let preallocator: SegmentPreallocator?

    struct Segment {
        var first: UInt64
        var path: String
        var bytes: Int
    }

    /// Opens (creating) the log in `directory`, cutting a torn tail back to the last whole record.
    public init(directory: String, options: Options = Options()) throws(LogError) {
        self.directory = directory
        self.options = options
        preallocator = options.fsync && options.preallocateBytes > 0 ? SegmentPreallocator(chunk: min(options.preallocateBytes, options.segmentBytes)) : nil
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LogError(path: directory, operation: "create directory", reason: "\(error)")
        }
        var found: [Segment] = []
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw LogError(path: directory, operation: "list", reason: "\(error)")
        }
        for name in names where name.hasSuffix(".log") {
            guard let first = UInt64(name.dropLast(4)) else { continue }
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0 else { throw .system(path, "stat") }
            found.append(Segment(first: first, path: path, bytes: Int(info.st_size)))
        }
        found.sort { $0.first < $1.first }
        var last: UInt64 = 0
        if let tail = found.last, tail.bytes < Self.headerBytes {
            // Created but not yet given its whole header when the process died: nothing was in it.
            guard unlink(tail.path) == 0 else { throw .system(tail.path, "delete torn segment") }
            found.removeLast()
            last = tail.first - 1
        }
        if var tail = found.last {
            let (lastInTail, whole) = try Self.scanTail(tail)
            if whole < tail.bytes {
                let cut = open(tail.path, O_WRONLY | O_CLOEXEC)
                guard cut >= 0 else { throw .system(tail.path, "open") }
                defer { close(cut) }
                guard ftruncate(cut, off_t(whole)) == 0 else { throw .system(tail.path, "truncate torn tail") }
                guard fsync(cut) == 0 else { throw .system(tail.path, "fsync") }
                tail.bytes = whole
                found[found.count - 1] = tail
            }
            last = lastInTail ?? (tail.first - 1)
        }
        segments = found
        pending.withLock { $0.lastSequence = last }
        durable.store(last, ordering: .releasing)
        if segments.isEmpty {
            try startSegment(first: last + 1)
        } else {
            let tail = segments[segments.count - 1]
            fd = open(tail.path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw .system(tail.path, "open") }
            activeBytes = tail.bytes
            preallocator?.activate(path: tail.path, size: activeBytes)
        }
    }

    deinit {
        preallocator?.stop()
        if fd >= 0 { close(fd) }
    }

    /// Opens the log of a partition whose last checkpoint covers the records through `checkpoint`.
    ///
    /// A log that ends before the checkpoint (its last records were never synced — `durability: normal`
    /// and a power loss — or it was removed by hand) holds nothing the checkpoint lacks: it starts again
    /// after the checkpoint. A log that starts after the record following the checkpoint has lost records
    /// nothing else holds: that is refused, with the range that is missing.
    public static func recovering(directory: String, after checkpoint: UInt64, options: Options = Options()) throws(LogError) -> SegmentedLog {
        let log = try SegmentedLog(directory: directory, options: options)
        if log.lastSequence < checkpoint {
            try log.restart(after: checkpoint)
        } else if log.firstSequence > checkpoint + 1 {
            throw LogError(
                path: directory, operation: "open",
                reason: "the log starts at record \(log.firstSequence), but the last checkpoint covers only records up to \(checkpoint): records \(checkpoint + 1)–\(log.firstSequence - 1) are missing")
        }
        return log
    }

    /// Removes every segment and starts the next record at `sequence + 1`.
    private func restart(after sequence: UInt64) throws(LogError) {
        writeLock.lock()
        defer { writeLock.unlock() }
        preallocator?.deactivate()
        for segment in segments { unlink(segment.path) }
        segments.removeAll()
        if fd >= 0 { close(fd) }
        fd = -1
        pending.withLock { $0 = Pending(buffer: [], lastSequence: sequence) }
        durable.store(sequence, ordering: .releasing)
        try startSegment(first: sequence + 1)
    }

    /// The last whole record of a segment and the byte length up to its end.
    static func scanTail(_ segment: Segment) throws(LogError) -> (last: UInt64?, wholeBytes: Int) {
        var last: UInt64?
        var whole = headerBytes
        try withMappedSegment(segment.path) { bytes throws(LogError) in
            guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic,
                UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) == segment.first
            else {
                throw LogError(path: segment.path, operation: "open", reason: "not a journeyd log segment (bad header)")
            }
            var offset = headerBytes
            var expected = segment.first
            while let record = Self.record(in: bytes, at: offset), record.sequence == expected {
                last = record.sequence
                offset = record.end
                whole = offset
                expected += 1
            }
        }
        return (last, whole)
    }

    /// The record starting at `offset`, if a whole, intact one does.
    static func record(in bytes: UnsafeRawBufferPointer, at offset: Int) -> (sequence: UInt64, payload: Range<Int>, end: Int)? {
        guard offset + recordHeaderBytes <= bytes.count else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        let crc = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        guard length <= maxPayloadBytes, offset + recordHeaderBytes + length <= bytes.count else { return nil }
        let sequence = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian
        var check = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 4]))
        check = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + recordHeaderBytes + length)]), continuing: check)
        guard check == crc else { return nil }
        let start = offset + recordHeaderBytes
        return (sequence, start..<(start + length), start + length)
    }

    /// Maps a segment read-only for the duration of `body`.
    static func withMappedSegment<R>(_ path: String, _ body: (UnsafeRawBufferPointer) throws(LogError) -> R) throws(LogError) -> R {
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw .system(path, "open") }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw .system(path, "stat") }
        let size = Int(info.st_size)
        guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, file, 0), base != MAP_FAILED else { throw .system(path, "mmap") }
        defer { munmap(base, size) }
        return try body(UnsafeRawBufferPointer(start: base, count: size))
    }

    // MARK: - EventLog

    public var lastSequence: UInt64 { pending.withLock { $0.lastSequence } }
    public var durableSequence: UInt64 { durable.load(ordering: .acquiring) }
    public var firstSequence: UInt64 {
        writeLock.withLock { segments.first?.first ?? 1 }
    }

    public func append(_ body: (inout ByteWriter) -> Void) throws(LogError) -> UInt64 {
        pending.withLock { state in
            state.lastSequence += 1
            let sequence = state.lastSequence
            var writer = ByteWriter(capacity: 0)
            swap(&writer.bytes, &state.buffer)
            let start = writer.bytes.count
            writer.fixed64(0)  // length and checksum, filled in below
            writer.fixed64(sequence)
            body(&writer)
            let length = writer.bytes.count - start - Self.recordHeaderBytes
            writer.bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: UInt32(length).littleEndian, toByteOffset: start, as: UInt32.self)
                var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<start + 4]))
                crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start + 8)...]), continuing: crc)
                raw.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
            }
            swap(&writer.bytes, &state.buffer)
            return sequence
        }
    }

    public func sync() throws(LogError) -> UInt64 {
        writeLock.lock()
        defer { writeLock.unlock() }
        var (buffer, upTo) = pending.withLock { state -> ([UInt8], UInt64) in
            var taken: [UInt8] = []
            swap(&taken, &state.buffer)
            return (taken, state.lastSequence)
        }
        guard !buffer.isEmpty else { return durable.load(ordering: .acquiring) }
        preallocator?.reserve(activeBytes..<(activeBytes + buffer.count))
        var failure: LogError?
        buffer.withUnsafeBytes { raw in
            do throws(LogError) { try writeAll(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        if options.fsync {
            guard fdatasync(fd) == 0 else { throw .system(segments[segments.count - 1].path, "fdatasync") }
        }
        activeBytes += buffer.count
        segments[segments.count - 1].bytes = activeBytes
        durable.store(upTo, ordering: .releasing)
        preallocator?.written(upTo: activeBytes)
        if activeBytes >= options.segmentBytes { try startSegment(first: upTo + 1) }
        // Hand the emptied buffer back so the next batch reuses its capacity.
        buffer.removeAll(keepingCapacity: true)
        pending.withLock { state in
            if state.buffer.isEmpty { swap(&state.buffer, &buffer) }
        }
        return upTo
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) throws(LogError) {
        var written = 0
        while written < raw.count {
            // At the end of the records, not of the file: the file may be preallocated beyond them.
            let n = pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(activeBytes + written))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(segments[segments.count - 1].path, "write")
            }
            written += n
        }
    }

    /// Closes the active segment and starts the next (writeLock held, or during init).
    private func startSegment(first: UInt64) throws(LogError) {
        if fd >= 0, let preallocator {
            // The closing segment ends at its last record (a closed segment has no zeros after it), made
            // durable before the next segment exists.
            preallocator.deactivate()
            let path = segments[segments.count - 1].path
            guard ftruncate(fd, off_t(activeBytes)) == 0 else { throw .system(path, "truncate closing segment") }
            guard fsync(fd) == 0 else { throw .system(path, "fsync") }
        }
        let path = directory + "/" + String(format: "%020llu.log", first)
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw .system(path, "create segment") }
        var header = Self.magic
        withUnsafeBytes(of: first.littleEndian) { header.append(contentsOf: $0) }
        let n = header.withUnsafeBytes { write(file, $0.baseAddress!, $0.count) }
        guard n == header.count else {
            let code = errno
            close(file)
            unlink(path)
            throw .system(path, "write segment header", code)
        }
        if options.fsync {
            guard fsync(file) == 0 else { throw .system(path, "fsync") }
            try syncDirectory()
        }
        if fd >= 0 { close(fd) }
        fd = file
        activeBytes = Self.headerBytes
        segments.append(Segment(first: first, path: path, bytes: activeBytes))
        preallocator?.activate(path: path, size: activeBytes)
    }

    private func syncDirectory() throws(LogError) {
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw .system(directory, "open directory") }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw .system(directory, "fsync directory") }
    }

    public func read(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        let held = writeLock.withLock { segments }
        guard let startIndex = held.lastIndex(where: { $0.first <= after + 1 }) ?? (held.isEmpty ? nil : 0) else { return }
        var expected = max(after + 1, held[startIndex].first)
        for segment in held[startIndex...] {
            var keepGoing = true
            try Self.withMappedSegment(segment.path) { bytes throws(LogError) in
                var offset = Self.headerBytes
                let end = min(bytes.count, segment.bytes)
                let view = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
                while keepGoing && offset < end {
                    guard let record = Self.record(in: view, at: offset) else {
                        throw LogError(
                            path: segment.path, operation: "read",
                            reason: "damaged record at byte \(offset) (after sequence \(expected - 1)): the log cannot be replayed past it")
                    }
                    offset = record.end
                    if record.sequence < expected { continue }
                    guard record.sequence == expected else {
                        throw LogError(
                            path: segment.path, operation: "read", reason: "sequence \(record.sequence) where \(expected) was expected")
                    }
                    expected += 1
                    do {
                        keepGoing = try body(record.sequence, UnsafeRawBufferPointer(rebasing: view[record.payload]))
                    } catch {
                        throw LogError(path: segment.path, operation: "replay sequence \(record.sequence)", reason: "\(error)")
                    }
                }
            }
            if !keepGoing { return }
        }
    }

    public func discard(through: UInt64) throws(LogError) {
        writeLock.lock()
        defer { writeLock.unlock() }
        // A segment can go when the next one starts at or before `through + 1` (all its records ≤ through).
        var removed = 0
        while segments.count > 1, segments[1].first <= through + 1 {
            guard unlink(segments[0].path) == 0 || errno == ENOENT else { throw .system(segments[0].path, "delete segment") }
            segments.removeFirst()
            removed += 1
        }
        if removed > 0 && options.fsync { try syncDirectory() }
    }

    public func rewrite(_ transform: (UInt64, UnsafeRawBufferPointer) throws -> [UInt8]?) throws {
        writeLock.lock()
        defer { writeLock.unlock() }
        // The active segment may be replaced: no zeros are written meanwhile; preallocated again after.
        preallocator?.deactivate()
        defer { if let active = segments.last { preallocator?.activate(path: active.path, size: activeBytes) } }
        for index in segments.indices {
            let segment = segments[index]
            var out: [UInt8] = []
            var changed = false
            try Self.withMappedSegment(segment.path) { bytes throws(LogError) in
                out.append(contentsOf: bytes[0..<Self.headerBytes])
                var offset = Self.headerBytes
                let end = min(bytes.count, segment.bytes)
                let view = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
                while offset < end, let record = Self.record(in: view, at: offset) {
                    offset = record.end
                    let payload = UnsafeRawBufferPointer(rebasing: view[record.payload])
                    let replaced: [UInt8]?
                    do { replaced = try transform(record.sequence, payload) } catch {
                        throw LogError(path: segment.path, operation: "rewrite", reason: "\(error)")
                    }
                    if replaced != nil { changed = true }
                    Self.frame(sequence: record.sequence, payload: replaced.map { $0[...] } ?? Array(payload)[...], into: &out)
                }
            }
            guard changed else { continue }
            let staging = segment.path + ".rewrite"
            let file = open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard file >= 0 else { throw LogError.system(staging, "create") }
            let ok = out.withUnsafeBytes { raw -> Bool in
                var written = 0
                while written < raw.count {
                    let n = write(file, raw.baseAddress! + written, raw.count - written)
                    if n <= 0 { return false }
                    written += n
                }
                return fsync(file) == 0
            }
            close(file)
            guard ok else { throw LogError.system(staging, "write") }
            guard rename(staging, segment.path) == 0 else { throw LogError.system(segment.path, "replace segment") }
            segments[index].bytes = out.count
            if index == segments.count - 1 {
                close(fd)
                fd = open(segment.path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw LogError.system(segment.path, "reopen") }
                activeBytes = out.count
            }
        }
        try syncDirectory()
    }

    static func frame(sequence: UInt64, payload: ArraySlice<UInt8>, into out: inout [UInt8]) {
        let start = out.count
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: [0, 0, 0, 0])
        withUnsafeBytes(of: sequence.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
        out.withUnsafeMutableBytes { raw in
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<start + 4]))
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start + 8)...]), continuing: crc)
            raw.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    public var storedBytes: Int { writeLock.withLock { segments.reduce(0) { $0 + $1.bytes } } }

    public var location: String { directory }

    /// The segment files, oldest first (for tests and `journeyd status`).
    public var segmentPaths: [String] { writeLock.withLock { segments.map(\.path) } }
}
