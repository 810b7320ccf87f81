/// Where events come from: the spool directory, a tailed file, a stream socket, HTTP.
///
/// A source hands out batches of raw lines with the position to resume from after them, and is told
/// when a batch is durable — only then does it answer producers, archive a file or advance. Several
/// batches of one source may be in flight; they are acknowledged in the order they were handed out.
///
/// Implementations live in JourneySources (spool, tail, socket) and JourneyHTTP; every one passes
/// `EventSourceConformance` in JourneyTesting.
public protocol EventSource: AnyObject, Sendable {
    /// The source's name in logs, metrics and quarantine files (`spool`, `tail`, `socket`, `http`).
    var name: String { get }

    /// Waits for the next batch of at most `limit` lines. Nil once the source has nothing more and will
    /// have nothing more (stopped, or a finite source drained — see ``isFinite``).
    func next(limit: Int) async throws -> SourceBatch?

    /// The batch's accepted lines are durable and its rejected lines quarantined: answer the producers
    /// (one outcome per line, in order), archive, advance.
    func acknowledge(_ batch: SourceBatch, outcomes: [LineOutcome]) async throws

    /// The batch could not be stored (the disk is full, the daemon is stopping): tell the producers it
    /// was refused, so they send it again; nothing of it counts as accepted.
    func refuse(_ batch: SourceBatch, reason: String) async

    /// Stop handing out batches; ``next(limit:)`` returns nil soon.
    func stop()

    /// Whether the source ends by itself once it has delivered what it holds (a spool drained under
    /// `--until`); live inputs run until stopped.
    var isFinite: Bool { get }
}

extension EventSource {
    public var isFinite: Bool { false }
}

/// One line as a source read it, with where it came from (for rejections and quarantine).
public struct SourceLine: Sendable {
    public var bytes: [UInt8]
    /// Line number in its file (1-based), or 0 for a stream.
    public var line: Int
    /// Byte offset of the line in its file, or 0 for a stream.
    public var byteOffset: Int
    /// Longer than the line limit: only its start was kept, and it is rejected.
    public var oversized: Bool
    /// The event `bytes` make, when the source already parsed them (the HTTP input parses in its request
    /// handlers, concurrently, off the pump's serial path); nil: the pump parses `bytes` (and rejects
    /// and quarantines what does not parse).
    public var event: Event?

    public init(bytes: [UInt8], line: Int = 0, byteOffset: Int = 0, oversized: Bool = false, event: Event? = nil) {
        self.bytes = bytes
        self.line = line
        self.byteOffset = byteOffset
        self.oversized = oversized
        self.event = event
    }
}

/// A batch of lines from one source.
public struct SourceBatch: Sendable {
    /// Where the lines come from, as rejections and quarantine name it (`spool/0001.jsonl`, `socket`).
    public var origin: String
    public var lines: [SourceLine]
    /// Input positions to commit with the batch: key → position, nil to forget a key (a finished file).
    public var positions: [String: Int64?]
    /// Deduplication namespace: `messageId`s are unique per namespace (HTTP sources name theirs).
    public var namespace: String
    /// The source's own handle for the batch.
    public var token: UInt64

    public init(origin: String, lines: [SourceLine], positions: [String: Int64?] = [:], namespace: String = "", token: UInt64 = 0) {
        self.origin = origin
        self.lines = lines
        self.positions = positions
        self.namespace = namespace
        self.token = token
    }
}

/// What became of one line.
public enum LineOutcome: Sendable, Hashable {
    /// Applied (or recognized as a duplicate) and durable.
    case accepted(messageId: String)
    /// Refused with its reason (`$.timestamp: …`); the raw line is in quarantine.
    case rejected(path: String, reason: String)
}
