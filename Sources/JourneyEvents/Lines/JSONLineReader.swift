#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits newline-delimited input into lines: from a buffer in memory, or from a file descriptor read
/// in chunks (1 MiB by default) so that memory stays bounded whatever the input.
///
/// Every line is reported, in order, with its 1-based number and the offset of its first byte in the
/// whole input; the bytes exclude the `\n` or `\r\n` terminator. Blank lines are reported too (the
/// parser rejects them as "empty line"), and so are lines longer than ``maxLineBytes``: those come back
/// with ``Line/exceedsLimit`` set and no bytes, and from a descriptor they are skipped without being
/// buffered. A last line without a newline comes back with ``Line/isTerminated`` `false`.
///
/// ```swift
/// let reader = try JSONLineReader(path: "events.jsonl")
/// while let line = try reader.nextLine() { … line.bytes … }
/// ```
///
/// Following a growing file: when ``nextLine()`` returns an unterminated line, the writer may still be
/// appending to it. The reader keeps that line; after ``resumeAfterEndOfInput()`` the next call reads
/// again and returns it, complete, under the same number.
public final class JSONLineReader {
    /// One line. ``bytes`` stays valid until the next call on the reader (or as long as the caller's
    /// buffer, for a reader over memory).
    public struct Line {
        public var number: Int
        /// Offset of the line's first byte in the whole input.
        public var byteOffset: Int
        /// The line without its terminator; empty when ``exceedsLimit``.
        public var bytes: UnsafeBufferPointer<UInt8>
        /// Length of the line in the input, without its terminator (so far, when not terminated).
        public var length: Int
        /// `false` for a last line that has no newline (yet).
        public var isTerminated: Bool
        /// The line is longer than ``limit`` bytes; its bytes were not kept.
        public var exceedsLimit: Bool
        /// The reader's ``JSONLineReader/maxLineBytes``.
        public var limit: Int
    }

    public struct ReadError: Error, Sendable, Hashable, CustomStringConvertible {
        public var path: String?
        public var operation: String
        public var errno: Int32

        public var description: String {
            let message = String(cString: strerror(errno))
            return path.map { "\(operation) \($0): \(message)" } ?? "\(operation): \(message)"
        }
    }

    public let maxLineBytes: Int
    /// Number the next line will get.
    public private(set) var nextLineNumber: Int

    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private let ownsStorage: Bool
    private let chunkSize: Int
    private let fd: Int32
    private let closesDescriptor: Bool
    private var path: String?

    /// Offset in the input of `storage[0]`.
    private var storageOffset: Int
    /// Unconsumed data is `storage[lo..<hi]`; no newline in `storage[lo..<scanned]`.
    private var lo = 0
    private var hi = 0
    private var scanned = 0
    private var atEnd: Bool
    /// Set after an unterminated last line was returned: nothing more until resumed.
    private var heldAtEnd = false
    /// An over-long line being skipped: its number, offset, length so far, and whether the last byte
    /// dropped was a `\r` (which a `\n` in the next chunk would make part of the terminator).
    private var skipping: (number: Int, offset: Int, length: Int, endsWithCR: Bool)?

