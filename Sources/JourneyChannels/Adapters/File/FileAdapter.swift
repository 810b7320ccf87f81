import Foundation
import Glibc
import JourneyCore
import NIOPosix
import Synchronization

/// Appends each touch as one JSON line to a file and fsyncs before reporting it sent. Touch ids already
/// in the file are remembered, so a touch resent after a crash is not written twice: this channel accepts
/// idempotency keys.
///
/// Options:
/// - `path` (required): the file; relative paths are under the state directory. Channels naming the
///   same file share it.
/// - `format` (`touch` or `message`; default `touch`): `touch` writes the touch line of `journeyd replay`
///   (so a file channel's output can be compared with a back-test); `message` writes the whole rendered
///   message (``OutboundMessage/jsonValue``).
///
/// Any write or fsync error disables the channel: an fsync is never retried (a retried fsync can report
/// success without the data being on disk).
public struct FileAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var path: String
        public var fullMessage: Bool
    }

    public static let type = "file"
    public static let defaultPolicy = ChannelPolicy(concurrency: 64)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { true }
    private let configuration: Configuration
    private let sink: FileSink

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let path = options.string("path", required: true)
        let full = options.choice("format", ["touch", "message"], default: "touch") == "message"
        guard let path else { return nil }
        let resolved = path.hasPrefix("/") ? path : options.context.stateDirectory + "/" + path
        return Configuration(path: (resolved as NSString).standardizingPath, fullMessage: full)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) throws {
        self.name = name
        self.configuration = configuration
        self.sink = try context.files.open(configuration.path)
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        await deliver(batch: [message])[0]
    }

    /// A batch is one `write(2)` of every line not in the file yet and one fsync: all sent, or — on any
    /// write or fsync error — all not (the channel is disabled; lines a failed fsync may have left are
    /// recognised by their ids when the touches are resent).
    public var deliversBatches: Bool { true }

    public func deliver(batch messages: [OutboundMessage]) async -> [DeliveryResult] {
        if Task.isCancelled { return messages.map { _ in .retry(after: nil, reason: "cancelled") } }
        var lines: [(id: String, end: Int)] = []
        lines.reserveCapacity(messages.count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(messages.count * 256)
        for message in messages {
            if configuration.fullMessage {
                message.jsonValue.writeJSON(into: &bytes)
                bytes.append(UInt8(ascii: "\n"))
            } else {
                message.touch.writeJSONLine(into: &bytes)
            }
            lines.append((message.touch.id, bytes.count))
        }
        do {
            // write(2) only copies into the page cache; fsync(2) blocks, so it runs on NIO's thread pool,
            // not on one of the (two, on a 2-core machine) threads every task of the daemon shares. One
            // fsync covers every line written before it: concurrent deliveries share it (group commit).
            let sink = self.sink
            let written = try sink.write(bytes, lines: lines)
            try await NIOThreadPool.singleton.runIfActive { try sink.sync(through: written) }
            return messages.map { _ in .sent(providerMessageID: nil) }
        } catch {
            return messages.map { _ in .disable(reason: "\(error)") }
        }
    }
}

/// Open files shared between `file` channels, by absolute path.
final class FileSinks: Sendable {
    private let open = Mutex<[String: FileSink]>([:])

    func open(_ path: String) throws -> FileSink {
        try open.withLock { sinks in
            if let sink = sinks[path] { return sink }
            let sink = try FileSink(path: path)
            sinks[path] = sink
            return sink
        }
    }
}

