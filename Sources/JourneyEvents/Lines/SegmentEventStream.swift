import JourneyCore

/// The Segment messages of a JSONL file, one result per line in order: an ``Event`` or the
/// ``EventRejection`` saying why that line is not one (blank and over-long lines included).
///
/// The file is read in 1 MiB chunks, so memory stays bounded for files of any size; a last line without
/// a newline is parsed too. It is a single-pass sequence:
///
/// ```swift
/// for result in try SegmentEventStream(path: "events.jsonl") {
///     switch result {
///     case .success(let event): …
///     case .failure(let rejection): log(rejection)   // events.jsonl:12: byte 3456: $.timestamp: …
///     }
/// }
/// ```
///
/// A read error after opening ends the sequence with one last rejection naming it, and is kept in
/// ``readError``.
public final class SegmentEventStream: Sequence, IteratorProtocol {
    public let parser: SegmentEventParser
    /// Name used in rejections (by default the file's path).
    public let source: String
    /// Set when reading failed; the sequence ended there.
    public private(set) var readError: JSONLineReader.ReadError?
    /// The line behind the latest result; its bytes stay valid until the next call to ``next()``
    /// (for quarantining the raw input of a rejection).
    public private(set) var currentLine: JSONLineReader.Line?

    private let reader: JSONLineReader
    private var finished = false

    /// Opens `path`; lines longer than the parser's `maxEventBytes` are rejected without being buffered.
    public init(path: String, parser: SegmentEventParser = SegmentEventParser(), source: String? = nil)
        throws(JSONLineReader.ReadError)
    {
        self.parser = parser
        self.source = source ?? path
        reader = try JSONLineReader(path: path, maxLineBytes: parser.options.maxEventBytes)
    }

    /// Reads from an open descriptor (a pipe, a socket, a file positioned at `startOffset`).
    public init(
        fileDescriptor: Int32,
        closeWhenDone: Bool = false,
        source: String,
        parser: SegmentEventParser = SegmentEventParser(),
        firstLineNumber: Int = 1,
        startOffset: Int = 0
    ) {
        self.parser = parser
        self.source = source
        reader = JSONLineReader(
            fileDescriptor: fileDescriptor,
            closeWhenDone: closeWhenDone,
            maxLineBytes: parser.options.maxEventBytes,
            firstLineNumber: firstLineNumber,
            startOffset: startOffset
        )
    }

    public func next() -> Result<Event, EventRejection>? {
        guard !finished else { return nil }
        do {
            guard let line = try reader.nextLine() else {
                finished = true
                currentLine = nil
                return nil
            }
            currentLine = line
            return parser.parse(line, source: source)
        } catch {
            finished = true
            readError = error
            currentLine = nil
            return .failure(
                EventRejection(
                    line: reader.nextLineNumber,
                    byteOffset: reader.consumedOffset,
                    path: "$",
                    reason: "cannot read the input: \(error)",
                    source: source
                )
            )
        }
    }
}
