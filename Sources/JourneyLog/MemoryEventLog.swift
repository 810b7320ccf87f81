public import JourneyCore
import Synchronization

/// An ``EventLog`` in memory: for tests of what sits on a log (the processor, recovery) without a disk,
/// and for one-shot runs that need no durability. `sync` only moves the durable mark; nothing survives
/// the process. Passes `EventLogConformance` like every log.
public final class MemoryEventLog: EventLog, Sendable {
    private struct State {
        var records: [(sequence: UInt64, payload: [UInt8])] = []
        var first: UInt64 = 1
        var last: UInt64 = 0
        var durable: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    public var lastSequence: UInt64 { state.withLock { $0.last } }
    public var durableSequence: UInt64 { state.withLock { $0.durable } }
    public var firstSequence: UInt64 { state.withLock { $0.first } }

    public func append(_ body: (inout ByteWriter) -> Void) throws(LogError) -> UInt64 {
        var writer = ByteWriter()
        body(&writer)
        return state.withLock { state in
            state.last += 1
            state.records.append((state.last, writer.bytes))
            return state.last
        }
    }

    public func sync() throws(LogError) -> UInt64 {
        state.withLock { state in
            state.durable = state.last
            return state.durable
        }
    }

    public func read(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        let records = state.withLock { $0.records.filter { $0.sequence > after } }
        for record in records {
            guard try record.payload.withUnsafeBytes({ try body(record.sequence, $0) }) else { return }
        }
    }

    public func discard(through: UInt64) throws(LogError) {
        state.withLock { state in
            let keepFrom = min(through, state.last - 1)
            state.records.removeAll { $0.sequence <= keepFrom }
            state.first = max(state.first, keepFrom + 1)
        }
    }

    public func rewrite(_ transform: (UInt64, UnsafeRawBufferPointer) throws -> [UInt8]?) throws {
        var records = state.withLock { $0.records }
        for index in records.indices {
            if let replaced = try records[index].payload.withUnsafeBytes({ try transform(records[index].sequence, $0) }) {
                records[index].payload = replaced
            }
        }
        state.withLock { $0.records = records }
    }

    public var location: String { "memory" }

    public var storedBytes: Int { state.withLock { $0.records.reduce(0) { $0 + $1.payload.count + 16 } } }
}
