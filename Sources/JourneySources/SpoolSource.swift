import Foundation
public import JourneyCore
import Synchronization

/// The spool directory (DESIGN §3): producers write a file elsewhere and `rename(2)` it into
/// `incoming/`; files are taken in name order, a batch of lines at a time.
///
/// Each batch carries the file's position — byte offset and line number after its last line, under
/// the key `spool/NAME@INODE` — so a restart resumes a file where the last durable batch ended. Once the
/// batch that reaches a file's end is durable, the file is archived to `done/` (or deleted) and its
/// position forgotten with the next batch. A file whose committed position is already its end (the
/// daemon stopped between the two) is archived at once, never read twice.
///
/// What `incoming/` holds that cannot be read — a directory, a pipe (opened without waiting for a
/// writer), a file the daemon may not open — is skipped and told once (`report`), not waited on.
public actor SpoolSource: EventSource {
    public nonisolated let name = "spool"
    public nonisolated let isFinite: Bool
    let directory: String
    let done: Done
    let maxLineBytes: Int
    let pollInterval: Duration
    private let stopped = Atomic<Bool>(false)

    public enum Done: String, Sendable {
        case archive, delete
    }

    /// The file being read.
    private struct Current {
        var name: String
        var key: String
        var fd: Int32
        var reader: LineReader
    }
    private var current: Current?
    /// Files fully handed out, not yet acknowledged to their end (so they are not opened again).
    private var handedOut: Set<String> = []
    /// Batches that end a file: token → (file name, position key).
    private var endings: [UInt64: (name: String, key: String)] = [:]
    /// Position keys of archived files, forgotten with the next batch.
    private var forget: [String] = []
    private var committed: [String: Int64]
    private var nextToken: UInt64 = 0
    /// Told of entries in `incoming/` that are skipped, once each while they stay.
    let report: (@Sendable (InputNotice) -> Void)?
    private var told: Set<String> = []

    /// - Parameters:
    ///   - positions: the committed positions (from the last checkpoint and the log).
    ///   - finite: hand out what is in `incoming/` and then end (`journeyd run --until`).
    public init(
        directory: String, done: Done = .archive, positions: [String: Int64], maxLineBytes: Int, finite: Bool = false,
        pollInterval: Duration = .milliseconds(50), report: (@Sendable (InputNotice) -> Void)? = nil
    ) throws(SourceError) {
        self.directory = directory
        self.report = report
        self.done = done
        self.committed = positions.filter { $0.key.hasPrefix("spool/") }
        self.maxLineBytes = maxLineBytes
        self.isFinite = finite
        self.pollInterval = pollInterval
        if let kind = FileKind.unlessDirectory(directory) {
            throw SourceError(
                "spool \(directory): \(kind), not a directory: --spool (inputs.spool.directory) names "
                    + "the directory whose incoming/ producers rename files into", configuration: true)
        }
        for folder in ["incoming", "done"] {
            if let error = FileKind.makeDirectories(directory + "/" + folder) {
                throw SourceError("spool \(directory)/\(folder): cannot create: \(String(cString: strerror(error)))", configuration: true)
            }
        }
    }

    public nonisolated func stop() { stopped.store(true, ordering: .relaxed) }

    public func next(limit: Int) async throws -> SourceBatch? {
        while !stopped.load(ordering: .relaxed) {
            if let batch = try readBatch(limit: limit) { return batch }
            if !forget.isEmpty {
                // Nothing to read, but archived files' positions to let go of: a batch with no lines.
                nextToken += 1
                return SourceBatch(origin: "spool", lines: [], positions: takeForgotten(), token: nextToken)
            }
            if isFinite && endings.isEmpty && current == nil { return nil }
            try await Task.sleep(for: pollInterval)
        }
        return nil
    }

    private func takeForgotten() -> [String: Int64?] {
        defer { forget.removeAll() }
        return Dictionary(forget.map { ($0, Int64?.none) }, uniquingKeysWith: { a, _ in a })
    }

    private func readBatch(limit: Int) throws -> SourceBatch? {
        if current == nil {
            guard try openNext() else { return nil }
        }
        guard var file = current else { return nil }
        let lines = try file.reader.read(fd: file.fd, limit: limit, atEnd: true)
        nextToken += 1
        var positions = takeForgotten()
        positions[file.key] = Int64(file.reader.position)
        positions[file.key + "#line"] = Int64(file.reader.lineNumber)
        let batch = SourceBatch(origin: "spool/" + file.name, lines: lines, positions: positions, token: nextToken)
        if lines.count < limit {
            // The end of the file: it is archived once this batch is durable.
            close(file.fd)
            endings[nextToken] = (file.name, file.key)
            handedOut.insert(file.name)
            current = nil
        } else {
            current = file
        }
        return batch
    }

    /// Opens the first file in `incoming/` not yet handed out; false when there is none.
    private func openNext() throws -> Bool {
        let incoming = directory + "/incoming"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: incoming)) ?? []
        if !told.isEmpty { told.formIntersection(names) }  // an entry that left and comes back is told again
        for name in names.sorted() where !name.hasPrefix(".") && !handedOut.contains(name) {
            let path = incoming + "/" + name
            // Without waiting: a pipe in incoming/ would block the open until some writer came.
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                let error = errno
                if error != ENOENT {  // (renamed away meanwhile: nothing to tell)
                    skip(name, "cannot be opened: \(String(cString: strerror(error))); skipped until it can be")
                }
                continue
            }
            var info = stat()
            guard fstat(fd, &info) == 0, FileKind.unlessRegular(info.st_mode) == nil else {
                close(fd)
                skip(name, "is \(FileKind.unlessRegular(info.st_mode) ?? "unreadable"), not a file: skipped (producers rename finished files into incoming/)")
                continue
            }
            let key = "spool/\(name)@\(info.st_ino)"
            let offset = Int(committed[key] ?? 0)
            let line = Int(committed[key + "#line"] ?? 0)
            if offset > 0 && offset >= Int(info.st_size) {
                // Durable to its end before a restart, not yet archived: archive it now, read nothing.
                close(fd)
                try finish(name)
                forget += [key, key + "#line"]
                committed[key] = nil
                continue
            }
            current = Current(name: name, key: key, fd: fd, reader: LineReader(startOffset: offset, startLine: line, maxLineBytes: maxLineBytes))
            return true
        }
        return false
    }

    private func skip(_ name: String, _ why: String) {
        guard told.insert(name).inserted else { return }
        report?(.init(.noted, "spool: incoming/\(name) \(why)"))
    }

    public func acknowledge(_ batch: SourceBatch, outcomes: [LineOutcome]) async throws {
        guard let ending = endings.removeValue(forKey: batch.token) else { return }
        try finish(ending.name)
        handedOut.remove(ending.name)
        forget += [ending.key, ending.key + "#line"]
    }

    public func refuse(_ batch: SourceBatch, reason: String) async {
        // The file stays in incoming/ and is read again from its committed position after a restart.
        endings[batch.token] = nil
    }

    /// Archives or deletes a file that is durable to its end.
    private func finish(_ name: String) throws {
        let path = directory + "/incoming/" + name
        switch done {
        case .archive:
            let target = directory + "/done/" + name
            if rename(path, target) != 0 && errno != ENOENT {
                throw SourceError("spool: cannot archive \(name) to done/: \(String(cString: strerror(errno)))")
            }
        case .delete:
            if unlink(path) != 0 && errno != ENOENT {
                throw SourceError("spool: cannot delete \(name): \(String(cString: strerror(errno)))")
            }
        }
    }
}
