import Glibc


/// A buffered, append-only byte sink over a file descriptor (a file or stdout): what `replay` writes
/// millions of touch lines through without a system call per line.
public final class OutputFile {
    private let fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20
    public let path: String

    /// Opens (creating or truncating) `path`; `-` means standard output.
    public init(path: String) throws(OutputError) {
        self.path = path
        if path == "-" {
            fd = 1
            ownsDescriptor = false
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw OutputError(path: path, reason: String(cString: strerror(errno))) }
            ownsDescriptor = true
        }
        buffer.reserveCapacity(capacity)
    }

    /// Appends bytes; `body` writes into the buffer directly.
    public func write(_ body: (inout [UInt8]) -> Void) throws(OutputError) {
        body(&buffer)
        if buffer.count >= capacity { try flush() }
    }

    public func write(_ text: String) throws(OutputError) {
        try write { $0.append(contentsOf: text.utf8) }
    }

    public func flush() throws(OutputError) {
        var written = 0
        while written < buffer.count {
            let n = buffer.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError(path: path, reason: String(cString: strerror(errno)))
            }
            written += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes (standard output is flushed, not closed).
    public func close() throws(OutputError) {
        try flush()
        if ownsDescriptor { _ = Glibc.close(fd) }
    }
}

public struct OutputError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot write \(path): \(reason)" }
}