    /// A reader over `buffer`, which must stay alive and unchanged while the reader is used.
    public init(
        buffer: UnsafeBufferPointer<UInt8>,
        maxLineBytes: Int = 1 << 20,
        firstLineNumber: Int = 1,
        baseOffset: Int = 0
    ) {
        precondition(maxLineBytes > 0, "maxLineBytes must be positive")
        self.maxLineBytes = maxLineBytes
        nextLineNumber = firstLineNumber
        storage = UnsafeMutablePointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 0x10)!)
        capacity = buffer.count
        ownsStorage = false
        chunkSize = 0
        fd = -1
        closesDescriptor = false
        path = nil
        storageOffset = baseOffset
        hi = buffer.count
        atEnd = true
    }

    /// A reader over an open file descriptor, starting at its current position, which is taken to be
    /// `startOffset` in the input (line numbers then start at `firstLineNumber`).
    public init(
        fileDescriptor: Int32,
        closeWhenDone: Bool = false,
        maxLineBytes: Int = 1 << 20,
        chunkSize: Int = 1 << 20,
        firstLineNumber: Int = 1,
        startOffset: Int = 0
    ) {
        precondition(maxLineBytes > 0 && chunkSize > 0, "maxLineBytes and chunkSize must be positive")
        self.maxLineBytes = maxLineBytes
        nextLineNumber = firstLineNumber
        self.chunkSize = chunkSize
        capacity = chunkSize + min(maxLineBytes, chunkSize) + 1
        storage = .allocate(capacity: capacity)
        ownsStorage = true
        fd = fileDescriptor
        closesDescriptor = closeWhenDone
        path = nil
        storageOffset = startOffset
        atEnd = false
    }

    /// Opens `path` for reading.
    public convenience init(path: String, maxLineBytes: Int = 1 << 20, chunkSize: Int = 1 << 20) throws(ReadError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(path: path, operation: "open", errno: errno) }
        self.init(fileDescriptor: fd, closeWhenDone: true, maxLineBytes: maxLineBytes, chunkSize: chunkSize)
        self.path = path
    }

    /// The whole content of the file at `path` (for inputs known to be small; use a reader for the rest).
    public static func readWholeFile(atPath path: String) throws(ReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return bytes
            } else if errno != EINTR {
                throw ReadError(path: path, operation: "read", errno: errno)
            }
        }
    }

    deinit {
        if ownsStorage { storage.deallocate() }
        if closesDescriptor { close(fd) }
    }

    /// Offset in the input where the next line starts (everything before it has been returned).
    public var consumedOffset: Int { skipping?.offset ?? (storageOffset + lo) }

    /// The next line, or `nil` at the end of the input (or, after an unterminated line, until
    /// ``resumeAfterEndOfInput()``).
    public func nextLine() throws(ReadError) -> Line? {
        while true {
            if let line = lineFromBuffer() { return line }
            if atEnd { return lineAtEnd() }
            try fill()
        }
    }

    /// ``nextLine()`` for a reader over memory, which cannot fail.
    public func nextBufferedLine() -> Line? {
        precondition(fd < 0, "nextBufferedLine() is for readers over a buffer")
        return lineFromBuffer() ?? lineAtEnd()
    }

    /// After the end of the input: look for more (a file being appended to). An unterminated line
    /// already returned will be returned again, longer or complete.
    public func resumeAfterEndOfInput() {
        guard fd >= 0 else { return }
        atEnd = false
        heldAtEnd = false
    }

    // MARK: -

    /// A complete line from the data in memory, if there is one.
    @inline(__always)
    private func lineFromBuffer() -> Line? {
        guard scanned < hi, let found = memchr(storage + scanned, 0x0A, hi - scanned) else {
            scanned = hi
            return nil
        }
        let end = storage.distance(to: found.assumingMemoryBound(to: UInt8.self))
        let number = nextLineNumber
        nextLineNumber += 1
        defer {
            lo = end + 1
            scanned = lo
        }
        if let skip = skipping {  // the end of an over-long line (its number was not taken yet)
            skipping = nil
            let carriageReturn = end > lo ? storage[end - 1] == 0x0D : skip.endsWithCR
            let length = skip.length + (end - lo) - (carriageReturn ? 1 : 0)
            return oversized(number: skip.number, offset: skip.offset, length: length, terminated: true)
        }
        var length = end - lo
        if length > 0 && storage[end - 1] == 0x0D { length -= 1 }
        if length > maxLineBytes {
            return oversized(number: number, offset: storageOffset + lo, length: length, terminated: true)
        }
        return Line(
            number: number,
            byteOffset: storageOffset + lo,
            bytes: UnsafeBufferPointer(start: storage + lo, count: length),
            length: length,
            isTerminated: true,
            exceedsLimit: false,
            limit: maxLineBytes
        )
    }

    /// The unterminated last line, once; then `nil`.
    private func lineAtEnd() -> Line? {
        guard !heldAtEnd else { return nil }
        if let skip = skipping {
            heldAtEnd = true
            return oversized(number: skip.number, offset: skip.offset, length: skip.length + hi - lo, terminated: false)
        }
        guard hi > lo else { return nil }
        heldAtEnd = true
        let length = hi - lo
        if length > maxLineBytes {
            return oversized(number: nextLineNumber, offset: storageOffset + lo, length: length, terminated: false)
        }
        return Line(
            number: nextLineNumber,
            byteOffset: storageOffset + lo,
            bytes: UnsafeBufferPointer(start: storage + lo, count: length),
            length: length,
            isTerminated: false,
            exceedsLimit: false,
            limit: maxLineBytes
        )
    }

    private func oversized(number: Int, offset: Int, length: Int, terminated: Bool) -> Line {
        Line(
            number: number,
            byteOffset: offset,
            bytes: UnsafeBufferPointer(start: storage, count: 0),
            length: length,
            isTerminated: terminated,
            exceedsLimit: true,
            limit: maxLineBytes
        )
    }

    /// Makes room and reads once from the descriptor. The data kept in memory never exceeds one
    /// line of ``maxLineBytes`` (+1 for a `\r`) plus one chunk: longer lines switch to skipping.
    private func fill() throws(ReadError) {
        let pending = hi - lo
        if skipping != nil {
            skipping!.length += pending
            if pending > 0 { skipping!.endsWithCR = storage[hi - 1] == 0x0D }
            storageOffset += hi
            lo = 0
            hi = 0
        } else if pending > maxLineBytes + 1 {
            skipping = (nextLineNumber, storageOffset + lo, pending, storage[hi - 1] == 0x0D)
            storageOffset += hi
            lo = 0
            hi = 0
        } else if lo > 0 {
            if pending > 0 { memmove(storage, storage + lo, pending) }
            storageOffset += lo
            hi = pending
            lo = 0
        }
        scanned = hi
        if capacity - hi < Swift.max(chunkSize / 2, 1) {
            // Only while one line is being gathered: bounded by maxLineBytes + 1 + chunkSize.
            let newCapacity = hi + chunkSize
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            grown.update(from: storage, count: hi)
            storage.deallocate()
            storage = grown
            capacity = newCapacity
        }
        while true {
            let count = read(fd, storage + hi, capacity - hi)
            if count > 0 {
                hi += count
                return
            }
            if count == 0 {
                atEnd = true
                return
            }
            if errno == EINTR { continue }
            throw ReadError(path: path, operation: "read", errno: errno)
        }
    }
}
