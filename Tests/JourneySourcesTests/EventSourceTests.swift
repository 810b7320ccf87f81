import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Synchronization
import Testing

@testable import JourneySources

/// The spool, the tailed file and the socket keep the event-source contract.
@Suite("Event sources")
struct EventSourceTests {
    @Test func theSpoolKeepsTheSourceContract() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-spool") { dir in
            let counter = Mutex(0)
            try await EventSourceConformance.check(
                .init(
                    makeSource: { positions in
                        try SpoolSource(directory: dir, positions: positions, maxLineBytes: 32 * 1024, pollInterval: .milliseconds(5))
                    },
                    produce: { lines in
                        // Producers write elsewhere and rename into incoming/, files taken in name order.
                        let n = counter.withLock { n in
                            n += 1
                            return n
                        }
                        let staging = dir + "/staging-\(n)"
                        try (lines.joined(separator: "\n") + "\n").write(toFile: staging, atomically: false, encoding: .utf8)
                        try FileManager.default.moveItem(atPath: staging, toPath: dir + String(format: "/incoming/%04d.jsonl", n))
                    },
                    answers: { _ in nil }, resumes: true))
        }
    }

    @Test func theTailedFileKeepsTheSourceContract() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-tail") { dir in
            let path = dir + "/events.log"
            FileManager.default.createFile(atPath: path, contents: nil)
            try await EventSourceConformance.check(
                .init(
                    makeSource: { positions in TailSource(path: path, positions: positions, maxLineBytes: 32 * 1024, pollInterval: .milliseconds(5)) },
                    produce: { lines in
                        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                        handle.seekToEndOfFile()
                        handle.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                        try handle.close()
                    },
                    answers: { _ in nil }, resumes: true))
        }
    }

    @Test func theSocketKeepsTheSourceContract() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-socket") { dir in
            let path = dir + "/events.sock"
            let producer = SocketProducer(path: path)
            defer { producer.close() }
            try await EventSourceConformance.check(
                .init(
                    makeSource: { _ in SocketSource(listeners: [try .unix(path)], maxLineBytes: 32 * 1024) },
                    produce: { lines in try await producer.send(lines) },
                    answers: { try await producer.answers(atLeast: $0) }, resumes: false))
            // The stopped source waits for its producer (lines in flight, never answered) until it hangs
            // up; then its thread ends and removes the socket — before the directory goes, not during.
            producer.close()
            #expect(await eventually(timeout: .seconds(60)) { !FileManager.default.fileExists(atPath: path) })
        }
    }

    /// A stopped socket source answers what is in flight before it closes — but not for a producer that
    /// left: nobody can read those answers. (It waited for them forever, and once the producer's hang-up
    /// was pending its thread spun a core: poll(2) reports a hang-up whatever was asked for.)
    @Test func aStoppedSocketEndsWithoutWaitingToAnswerAProducerThatLeft() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-socket") { dir in
            let path = dir + "/events.sock"
            let source = try SocketSource(listeners: [try .unix(path)], maxLineBytes: 1024)
            let producer = SocketProducer(path: path)
            try await producer.send(["a", "b", "c"])
            var taken = 0
            while taken < 3 {
                let batch = try #require(try await source.next(limit: 10))
                taken += batch.lines.count  // in flight: never acknowledged
            }
            source.stop()
            producer.close()
            // Its thread ended: the listener is closed and its path removed.
            #expect(await eventually(timeout: .seconds(60)) { !FileManager.default.fileExists(atPath: path) })
        }
    }

    @Test func aSpoolFileDurableToItsEndBeforeARestartIsArchivedNotReadAgain() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-spool") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/incoming", withIntermediateDirectories: true)
            let path = dir + "/incoming/0001.jsonl"
            try "a\nb\n".write(toFile: path, atomically: false, encoding: .utf8)
            var info = stat()
            stat(path, &info)
            let source = try SpoolSource(
                directory: dir, positions: ["spool/0001.jsonl@\(info.st_ino)": 4], maxLineBytes: 1024, finite: true, pollInterval: .milliseconds(5))
            let batch = try await source.next(limit: 10)
            #expect(batch?.lines.isEmpty == true && batch?.positions["spool/0001.jsonl@\(info.st_ino)"] == .some(nil))
            #expect(FileManager.default.fileExists(atPath: dir + "/done/0001.jsonl"))
            #expect(try await source.next(limit: 10) == nil, "a finite spool ends once drained")
        }
    }

    @Test func anOverlongLineIsHandedOutMarkedNotCutIntoPieces() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-spool") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/incoming", withIntermediateDirectories: true)
            try ("ok1\n" + String(repeating: "x", count: 5000) + "\nok2").write(toFile: dir + "/incoming/1.jsonl", atomically: false, encoding: .utf8)
            let source = try SpoolSource(directory: dir, positions: [:], maxLineBytes: 1000, finite: true, pollInterval: .milliseconds(5))
            let batch = try #require(try await source.next(limit: 10))
            #expect(batch.lines.map(\.oversized) == [false, true, false])
            #expect(batch.lines.map(\.line) == [1, 2, 3] && batch.lines[2].byteOffset == 5005)
            #expect(String(decoding: batch.lines[2].bytes, as: UTF8.self) == "ok2", "a last line without its newline counts in a finished file")
        }
    }
}

/// A producer on a Unix socket: one connection, lines written, answers collected as they come.
final class SocketProducer: @unchecked Sendable {
    let path: String
    private var fd: Int32 = -1
    private let lock = NSLock()
    private var received: [UInt8] = []

    init(path: String) { self.path = path }

    func send(_ lines: [String]) async throws {
        if fd < 0 {
            let path = self.path
            fd = try await offThread { () throws -> Int32 in
                for _ in 0..<3000 {
                    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                    let connected = try withUnixAddress(path, what: "test") { connect(fd, $0, $1) }
                    if connected == 0 { return fd }
                    Glibc.close(fd)
                    usleep(10_000)
                }
                throw TestFailure("cannot connect to \(path)")
            }
            let fd = self.fd
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    if n <= 0 { return }
                    lock.withLock { received += buffer[0..<n] }
                }
            }
        }
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        let fd = self.fd
        try await offThread {
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
                guard n > 0 else { throw TestFailure("write failed") }
                written += n
            }
        }
    }

    /// The answer lines received, once at least `count` have arrived (or a minute passed).
    func answers(atLeast count: Int) async throws -> [String] {
        func lines() -> [String] { lock.withLock { String(decoding: received, as: UTF8.self).split(separator: "\n").map(String.init) } }
        _ = await eventually(timeout: .seconds(60)) { lines().count >= count }
        return lines()
    }

    /// Hangs up: shut down first, so the reader thread's blocked `read` returns (a `close` alone neither
    /// wakes it nor, while it reads, ends the connection).
    func close() {
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        fd = -1  // closed once: a second close could hit a descriptor another test opened since
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
