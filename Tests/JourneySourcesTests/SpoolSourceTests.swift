import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Synchronization
import Testing

@testable import JourneySources

/// What the spool does with what `incoming/` holds besides finished files.
@Suite("Spool entries that are not files")
struct SpoolSourceTests {
    /// A directory and a pipe in `incoming/` are skipped and told once each; the files around them
    /// are read. (A pipe used to be opened waiting for a writer: the spool stopped for good, and the
    /// daemon with it — SIGTERM waited on that open.)
    @Test func aDirectoryAndAPipeAreSkippedAndToldOnceTheFilesAreRead() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-spool") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/incoming/b-folder", withIntermediateDirectories: true)
            #expect(mkfifo(dir + "/incoming/a-pipe.jsonl", 0o600) == 0)
            try "one\n".write(toFile: dir + "/incoming/c.jsonl", atomically: false, encoding: .utf8)
            let reports = Mutex<[InputNotice]>([])
            let source = try SpoolSource(directory: dir, positions: [:], maxLineBytes: 1024, pollInterval: .milliseconds(5)) { notice in
                reports.withLock { $0.append(notice) }
            }
            defer { source.stop() }
            let batch = try #require(try await source.next(limit: 10))
            #expect(batch.lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["one"])
            try await source.acknowledge(batch, outcomes: [.accepted(messageId: "m")])
            try "two\n".write(toFile: dir + "/incoming/d.jsonl", atomically: false, encoding: .utf8)
            var read: [String] = []
            while read.isEmpty, let next = try await source.next(limit: 10) {  // (a batch may only forget positions)
                read += next.lines.map { String(decoding: $0.bytes, as: UTF8.self) }
                try await source.acknowledge(next, outcomes: next.lines.map { _ in .accepted(messageId: "m") })
            }
            #expect(read == ["two"])
            // Passed over, not blocking: the spool goes on.
            #expect(
                reports.withLock { $0 } == [
                    .init(.noted, "spool: incoming/a-pipe.jsonl is a pipe, not a file: skipped (producers rename finished files into incoming/)"),
                    .init(.noted, "spool: incoming/b-folder is a directory, not a file: skipped (producers rename finished files into incoming/)"),
                ])
        }
    }

    @Test func aSpoolPathNamingAFileIsAConfigurationMistake() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-spool") { dir async throws in
            let path = dir + "/spool"
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            let error = #expect(throws: SourceError.self) { try SpoolSource(directory: path, positions: [:], maxLineBytes: 1024) }
            #expect(error?.isConfiguration == true)
            #expect(error?.description.hasPrefix("spool \(path): a file, not a directory: --spool (inputs.spool.directory)") == true, "\(error?.description ?? "")")
            let inside = #expect(throws: SourceError.self) { try SpoolSource(directory: path + "/deeper", positions: [:], maxLineBytes: 1024) }
            #expect(inside?.description == "spool \(path)/deeper/incoming: cannot create: Not a directory", "\(inside?.description ?? "")")
        }
    }
}
