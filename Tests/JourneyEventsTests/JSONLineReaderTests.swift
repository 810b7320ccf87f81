import JourneyCore
import JourneyEvents
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a test keeps of a ``JSONLineReader/Line`` (whose bytes are only valid until the next call).
struct SeenLine: Equatable, CustomStringConvertible {
    var number: Int
    var offset: Int
    var text: String
    var terminated = true
    var oversized = false
    var length: Int? = nil

    init(_ number: Int, _ offset: Int, _ text: String, terminated: Bool = true, oversized: Bool = false, length: Int? = nil) {
        self.number = number
        self.offset = offset
        self.text = text
        self.terminated = terminated
        self.oversized = oversized
        self.length = length
    }

    init(_ line: JSONLineReader.Line) {
        self.init(
            line.number, line.byteOffset, String(decoding: line.bytes, as: UTF8.self), terminated: line.isTerminated,
            oversized: line.exceedsLimit, length: line.exceedsLimit ? line.length : nil)
    }

    var description: String { "\(number)@\(offset) \(text.debugDescription)\(terminated ? "" : " …")\(oversized ? " oversized(\(length!))" : "")" }
}

func linesInMemory(_ text: [UInt8], maxLineBytes: Int = 1 << 20) -> [SeenLine] {
    text.withUnsafeBufferPointer { buffer in
        let reader = JSONLineReader(buffer: buffer, maxLineBytes: maxLineBytes)
        var lines: [SeenLine] = []
        while let line = reader.nextBufferedLine() { lines.append(SeenLine(line)) }
        return lines
    }
}

func linesFromFile(_ text: [UInt8], chunkSize: Int, maxLineBytes: Int = 1 << 20) throws -> [SeenLine] {
    let file = try TemporaryFile(contents: text)
    let reader = try JSONLineReader(path: file.path, maxLineBytes: maxLineBytes, chunkSize: chunkSize)
    var lines: [SeenLine] = []
    while let line = try reader.nextLine() { lines.append(SeenLine(line)) }
    return lines
}

@Suite("JSONLineReader")
struct JSONLineReaderTests {
    let mixed = Array("a\nbc\r\n\n  \nlast".utf8)
    let mixedLines = [
        SeenLine(1, 0, "a"), SeenLine(2, 2, "bc"), SeenLine(3, 6, ""), SeenLine(4, 7, "  "),
        SeenLine(5, 10, "last", terminated: false),
    ]

    @Test func splitsABufferIntoNumberedLinesWithOffsets() {
        #expect(linesInMemory(mixed) == mixedLines)
    }

    @Test func reportsNoUnterminatedLineWhenTheInputEndsWithANewline() {
        #expect(linesInMemory(Array("x\ny\n".utf8)) == [SeenLine(1, 0, "x"), SeenLine(2, 2, "y")])
        #expect(linesInMemory([]) == [])
        #expect(linesInMemory(Array("\n".utf8)) == [SeenLine(1, 0, "")])
    }

    @Test(arguments: [1, 2, 3, 5, 8, 64, 1 << 20])
    func readsAFileInChunksWithTheSameResult(chunkSize: Int) throws {
        #expect(try linesFromFile(mixed, chunkSize: chunkSize) == mixedLines)
    }

