import Foundation

/// The durability point of a partition (DESIGN §6): an append-only sequence of records, each with a
/// sequence number, made durable in groups. What a partition's engine applies — input events, timer
/// ticks, delivery bookkeeping, reload marks — is appended here first; state is only a checkpoint of
/// it, and a restart replays the records after the checkpoint through the same deterministic engine.
///
/// Implementations: `SegmentedLog` (files in the state directory, the embedded default); a JetStream
/// stream in cluster mode. Every implementation passes `EventLogConformance` in JourneyTesting.
///
/// Threading: one writer appends (the partition's processor); ``sync()`` may run on another thread at
/// the same time (group commit: the next batch is appended while the previous one is being synced);
/// reads happen before writing starts (recovery) or through a separate reader.
public protocol EventLog: AnyObject, Sendable {
    /// The sequence number of the last record appended (0 when the log has never held a record).
    var lastSequence: UInt64 { get }
    /// The sequence number of the last record known to be durable.
    var durableSequence: UInt64 { get }
    /// The sequence number of the first record still held (records before it were discarded).
    var firstSequence: UInt64 { get }

    /// Appends one record built by `body` (buffered, not yet durable) and returns its sequence number.
    func append(_ body: (inout ByteWriter) -> Void) throws(LogError) -> UInt64

    /// Makes every record appended before the call durable — one write and one fsync for all of them —
    /// and returns the durable sequence number. Never retried after a failure (a retried fsync can
    /// report success for data it lost): the caller stops.
    func sync() throws(LogError) -> UInt64

    /// Calls `body` with each record whose sequence number is greater than `after`, in order, until it
    /// returns false. The bytes are valid only during the call.
    func read(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws

    /// Lets go of records up to `through` (a checkpoint covers them): whole segments whose records are
    /// all at or below it are deleted. Never deletes the record at ``lastSequence``.
    func discard(through: UInt64) throws(LogError)

    /// Rewrites held records through `transform`, which returns a record's new payload or nil to keep it
    /// as it is (an empty payload erases a record's content and keeps its sequence number): for erasing
    /// a forgotten user's events. Durable when it returns.
    func rewrite(_ transform: (UInt64, UnsafeRawBufferPointer) throws -> [UInt8]?) throws

    /// Bytes held on disk (or in the stream).
    var storedBytes: Int { get }

    /// Where the log is (a directory, a stream name), for messages.
    var location: String { get }
}

/// What went wrong with the log: the path, the operation and the system's reason.
public struct LogError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var reason: String
    /// `errno`, when a system call failed.
    public var code: Int32?

    public init(path: String, operation: String, reason: String, code: Int32? = nil) {
        self.path = path
        self.operation = operation
        self.reason = reason
        self.code = code
    }

    /// The failed system call's error.
    public static func system(_ path: String, _ operation: String, _ code: Int32 = errno) -> LogError {
        LogError(path: path, operation: operation, reason: String(cString: strerror(code)), code: code)
    }

    /// The disk (or the quota) is full: journeyd stops admitting input and says so.
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String { "\(path): \(operation) failed: \(reason)" }
}
