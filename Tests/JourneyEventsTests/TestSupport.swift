import JourneyCore
import JourneyEvents
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sample line of the performance target (DESIGN §11).
let sampleLine =
    #"{"type":"track","userId":"u189534","event":"event_35","properties":{"sku":"SKU-89703","price":5401.4,"qty":4,"category":"shirts"},"timestamp":"2025-06-01T12:19:27.123Z","messageId":"m-0-223372380367640"}"#

/// Offset of the first occurrence of `needle` in `haystack`, in UTF-8 bytes (the tests locate the
/// expected byte of a rejection this way instead of hard-coding numbers).
func offset(of needle: String, in haystack: String, occurrence: Int = 1) -> Int {
    offset(of: Array(needle.utf8), in: Array(haystack.utf8), occurrence: occurrence)
}

func offset(of needle: [UInt8], in haystack: [UInt8], occurrence: Int = 1) -> Int {
    var seen = 0
    if needle.count <= haystack.count {
        for start in 0...(haystack.count - needle.count) where Array(haystack[start..<start + needle.count]) == needle {
            seen += 1
            if seen == occurrence { return start }
        }
    }
    Issue.record("\(needle) not found \(occurrence) time(s)")
    return -1
}

/// Parses `line`, expecting an event.
func event(
    _ line: String,
    options: SegmentEventParser.Options = SegmentEventParser.Options(),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> Event {
    switch SegmentEventParser(options: options).parse(line) {
    case .success(let event):
        return event
    case .failure(let rejection):
        Issue.record("rejected: \(rejection)", sourceLocation: sourceLocation)
        throw rejection
    }
}

struct UnexpectedlyAccepted: Error {}

/// Parses `line` (bytes), expecting a rejection.
func rejection(
    _ line: [UInt8],
    options: SegmentEventParser.Options = SegmentEventParser.Options(),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> EventRejection {
    switch SegmentEventParser(options: options).parse(line) {
    case .success(let event):
        Issue.record("accepted: \(event)", sourceLocation: sourceLocation)
        throw UnexpectedlyAccepted()
    case .failure(let rejection):
        return rejection
    }
}

func rejection(
    _ line: String,
    options: SegmentEventParser.Options = SegmentEventParser.Options(),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> EventRejection {
    try rejection(Array(line.utf8), options: options, sourceLocation: sourceLocation)
}

func syntaxError(_ text: [UInt8], maxDepth: Int = 64, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> JSONSyntaxError
{
    do {
        let value = try JSONParser(maxDepth: maxDepth).parse(text)
        Issue.record("accepted: \(value)", sourceLocation: sourceLocation)
        throw UnexpectedlyAccepted()
    } catch let error as JSONSyntaxError {
        return error
    }
}

func syntaxError(_ text: String, maxDepth: Int = 64, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> JSONSyntaxError
{
    try syntaxError(Array(text.utf8), maxDepth: maxDepth, sourceLocation: sourceLocation)
}

func at(_ iso: String) -> Timestamp { Timestamp(iso8601: iso)! }

/// A scratch file, removed at the end of the test.
final class TemporaryFile {
    let path: String

    init(contents: [UInt8] = []) throws {
        var template = Array("/tmp/journeyevents-test-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        close(fd)
        path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try append(contents)
    }

    func append(_ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_APPEND)
        try #require(fd >= 0)
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress! + written, bytes.count - written) }
            try #require(n > 0)
            written += n
        }
    }

    func append(_ text: String) throws { try append(Array(text.utf8)) }

    deinit { unlink(path) }
}