    @Test func flagsLinesLongerThanTheLimit() {
        let text = Array("short\n0123456789\nok\n0123456789ab".utf8)
        #expect(
            linesInMemory(text, maxLineBytes: 8) == [
                SeenLine(1, 0, "short"), SeenLine(2, 6, "", oversized: true, length: 10), SeenLine(3, 17, "ok"),
                SeenLine(4, 20, "", terminated: false, oversized: true, length: 12),
            ])
    }

    @Test(arguments: [1, 3, 4, 7, 16])
    func skipsOverLongLinesFromAFileWithoutBufferingThem(chunkSize: Int) throws {
        let long = String(repeating: "x", count: 1000)
        let text = Array("short\n\(long)\r\nok\n\(long)".utf8)
        let lines = try linesFromFile(text, chunkSize: chunkSize, maxLineBytes: 8)
        #expect(
            lines == [
                SeenLine(1, 0, "short"), SeenLine(2, 6, "", oversized: true, length: 1000), SeenLine(3, 1008, "ok"),
                SeenLine(4, 1011, "", terminated: false, oversized: true, length: 1000),
            ])
    }

    @Test func acceptsALineExactlyAtTheLimitWithCRLF() throws {
        let text = Array("12345678\r\n123456789\r\n".utf8)
        let expected = [SeenLine(1, 0, "12345678"), SeenLine(2, 10, "", oversized: true, length: 9)]
        #expect(linesInMemory(text, maxLineBytes: 8) == expected)
        for chunk in [1, 2, 3, 9, 10, 64] {
            #expect(try linesFromFile(text, chunkSize: chunk, maxLineBytes: 8) == expected, "chunk \(chunk)")
        }
    }

    @Test func waitsForTheRestOfAnUnterminatedLineWhenFollowingAFile() throws {
        let file = try TemporaryFile(contents: Array("one\ntw".utf8))
        let reader = try JSONLineReader(path: file.path, chunkSize: 4)
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(1, 0, "one"))
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(2, 4, "tw", terminated: false))
        #expect(try reader.nextLine() == nil)
        #expect(try reader.nextLine() == nil)
        #expect(reader.consumedOffset == 4)

        try file.append("o\nthree\n")
        reader.resumeAfterEndOfInput()
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(2, 4, "two"))
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(3, 8, "three"))
        #expect(try reader.nextLine() == nil)
        reader.resumeAfterEndOfInput()
        #expect(try reader.nextLine() == nil)
        #expect(reader.nextLineNumber == 4)
        #expect(reader.consumedOffset == 14)
    }

    @Test func keepsSkippingAnOverLongLineAcrossEndOfInputWhenFollowing() throws {
        let file = try TemporaryFile(contents: Array("a\n0123456789".utf8))
        let reader = try JSONLineReader(path: file.path, maxLineBytes: 4, chunkSize: 4)
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(1, 0, "a"))
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(2, 2, "", terminated: false, oversized: true, length: 10))
        #expect(try reader.nextLine() == nil)
        try file.append("0123\nb\n")
        reader.resumeAfterEndOfInput()
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(2, 2, "", oversized: true, length: 14))
        #expect(try reader.nextLine().map(SeenLine.init) == SeenLine(3, 17, "b"))
    }

    @Test func reportsAFileThatCannotBeOpened() {
        #expect(throws: JSONLineReader.ReadError.self) {
            _ = try JSONLineReader(path: "/nonexistent/dir/events.jsonl")
        }
        do {
            _ = try JSONLineReader(path: "/nonexistent/dir/events.jsonl")
        } catch {
            #expect(error.errno == ENOENT)
            #expect(error.description == "open /nonexistent/dir/events.jsonl: No such file or directory")
        }
    }

    @Test func readsAWholeFile() throws {
        let content = Array((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let file = try TemporaryFile(contents: content)
        #expect(try JSONLineReader.readWholeFile(atPath: file.path) == content)
        #expect(throws: JSONLineReader.ReadError.self) { try JSONLineReader.readWholeFile(atPath: "/nonexistent") }
    }

    @Test func readsFromAPipe() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let payload = Array("p1\np2\np3".utf8)
        #expect(payload.withUnsafeBufferPointer { write(fds[1], $0.baseAddress, $0.count) } == payload.count)
        close(fds[1])
        let reader = JSONLineReader(fileDescriptor: fds[0], closeWhenDone: true, chunkSize: 2)
        var lines: [SeenLine] = []
        while let line = try reader.nextLine() { lines.append(SeenLine(line)) }
        #expect(lines == [SeenLine(1, 0, "p1"), SeenLine(2, 3, "p2"), SeenLine(3, 6, "p3", terminated: false)])
    }
}

@Suite("SegmentEventStream")
struct SegmentEventStreamTests {
    @Test func yieldsOneResultPerLineOfAFileWithLineNumbersAndOffsets() throws {
        let good = sampleLine
        let text = good + "\n" + "\n" + #"{"type":"track","userId":[]}"# + "\r\n" + good.replacingFirst("m-0", with: "m-1")
        let file = try TemporaryFile(contents: Array(text.utf8))
        let stream = try SegmentEventStream(path: file.path, source: "events.jsonl")
        var results: [Result<Event, EventRejection>] = []
        for result in stream { results.append(result) }
        try #require(results.count == 4)
        #expect(try results[0].get() == event(good))
        let blank = EventRejection(line: 2, byteOffset: good.utf8.count + 1, path: "$", reason: "empty line", source: "events.jsonl")
        #expect(results[1] == .failure(blank))
        let typeError = EventRejection(
            line: 3, byteOffset: good.utf8.count + 2 + offset(of: "[]", in: #"{"type":"track","userId":[]}"#), path: "$.userId",
            reason: "expected a string or number, found array", source: "events.jsonl")
        #expect(results[2] == .failure(typeError))
        #expect(try results[3].get().messageId == "m-1-223372380367640")
        #expect(stream.readError == nil)
    }

    @Test func rejectsOverLongLinesAndCarriesOn() throws {
        let huge = sampleLine.replacingFirst("shirts", with: String(repeating: "s", count: 50_000))
        let file = try TemporaryFile(contents: Array((huge + "\n" + sampleLine + "\n").utf8))
        let results = Array(try SegmentEventStream(path: file.path, source: "big.jsonl"))
        try #require(results.count == 2)
        #expect(
            results[0]
                == .failure(
                    EventRejection(
                        line: 1, byteOffset: 0, path: "$", reason: "line exceeds 32768 bytes (\(huge.utf8.count) bytes)",
                        source: "big.jsonl")))
        #expect(try results[1].get() == event(sampleLine))
    }

    @Test func namesTheFileInRejectionsByDefault() throws {
        let file = try TemporaryFile(contents: Array("oops\n".utf8))
        let results = Array(try SegmentEventStream(path: file.path))
        #expect(results.count == 1)
        guard case .failure(let r) = results[0] else {
            Issue.record("accepted")
            return
        }
        #expect(r.description == "\(file.path):1: byte 0: $: expected a value, found 'o'")
    }

    @Test func readsAMillionByteFileWithCorrectLineNumbers() throws {
        var text: [UInt8] = []
        var count = 0
        while text.count < 1_500_000 {
            count += 1
            text += Array(sampleLine.replacingFirst("m-0-", with: "m-\(count)-").utf8) + [0x0A]
        }
        let file = try TemporaryFile(contents: text)
        var n = 0
        for result in try SegmentEventStream(path: file.path) {
            n += 1
            #expect(try result.get().messageId.hasPrefix("m-\(n)-"))
        }
        #expect(n == count)
    }
}
