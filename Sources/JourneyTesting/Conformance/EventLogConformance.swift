public import JourneyCore
import Foundation
import Synchronization

/// The contract every ``EventLog`` keeps (the embedded `SegmentedLog`, the in-memory log, a JetStream
/// stream): records come back exactly as appended, in order, numbered without gaps; `sync` makes them
/// durable (they survive reopening); appends may run while a sync does; `discard` lets go of covered
/// records only; `rewrite` keeps every sequence number.
///
/// ```swift
/// try EventLogConformance.check { try SegmentedLog(directory: dir) }
/// ```
/// `open` must return the same log each time it is called (reopened from its storage where it has one).
public enum EventLogConformance {
    public static func check(open: () throws -> any EventLog) throws {
        var log = try open()
        let start = log.lastSequence
        try require(log.durableSequence == start, "a freshly opened log is durable up to its last record")

        // Records come back as appended, numbered from lastSequence + 1.
        let payloads: [[UInt8]] = (0..<300).map { i in Array("record \(i) ".utf8) + [UInt8](repeating: UInt8(i % 251), count: i % 97) }
        var sequences: [UInt64] = []
        for payload in payloads { sequences.append(try log.append { $0.bytes.append(contentsOf: payload) }) }
        try require(sequences == Array((start + 1)...(start + 300)), "sequence numbers are consecutive from lastSequence + 1: \(sequences.prefix(3))…")
        try require(log.lastSequence == start + 300, "lastSequence is the last appended")
        let empty = try log.append { _ in }
        try require(empty == start + 301, "an empty record takes a sequence number too")
        let durable = try log.sync()
        try require(durable == start + 301 && log.durableSequence == durable, "sync makes everything appended durable: \(durable)")
        var read: [(UInt64, [UInt8])] = []
        try log.read(after: start) { sequence, bytes in
            read.append((sequence, Array(bytes)))
            return true
        }
        try require(read.map(\.0) == Array((start + 1)...(start + 301)), "read(after:) returns every record after the position, in order")
        try require(read.map(\.1) == payloads + [[]], "records come back byte for byte")

        // read stops when told to, and starts after any position.
        var count = 0
        try log.read(after: start + 100) { sequence, _ in
            count += 1
            return count < 5
        }
        try require(count == 5, "read stops when its body returns false")
        var first: UInt64?
        try log.read(after: start + 250) { sequence, _ in
            first = sequence
            return false
        }
        try require(first == start + 251, "read(after: n) starts at n + 1")

        // Durable records survive reopening.
        log = try open()
        try require(log.lastSequence == start + 301, "a reopened log ends at its last durable record (\(log.lastSequence))")
        var reread = 0
        try log.read(after: start) { _, _ in
            reread += 1
            return true
        }
        try require(reread == 301, "a reopened log holds every durable record (\(reread))")

        // Appends go on while a sync runs (group commit).
        let appended = Atomic<Int>(0)
        let shared = log
        let appender = Thread {
            for i in 0..<2000 {
                _ = try? shared.append { $0.varint(UInt64(i)) }
                appended.add(1, ordering: .relaxed)
            }
        }
        appender.start()
        while appended.load(ordering: .relaxed) < 2000 { _ = try log.sync() }
        _ = try log.sync()
        try require(log.durableSequence == start + 2301, "every concurrent append became durable (\(log.durableSequence))")
        var values: [UInt64] = []
        try log.read(after: start + 301) { _, bytes in
            var reader = ByteReader(bytes)
            values.append(try reader.varint())
            return true
        }
        try require(values == Array(0..<2000), "concurrent appends keep their order")

        // Rewrite keeps sequence numbers; an erased record reads as empty.
        try log.rewrite { sequence, bytes in sequence == start + 5 ? [] : nil }
        var rewritten: [UInt64: Int] = [:]
        try log.read(after: start) { sequence, bytes in
            rewritten[sequence] = bytes.count
            return sequence < start + 10
        }
        try require(rewritten[start + 5] == 0 && rewritten[start + 6] == payloads[5].count, "rewrite replaced one record and kept the rest")
        try require(rewritten.keys.sorted() == Array((start + 1)...(start + 10)), "rewrite kept every sequence number")

        // Discard lets go of covered records only.
        try log.discard(through: start + 200)
        try require(log.firstSequence <= start + 201, "discard keeps every record after the position (first is \(log.firstSequence))")
        var afterDiscard: UInt64?
        try log.read(after: start + 200) { sequence, _ in
            afterDiscard = sequence
            return false
        }
        try require(afterDiscard == start + 201, "records after a discard are still read")
        let next = try log.append { $0.string("after discard") }
        try require(next == start + 2302, "appending continues the numbering after a discard")
        _ = try log.sync()
    }
}
