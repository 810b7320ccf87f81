import JourneyCore
import JourneyEvents
import Testing

/// A JSONL input mixing good events with every kind of bad line: each bad line is reported with its
/// line number, the byte offset of the problem in the whole input and a reason, and the good line after
/// it is still parsed. Nothing is dropped: one result per line.
@Suite("Hostile input corpus")
struct HostileCorpusTests {
    /// (line bytes, expected reason for a bad line or nil for a good one, byte within the line where the
    /// problem is).
    static let corpus: [(bytes: [UInt8], reason: String?, problemAt: Int)] = {
        func good(_ n: Int) -> [UInt8] { Array(sampleLine.replacingFirst("m-0-", with: "m-\(n)-").utf8) }
        let text = { (s: String) in Array(s.utf8) }
        var lines: [([UInt8], String?, Int)] = []
        lines.append((good(1), nil, 0))
        lines.append((text(#"{"type":"track","userId":"u1","event":"x""#), "unexpected end of input", 41))
        lines.append((good(2), nil, 0))
        lines.append((text(#"{"type":"track","userId":"u"#) + [0xFF] + text(#""}"#), "invalid UTF-8", 27))
        lines.append((good(3), nil, 0))
        lines.append((text(#"{"type":"track","event":"a"#) + [0x00] + text(#""}"#), "NUL byte in a string", 26))
        lines.append((text(#"{"type":"track","event":"a"#) + [0x07] + text(#""}"#), "unescaped control character U+0007 in a string", 26))
        lines.append((good(4), nil, 0))
        let deep = #"{"type":"track","properties":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        lines.append((text(deep), "nesting deeper than 64 levels", 29 + 63))
        lines.append((text(#"{"type":"track","properties":{"n":1e400}}"#), "number out of range", 34))
        lines.append((text(#"{"type":"track","type":"page"}"#), #"duplicate key "type""#, 16))
        lines.append((good(5), nil, 0))
        lines.append((text(""), "empty line", 0))
        lines.append((text("   \t"), "empty line", 0))
        lines.append((text(#"{"type":"track","event":"x","timestamp":"2025-01-01T00:00:00Z","messageId":"m"}"#), #"missing "userId" or "anonymousId""#, 0))
        lines.append((text(#"{"type":"track","userId":"u","event":"x","timestamp":"2025-01-01T00:00:00Z"}"#), #"missing "messageId""#, 0))
        lines.append((text(#"{"type":"track","userId":["u"]}"#), "expected a string or number, found array", 25))
        lines.append((text(#"{"type":"track","properties":"cheap"}"#), "expected an object, found string", 29))
        lines.append((text(#"{"type":"trak"}"#), #"unknown event type "trak" (expected track, identify, page, screen, group or alias)"#, 8))
        lines.append((text("[" + String(repeating: "9", count: 400) + "e999]"), "number out of range", 1))
        lines.append((text("[" + String(repeating: "9", count: 300) + "]"), "expected an object, found array", 0))
        lines.append((text(#"{"type":"track"} trailing"#), "unexpected 't' after the JSON value", 17))
        lines.append((text(#"{"a":"\uDEAD"}"#), #"lone surrogate \uDEAD in a string"#, 6))
        lines.append((text(#"{"type":"track","userId":"u","event":"x","timestamp":"2025-13-01T00:00:00Z","messageId":"m"}"#), #"not an RFC 3339 date-time ("2025-13-01T00:00:00Z")"#, 53))
        let padded = text("{\"type\":\"track\",\"userId\":\"u\"," + String(repeating: " ", count: 700) + "}")
        lines.append((padded, "line exceeds 512 bytes (\(padded.count) bytes)", 0))
        lines.append((text(#"{"type":"track","userId":01}"#), "leading zeros are not allowed in numbers", 25))
        lines.append((text(#"{"type":"track","userId":NaN}"#), "NaN and Infinity are not allowed in JSON", 25))
        lines.append((good(6), nil, 0))
        return lines
    }()

    static let options = SegmentEventParser.Options(maxEventBytes: 512)

    /// The corpus as one buffer; CRLF on some lines; the last line has no newline.
    static func buffer() -> (bytes: [UInt8], starts: [Int]) {
        var bytes: [UInt8] = []
        var starts: [Int] = []
        for (k, line) in corpus.enumerated() {
            starts.append(bytes.count)
            bytes += line.bytes
            if k < corpus.count - 1 { bytes += k % 3 == 0 ? [0x0D, 0x0A] : [0x0A] }
        }
        return (bytes, starts)
    }

    static func check(_ results: [Result<Event, EventRejection>], starts: [Int]) {
        #expect(results.count == corpus.count)
        for (k, (result, line)) in zip(results, corpus).enumerated() {
            switch (result, line.reason) {
            case (.success(let event), nil):
                #expect(event.userId == "u189534")
                #expect(event.messageId.hasPrefix("m-"))
            case (.failure(let rejection), let reason?):
                #expect(rejection.line == k + 1, "\(rejection)")
                #expect(rejection.reason == reason, "line \(k + 1)")
                #expect(rejection.byteOffset == starts[k] + line.problemAt, "line \(k + 1): \(rejection)")
                #expect(rejection.source == "corpus.jsonl")
                #expect(!rejection.description.contains("\n"))
            default:
                Issue.record("line \(k + 1): unexpected \(result)")
            }
        }
    }

    @Test func reportsEveryBadLineAndStillParsesTheGoodOnesInMemory() {
        let (bytes, starts) = Self.buffer()
        var results: [Result<Event, EventRejection>] = []
        bytes.withUnsafeBufferPointer { buffer in
            SegmentEventParser(options: Self.options).parseLines(in: buffer, source: "corpus.jsonl") { results.append($0) }
        }
        Self.check(results, starts: starts)
    }

    @Test(arguments: [7, 64, 1 << 20])
    func reportsEveryBadLineAndStillParsesTheGoodOnesFromAFile(chunkSize: Int) throws {
        let (bytes, starts) = Self.buffer()
        let file = try TemporaryFile(contents: bytes)
        let parser = SegmentEventParser(options: Self.options)
        let reader = try JSONLineReader(path: file.path, maxLineBytes: Self.options.maxEventBytes, chunkSize: chunkSize)
        var results: [Result<Event, EventRejection>] = []
        while let line = try reader.nextLine() { results.append(parser.parse(line, source: "corpus.jsonl")) }
        Self.check(results, starts: starts)
    }

    @Test func survivesRandomCorruptionOfGoodLines() {
        // Flip, drop and insert bytes in good lines: every result is an event or a rejection inside its line.
        var rng = SplitMix(seed: 99)
        let parser = SegmentEventParser()
        for _ in 0..<5_000 {
            var bytes = Array(sampleLine.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                }
            }
            if case .failure(let rejection) = parser.parse(bytes, lineNumber: 1, byteOffset: 1000) {
                #expect(rejection.byteOffset >= 1000 && rejection.byteOffset <= 1000 + bytes.count)
                #expect(!rejection.reason.isEmpty && rejection.path.hasPrefix("$"))
            }
        }
    }
}
