import Glibc
import JourneyCore

/// Reads newline-delimited lines from a file descriptor at a byte position, a bounded number at a time:
/// what the spool and tail sources share. A line longer than `maxLineBytes` is kept only in part and
/// marked oversized (it is then rejected with its reason, never silently cut into events).
struct LineReader {
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already handed out.
    private var head = 0
    /// The byte position in the file of `buffer[head]`.
    private(set) var bufferStart: Int
    /// Lines handed out so far, counting from the file's first line when known.
    private(set) var lineNumber: Int

    init(startOffset: Int, startLine: Int, maxLineBytes: Int) {
        bufferStart = startOffset
        lineNumber = startLine
        self.maxLineBytes = maxLineBytes
    }

    /// The byte position after the last line handed out.
    var position: Int { bufferStart }

    /// Up to `limit` complete lines. With `atEnd`, a last line without its newline counts as complete
    /// (a finished spool file); otherwise it waits for its newline (a file still being written).
    mutating func read(fd: Int32, limit: Int, atEnd finished: Bool) throws(SourceError) -> [SourceLine] {
        var lines: [SourceLine] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var eof = false
        while lines.count < limit {
            if let newline = buffer[head...].firstIndex(of: 10) {
                lines.append(take(upTo: newline, consumed: newline + 1))
                continue
            }
            if eof {
                if finished && head < buffer.count { lines.append(take(upTo: buffer.count, consumed: buffer.count)) }
                break
            }
            if head > 0 {
                buffer.removeFirst(head)
                head = 0
            }
            let n = pread(fd, &chunk, chunk.count, off_t(bufferStart + buffer.count))
            if n < 0 {
                if errno == EINTR { continue }
                throw SourceError("read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                eof = true
                continue
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
        return lines
    }

    /// Hands out `buffer[head..<end]` as a line; `consumed` is where the next one starts.
    private mutating func take(upTo end: Int, consumed: Int) -> SourceLine {
        var stop = end
        if stop > head && buffer[stop - 1] == 13 { stop -= 1 }  // CRLF
        let oversized = stop - head > maxLineBytes
        let bytes = Array(buffer[head..<min(stop, head + maxLineBytes)])
        lineNumber += 1
        let line = SourceLine(bytes: bytes, line: lineNumber, byteOffset: bufferStart, oversized: oversized)
        bufferStart += consumed - head
        head = consumed
        return line
    }
}