/// One append-only JSON-lines file and the touch ids it holds.
final class FileSink: Sendable {
    let path: String
    private struct State {
        var fd: Int32
        var written: Set<String>
        var failed: String?
        /// Writes made so far, each of one or more lines (the sequence number of the last).
        var writes: UInt64 = 0
    }
    private let state: Mutex<State>
    /// How many writes are known to be on disk, and whether an fsync is running: concurrent callers
    /// sleep on ``syncDone`` until it ends and find themselves covered (a `Mutex` held across the fsync
    /// made them spin for it, a few percent of the daemon's CPU at full speed).
    private let syncing = Mutex<(synced: UInt64, running: Bool)>((0, false))
    private let syncDone = NSCondition()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ChannelProblem(channel: "", path: "path", message: "cannot create \(directory): \(error.localizedDescription)")
        }
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw ChannelProblem(channel: "", path: "path", message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        // Every complete line starts with {"touch_id":"<id>". A torn last line (a crash in mid-write, so
        // never reported sent) is cut off: its touch is written again, whole, when it is resent.
        var written = Set<String>()
        let existing = FileManager.default.contents(atPath: path) ?? Data()
        var end = 0
        existing.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "\n") {
                if let id = Self.touchID(in: bytes[start..<i]) { written.insert(id) }
                start = i + 1
            }
            end = start
        }
        if end < existing.count {
            guard ftruncate(fd, off_t(end)) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw ChannelProblem(channel: "", path: "path", message: "cannot cut the torn last line of \(path): \(reason)")
            }
        }
        state = Mutex(State(fd: fd, written: written, failed: nil))
    }

    deinit {
        _ = state.withLock { close($0.fd) }
    }

    static func touchID(in line: Slice<UnsafeBufferPointer<UInt8>>) -> String? {
        let prefix = Array("{\"touch_id\":\"".utf8)
        guard line.count > prefix.count, line.starts(with: prefix) else { return nil }
        let rest = line.dropFirst(prefix.count)
        guard let quote = rest.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: rest[..<quote], as: UTF8.self)
    }

    var count: Int { state.withLock { $0.written.count } }

    /// Appends the lines of `bytes` — each touch's line ends at its `end` offset — except those whose
    /// touch is in the file already, in one `write(2)` when none is. Returns how far the file must be
    /// synced (``sync(through:)``) before every line — or the earlier copy of it — is durable.
    func write(_ bytes: [UInt8], lines: [(id: String, end: Int)]) throws -> UInt64 {
        try state.withLock { state in
            if let failed = state.failed { throw Failure(description: failed) }
            var start = 0
            var pending = 0..<0  // bytes to write, of lines not in the file yet
            func flush() throws {
                guard !pending.isEmpty else { return }
                var done = pending.lowerBound
                while done < pending.upperBound {
                    let n = bytes.withUnsafeBytes { Glibc.write(state.fd, $0.baseAddress! + done, pending.upperBound - done) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        state.failed = "cannot write \(path): \(String(cString: strerror(errno)))"
                        throw Failure(description: state.failed!)
                    }
                    done += n
                }
                state.writes += 1
                pending = 0..<0
            }
            for (id, end) in lines {
                defer { start = end }
                // Also a touch twice in one batch is written once. (Counted as written before the
                // write: a failed write fails the sink for good.)
                guard state.written.insert(id).inserted else {
                    try flush()
                    continue
                }
                pending = pending.isEmpty ? start..<end : pending.lowerBound..<end
            }
            try flush()
            return state.writes
        }
    }

    /// Returns once every write up to `target` is on disk: fsyncs unless another call's fsync, begun
    /// after that write, already covered it. Never retries a failed fsync (the sink fails for good).
    func sync(through target: UInt64) throws {
        syncDone.lock()
        defer { syncDone.unlock() }
        while true {
            let (synced, running) = syncing.withLock { $0 }
            if synced >= target { return }
            if !running { break }
            syncDone.wait()
        }
        let (fd, covered) = try state.withLock { state -> (Int32, UInt64) in
            if let failed = state.failed { throw Failure(description: failed) }
            return (state.fd, state.writes)
        }
        syncing.withLock { $0.running = true }
        // Not under the condition's lock while the disk works: others write lines and queue up meanwhile.
        syncDone.unlock()
        let result = fsync(fd)
        let reason = result == 0 ? nil : "fsync \(path) failed: \(String(cString: strerror(errno)))"
        syncDone.lock()
        syncing.withLock { $0 = (result == 0 ? max($0.synced, covered) : $0.synced, false) }
        syncDone.broadcast()
        if let reason {
            state.withLock { $0.failed = reason }
            throw Failure(description: reason)
        }
    }
}
