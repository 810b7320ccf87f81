import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Synchronization
import Testing

@testable import JourneySources

/// The tailed file when its path names something it cannot follow.
@Suite("Tailed file in trouble")
struct TailSourceTests {
    @Test func aPathNamingADirectoryIsAConfigurationMistakeAtStart() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-tail") { dir async throws in
            let error = #expect(throws: SourceError.self) { try TailSource.check(path: dir) }
            #expect(error?.isConfiguration == true)
            #expect(error?.description == "tail \(dir): a directory, not a file: --tail (inputs.tail.path) names the JSON-lines file to follow")
            try TailSource.check(path: dir + "/not-yet.log")  // a file that will appear is waited for
            #expect(FileManager.default.createFile(atPath: dir + "/events.log", contents: nil))
            try TailSource.check(path: dir + "/events.log")
        }
    }

    /// The path becomes a directory while followed (a deploy replaced the log): the input says so once
    /// and waits — it does not stop the daemon — and follows the file that takes its place.
    @Test func aDirectoryInThePlaceOfTheFileIsToldOnceAndWaitedOut() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-tail") { dir in
            let path = dir + "/events.log"
            try "one\n".write(toFile: path, atomically: false, encoding: .utf8)
            let reports = Mutex<[InputNotice]>([])
            let source = TailSource(path: path, positions: [:], maxLineBytes: 1024, pollInterval: .milliseconds(5)) { notice in
                reports.withLock { $0.append(notice) }
            }
            defer { source.stop() }
            let first = try await source.next(limit: 10)
            #expect(first?.lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["one"])

            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            let next = Task { try await source.next(limit: 10) }
            #expect(await eventually(timeout: .seconds(120)) { reports.withLock { !$0.isEmpty } })
            #expect(reports.withLock { $0 } == [.init(.began, "tail \(path): a directory, not a file; waiting for a file there; tried again every 1 s")])

            try FileManager.default.removeItem(atPath: path)
            try "two\n".write(toFile: path, atomically: false, encoding: .utf8)
            let batch = try await next.value
            #expect(batch?.lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["two"])
            #expect(
                reports.withLock { $0 } == [
                    .init(.began, "tail \(path): a directory, not a file; waiting for a file there; tried again every 1 s"),
                    .init(.ended, "tail \(path): reading again"),
                ])
        }
    }
}
