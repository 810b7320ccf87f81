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
///
/// Trouble with the file is the input's, not the daemon's: a path that names something other than a
/// file (a directory, a socket), or a read that fails, is told once (`report`), and the source tries
/// again every ``retryInterval`` from where it was — the other inputs go on. A path that already names
/// a directory at start is a configuration mistake (``check(path:)``).
public actor TailSource: EventSource {
    public static let retryInterval: Duration = .seconds(1)
    public nonisolated let name = "tail"
    let path: String
    let maxLineBytes: Int
    let pollInterval: Duration
    private let stopped = Atomic<Bool>(false)
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    private var reader: LineReader
    private var nextToken: UInt64 = 0
    /// Told when the file cannot be read, and when it can again.
    let report: (@Sendable (InputNotice) -> Void)?
    /// The trouble told and not yet over.
    private var trouble: String?

    var offsetKey: String { "tail/\(path)" }
    var inodeKey: String { "tail/\(path)#inode" }

    public init(
        path: String, positions: [String: Int64], maxLineBytes: Int, pollInterval: Duration = .milliseconds(50),
        report: (@Sendable (InputNotice) -> Void)? = nil
    ) {
        self.path = path
        self.report = report
        self.maxLineBytes = maxLineBytes
        self.pollInterval = pollInterval
        let offset = Int(positions["tail/\(path)"] ?? 0)
        inode = UInt64(positions["tail/\(path)#inode"] ?? 0)
        reader = LineReader(startOffset: inode == 0 ? 0 : offset, startLine: 0, maxLineBytes: maxLineBytes)
    }

    deinit { if fd >= 0 { close(fd) } }

    public nonisolated func stop() { stopped.store(true, ordering: .relaxed) }

    /// A path that exists and is not a regular file cannot be followed: the error says what it is.
    public static func check(path: String) throws(SourceError) {
        var status = stat()
        guard stat(path, &status) == 0, let kind = FileKind.unlessRegular(status.st_mode) else { return }
        throw SourceError("tail \(path): \(kind), not a file: --tail (inputs.tail.path) names the JSON-lines file to follow", configuration: true)
    }

    public func next(limit: Int) async throws -> SourceBatch? {
        while !stopped.load(ordering: .relaxed) {
            let lines: [SourceLine]
            do {
                lines = try ready() ? try reader.read(fd: fd, limit: limit, atEnd: false) : []
            } catch {
                troubled("tail \(path): \(error); tried again every \(Self.retryInterval.components.seconds) s")
                if fd >= 0 { close(fd) }
                fd = -1  // reopened (the same file resumes at its position; another starts from 0)
                try await Task.sleep(for: Self.retryInterval)
                continue
            }
            if fd >= 0 { recovered() }
            if !lines.isEmpty {
                nextToken += 1
                return SourceBatch(
                    origin: "tail/" + (path.split(separator: "/").last.map(String.init) ?? path), lines: lines,
                    positions: [offsetKey: Int64(reader.position), inodeKey: Int64(inode)], token: nextToken)
            }
            try await Task.sleep(for: pollInterval)
        }
        return nil
    }

    private func troubled(_ message: String) {
        guard trouble != message else { return }
        trouble = message
        report?(.init(.began, message))
    }

    private func recovered() {
        guard trouble != nil else { return }
        trouble = nil
        report?(.init(.ended, "tail \(path): reading again"))
    }

    /// Opens the file (or moves on to a rotated-in one); true when there may be lines to read.
    private func ready() throws -> Bool {
        var onPath = stat()
        let pathExists = stat(path, &onPath) == 0
        if fd < 0 {
            guard pathExists else { return false }
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                let error = errno
                if error == ENOENT { return false }  // gone between stat and open: waited for as before
                throw SourceError("cannot open: \(String(cString: strerror(error)))")
            }
            var opened = stat()
            fstat(fd, &opened)
            if let kind = FileKind.unlessRegular(opened.st_mode) {
                throw SourceError("\(kind), not a file; waiting for a file there")
            }
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
