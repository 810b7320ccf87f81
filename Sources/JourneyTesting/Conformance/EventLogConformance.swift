public import JourneyCore
import Foundation
import Synchronization

/// The contract every ``EventLog`` keeps (the embedded `SegmentedLog`, the in-memory log, a JetStream
/// stream): records come back exactly as appended, in order, with strictly increasing sequence numbers
/// (consecutive in a log of its own; a JetStream partition's skip the other partitions' numbers);
/// `sync` makes them durable (they survive reopening); appends may run while a sync does; `discard`
/// lets go of covered records only; `rewrite` keeps every sequence number it does not erase.
///
/// ```swift
/// try EventLogConformance.check { try SegmentedLog(directory: dir) }
/// ```
/// `open` must return the same log each time it is called (reopened from its storage where it has one).
/// `consecutive` (a log of its own, the default) also demands numbers without gaps and erased records
/// that stay as empty ones; a partition of a shared stream passes `false`.
public enum EventLogConformance {
    public static func check(consecutive: Bool = true, open: () throws -> any EventLog) throws {
        var log = try open()
        let start = log.lastSequence
        try require(log.durableSequence == start, "a freshly opened log is durable up to its last record")

        // Records come back as appended, numbered upwards from after lastSequence.
        let payloads: [[UInt8]] = (0..<300).map { i in Array("record \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: i % 97) }
        var sequences: [UInt64] = []
        for payload in payloads { sequences.append(try log.append { $0.bytes.append(contentsOf: payload) }) }
        try require(increasing([start] + sequences), "sequence numbers increase from lastSequence: \(sequences.prefix(3))…")
        try require(!consecutive || sequences == Array((start + 1)...(start + 300)), "sequence numbers are consecutive from lastSequence + 1: \(sequences.prefix(3))…")
        try require(log.lastSequence == sequences.last, "lastSequence is the last appended")
        let empty = try log.append { _ in }
        try require(empty > sequences.last!, "an empty record takes a sequence number too")
        sequences.append(empty)
        let durable = try log.sync()
        try require(durable == empty && log.durableSequence == durable, "sync makes everything appended durable: \(durable)")
        var read: [(UInt64, [UInt8])] = []
        try log.read(after: start) { sequence, bytes in
            read.append((sequence, Array(bytes)))
            return true
        }
        try require(read.map(\.0) == sequences, "read(after:) returns every record after the position, in order")
        try require(read.map(\.1) == payloads + [[]], "records come back byte for byte")

        // read stops when told to, and starts after any position.
        var count = 0
        try log.read(after: sequences[99]) { sequence, _ in
            count += 1
            return count < 5
        }
        try require(count == 5, "read stops when its body returns false")
        var first: UInt64?
        try log.read(after: sequences[249]) { sequence, _ in
            first = sequence
            return false
        }
        try require(first == sequences[250], "read(after: n) starts at the record after n")

        // Durable records survive reopening.
        log = try open()
        try require(log.lastSequence == empty, "a reopened log ends at its last durable record (\(log.lastSequence))")
        var reread = 0
        try log.read(after: start) { _, _ in
            reread += 1
            return true
        }
        try require(reread == 301, "a reopened log holds every durable record (\(reread))")

        // Appends go on while a sync runs (group commit).
        let appended = Atomic<Int>(0)
        let lastAppended = Atomic<UInt64>(0)
        let shared = log
        let appender = Thread {
            for i in 0..<2000 {
                if let sequence = try? shared.append({ $0.varint(UInt64(i)) }) { lastAppended.store(sequence, ordering: .relaxed) }
                appended.add(1, ordering: .relaxed)
            }
        }
        appender.start()
        while appended.load(ordering: .relaxed) < 2000 { _ = try log.sync() }
        _ = try log.sync()
        let concurrentEnd = lastAppended.load(ordering: .relaxed)
        try require(log.durableSequence == concurrentEnd, "every concurrent append became durable (\(log.durableSequence))")
        try require(!consecutive || concurrentEnd == empty + 2000, "concurrent appends are numbered without gaps (\(concurrentEnd))")
        var values: [UInt64] = []
        try log.read(after: empty) { _, bytes in
            var reader = ByteReader(bytes)
            values.append(try reader.varint())
            return true
        }
        try require(values == Array(0..<2000), "concurrent appends keep their order")

        // Rewrite keeps the sequence numbers it does not erase; an erased record reads as empty or not at all.
        try log.rewrite { sequence, bytes in sequence == sequences[4] ? [] : nil }
        var rewritten: [UInt64: Int] = [:]
        try log.read(after: start) { sequence, bytes in
            rewritten[sequence] = bytes.count
            return sequence < sequences[9]
        }
        try require((rewritten[sequences[4]] ?? 0) == 0 && rewritten[sequences[5]] == payloads[5].count, "rewrite erased one record and kept the rest")
        try require(!consecutive || rewritten[sequences[4]] == 0, "an erased record keeps its sequence number, empty")
        try require(
            rewritten.keys.sorted().filter { $0 != sequences[4] } == Array(sequences[0..<10]).filter { $0 != sequences[4] },
            "rewrite kept every other sequence number")

        // Discard lets go of covered records only.
        try log.discard(through: sequences[199])
        try require(log.firstSequence <= sequences[200], "discard keeps every record after the position (first is \(log.firstSequence))")
        var afterDiscard: UInt64?
        try log.read(after: sequences[199]) { sequence, _ in
            afterDiscard = sequence
            return false
        }
        try require(afterDiscard == sequences[200], "records after a discard are still read")
        let next = try log.append { $0.string("after discard") }
        try require(consecutive ? next == concurrentEnd + 1 : next > concurrentEnd, "appending continues the numbering after a discard (\(next))")
        _ = try log.sync()
    }

    /// Whether `numbers` strictly increase.
    static func increasing(_ numbers: [UInt64]) -> Bool {
        zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 }
    }
}
