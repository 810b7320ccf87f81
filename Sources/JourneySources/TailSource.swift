public import JourneyCore
import Glibc
import Synchronization

/// A followed JSON-lines file (DESIGN §3), across rotation and truncation.
///
/// Its position — the file's inode and the byte offset after the last durable line, keys `tail/PATH#inode`
/// and `tail/PATH` — is committed with each batch, so a restart resumes where the last durable batch
/// ended. When the path is rotated (renamed away, a new file created), the old file is read to its end
/// through the descriptor still open on it, then the new one from its start. A file that shrinks
/// (truncated in place) is read again from 0. A last line without its newline waits for it.
public actor TailSource: EventSource {
    public nonisolated let name = "tail"
    let path: String
    let maxLineBytes: Int
    let pollInterval: Duration
    private let stopped = Atomic<Bool>(false)
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    private var reader: LineReader
    private var nextToken: UInt64 = 0

    var offsetKey: String { "tail/\(path)" }
    var inodeKey: String { "tail/\(path)#inode" }

    public init(path: String, positions: [String: Int64], maxLineBytes: Int, pollInterval: Duration = .milliseconds(50)) {
        self.path = path
        self.maxLineBytes = maxLineBytes
        self.pollInterval = pollInterval
        let offset = Int(positions["tail/\(path)"] ?? 0)
        inode = UInt64(positions["tail/\(path)#inode"] ?? 0)
        reader = LineReader(startOffset: inode == 0 ? 0 : offset, startLine: 0, maxLineBytes: maxLineBytes)
    }

    deinit { if fd >= 0 { close(fd) } }

    public nonisolated func stop() { stopped.store(true, ordering: .relaxed) }

    public func next(limit: Int) async throws -> SourceBatch? {
        while !stopped.load(ordering: .relaxed) {
            if try ready() {
                let lines = try reader.read(fd: fd, limit: limit, atEnd: false)
                if !lines.isEmpty {
                    nextToken += 1
                    return SourceBatch(
                        origin: "tail/" + (path.split(separator: "/").last.map(String.init) ?? path), lines: lines,
                        positions: [offsetKey: Int64(reader.position), inodeKey: Int64(inode)], token: nextToken)
                }
            }
            try await Task.sleep(for: pollInterval)
        }
        return nil
    }

    /// Opens the file (or moves on to a rotated-in one); true when there may be lines to read.
    private func ready() throws -> Bool {
        var onPath = stat()
        let pathExists = stat(path, &onPath) == 0
        if fd < 0 {
            guard pathExists else { return false }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            var opened = stat()
            fstat(fd, &opened)
            if UInt64(opened.st_ino) != inode {
                // Not the file of the committed position (first run, or rotated while stopped).
                inode = UInt64(opened.st_ino)
                reader = LineReader(startOffset: 0, startLine: 0, maxLineBytes: maxLineBytes)
            }
        }
        var current = stat()
        fstat(fd, &current)
        if Int(current.st_size) < reader.position {
            reader = LineReader(startOffset: 0, startLine: 0, maxLineBytes: maxLineBytes)  // truncated in place
        }
        if Int(current.st_size) > reader.position { return true }
        // At the end of this file: if the path now names another file, move on to it.
        if pathExists && UInt64(onPath.st_ino) != inode {
            close(fd)
            fd = -1
            inode = 0
            return try ready()
        }
        return false
    }

    public func acknowledge(_ batch: SourceBatch, outcomes: [LineOutcome]) async throws {}

    public func refuse(_ batch: SourceBatch, reason: String) async {}
}
