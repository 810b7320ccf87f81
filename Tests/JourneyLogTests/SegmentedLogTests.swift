import Foundation
import JourneyCore
import JourneyTesting
import Testing

@testable import JourneyLog

@Suite("Event log")
struct SegmentedLogTests {
    @Test func theSegmentedLogKeepsTheLogContract() throws {
        try withTemporaryDirectory(prefix: "journeyd-log") { dir in
            // Small segments, so the kit's 2,300 records span many files and discard deletes some.
            try EventLogConformance.check { try SegmentedLog(directory: dir, options: .init(segmentBytes: 4096)) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count > 2)
        }
    }

    @Test func theMemoryLogKeepsTheLogContract() throws {
        let log = MemoryEventLog()
        try EventLogConformance.check { log }
    }

    /// Writes `count` records of varied size and syncs; returns their payloads.
    func fill(_ log: SegmentedLog, count: Int, seed: UInt64) throws -> [[UInt8]] {
        var random = SplitMix(seed: seed)
        var payloads: [[UInt8]] = []
        for i in 0..<count {
            let payload = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) } + Array("#\(i)".utf8)
            payloads.append(payload)
            _ = try log.append { $0.bytes.append(contentsOf: payload) }
            if i % 10 == 9 { _ = try log.sync() }  // a group commit every ten records: segments roll at syncs
        }
        _ = try log.sync()
        return payloads
    }

    func records(_ log: some EventLog) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try log.read(after: 0) { _, bytes in
            out.append(Array(bytes))
            return true
        }
        return out
    }

    /// A crash can cut the last segment at any byte: reopening recovers exactly the records that were
    /// whole, and the next record continues the numbering.
    @Test func aTornTailIsCutBackToTheLastWholeRecordAtAnyOfAThousandOffsets() throws {
        try withTemporaryDirectory(prefix: "journeyd-log") { dir in
            let original = dir + "/original"
            let log = try SegmentedLog(directory: original, options: .init(segmentBytes: 1 << 30))
            let payloads = try fill(log, count: 400, seed: 7)
            let segment = try #require(log.segmentPaths.last)
            let file = try Data(contentsOf: URL(fileURLWithPath: segment))
            // Where each record ends, to know what a cut at any offset must leave.
            var ends: [Int] = []
            var offset = SegmentedLog.headerBytes
            for payload in payloads {
                offset += SegmentedLog.recordHeaderBytes + payload.count
                ends.append(offset)
            }
            // The active segment may be preallocated: zeros after its last record.
            #expect(file.count >= ends.last! && file[ends.last!...].allSatisfy { $0 == 0 })
            let bytes = file.prefix(ends.last!)
            var random = SplitMix(seed: 1000)
            for round in 0..<1000 {
                let cut = SegmentedLog.headerBytes + Int(random.next() % UInt64(bytes.count - SegmentedLog.headerBytes))
                let copy = dir + "/cut"
                try? FileManager.default.removeItem(atPath: copy)
                try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
                try bytes.prefix(cut).write(to: URL(fileURLWithPath: copy + "/" + (segment as NSString).lastPathComponent))
                let reopened = try SegmentedLog(directory: copy, options: .init(preallocateBytes: 0))
                let whole = ends.filter { $0 <= cut }.count
                #expect(reopened.lastSequence == UInt64(whole), "round \(round): cut at \(cut) kept \(reopened.lastSequence), expected \(whole)")
                if round % 100 == 0 {
                    #expect(try records(reopened) == Array(payloads.prefix(whole)))
                    #expect(try reopened.append { $0.string("next") } == UInt64(whole + 1))
                    _ = try reopened.sync()
                }
            }
        }
    }

    /// The active segment is kept allocated ahead of its records (zeros), so a group commit changes no
    /// metadata; a closed segment ends at its last record, and a reopened log reads every record and
    /// goes on after the last.
    @Test func segmentsArePreallocatedAheadAndClosedAtTheirLastRecord() async throws {
        let dir = try TemporaryDirectory(prefix: "journeyd-log")
        defer { dir.remove() }
        let options = SegmentedLog.Options(segmentBytes: 16 << 10, preallocateBytes: 4 << 10)
        let log = try SegmentedLog(directory: dir.path, options: options)
        let payloads = try fill(log, count: 600, seed: 11)
        let paths = log.segmentPaths
        #expect(paths.count > 2)
        func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        var closed = 0
        for path in paths.dropLast() {
            let first = UInt64((path as NSString).lastPathComponent.dropLast(4))!
            let scan = try SegmentedLog.scanTail(.init(first: first, path: path, bytes: size(path)))
            #expect(scan.wholeBytes == size(path), "\(path): records end at \(scan.wholeBytes), the file at \(size(path))")
            closed += size(path)
        }
        let used = log.storedBytes - closed
        #expect(await eventually { size(paths.last!) > used }, "the active segment is allocated ahead of its records")
        let active = try Data(contentsOf: URL(fileURLWithPath: paths.last!))
        #expect(active[used...].allSatisfy { $0 == 0 })
        let reopened = try SegmentedLog(directory: dir.path, options: options)
        #expect(try records(reopened) == payloads)
        #expect(try reopened.append { $0.string("next") } == UInt64(payloads.count + 1))
        _ = try reopened.sync()
    }

    @Test func aChecksumMismatchInsideARecordIsDetected() throws {
        try withTemporaryDirectory(prefix: "journeyd-log") { dir in
            let log = try SegmentedLog(directory: dir)
            _ = try fill(log, count: 50, seed: 3)
            let segment = try #require(log.segmentPaths.last)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
            bytes[log.storedBytes / 2] ^= 0xFF  // a flipped bit in the middle of the records
            try bytes.write(to: URL(fileURLWithPath: segment))
            let reopened = try SegmentedLog(directory: dir)
            #expect(reopened.lastSequence < 50, "the damaged record and everything after it are not trusted")
            #expect(try records(reopened).count == Int(reopened.lastSequence))
        }
    }

    @Test func damageInAClosedSegmentIsReportedNotSkipped() throws {
        try withTemporaryDirectory(prefix: "journeyd-log") { dir in
            let log = try SegmentedLog(directory: dir, options: .init(segmentBytes: 2048))
            _ = try fill(log, count: 200, seed: 5)
            let closed = try #require(log.segmentPaths.first)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: closed))
            bytes[100] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: closed))
            let reopened = try SegmentedLog(directory: dir, options: .init(segmentBytes: 2048))
            #expect(throws: LogError.self) { _ = try records(reopened) }
        }
    }

    @Test func aLogBehindItsCheckpointStartsAfterItAndAGapIsRefused() throws {
        try withTemporaryDirectory(prefix: "journeyd-log") { dir in
            // Nothing after the checkpoint survived (a log removed, or never synced): numbering continues.
            let fresh = try SegmentedLog.recovering(directory: dir + "/a", after: 500)
            #expect(fresh.lastSequence == 500 && fresh.firstSequence == 501)
            #expect(try fresh.append { $0.string("x") } == 501)
            _ = try fresh.sync()
            // A log whose first record comes after the checkpoint's next one has lost records: refused.
            let gapped = try SegmentedLog.recovering(directory: dir + "/b", after: 900)
            _ = try gapped.append { $0.string("x") }
            _ = try gapped.sync()
            #expect(throws: LogError.self) { _ = try SegmentedLog.recovering(directory: dir + "/b", after: 10) }
        }
    }

    @Test func segmentsACheckpointCoversAreDeletedAndTheRestReadOn() throws {
        try withTemporaryDirectory(prefix: "journeyd-log") { dir in
            let log = try SegmentedLog(directory: dir, options: .init(segmentBytes: 1024))
            let payloads = try fill(log, count: 300, seed: 9)
            let before = log.segmentPaths.count
            try log.discard(through: 250)
            #expect(log.segmentPaths.count < before)
            #expect(log.firstSequence <= 251)
            var tail: [[UInt8]] = []
            try log.read(after: 250) { _, bytes in
                tail.append(Array(bytes))
                return true
            }
            #expect(tail == Array(payloads[250...]))
            // Discarding everything keeps the active segment: numbering goes on.
            try log.discard(through: 300)
            #expect(try log.append { $0.string("next") } == 301)
        }
    }
}
