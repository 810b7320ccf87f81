import JourneyCore

/// Turns one Segment-spec JSON message (a line of a JSONL file, a body of the HTTP Tracking API) into an
/// ``Event``, or says precisely why not.
///
/// Mapping (see DESIGN §3):
/// - `type`: `track`, `identify`, `page`, `screen`, `group` or `alias`; required, never guessed.
/// - `userId` and/or `anonymousId` (strings; numbers are taken as their decimal text, as Segment's
///   libraries do). `Event.userId` is `userId` when present, else `anonymousId`; `anonymousId` is kept.
/// - `messageId`: required unless ``Options/requireMessageId`` is off, in which case a stable id is
///   derived from the line's bytes (so a repeated line is still recognised as a duplicate).
/// - time: `timestamp`, else `originalTimestamp`, else `sentAt`, else `receivedAt` (RFC 3339), else
///   ``Options/defaultTimestamp``. Only `timestamp` is lifted; the other three stay in `extra`.
/// - `event` (track, required, non-empty) or `name` (page, screen) → `Event.name`.
/// - `properties` (track, page, screen) and `traits` (identify, group) must be objects. When an event has
///   no `traits`, `context.traits` (where RudderStack puts them) is used.
/// - `groupId` (required for group), `previousId` (required for alias).
/// - Every other member — and a Spec member this type does not lift, such as `properties` on an
///   identify — goes to `Event.extra`, in input order, so nothing sent is lost.
///
/// A Spec member whose value is `null` counts as absent. Spec members of the wrong type are rejected
/// with their path (`$.userId: expected a string or number, found object`); the JSON itself must be
/// strict RFC 8259 (see ``JSONParser``).
public struct SegmentEventParser: Sendable {
    public struct Options: Sendable, Hashable {
        /// Largest accepted message, in bytes (Segment's own limit is 32 KB per event).
        public var maxEventBytes: Int
        /// Time given to events that carry none of the four time members; `nil` rejects them.
        public var defaultTimestamp: Timestamp?
        /// Whether an event without `messageId` is rejected (else an id is derived from its bytes).
        public var requireMessageId: Bool
        /// Deepest nesting accepted inside an event (the event object itself is level 1).
        public var maxDepth: Int

        public init(
            maxEventBytes: Int = 32 * 1024,
            defaultTimestamp: Timestamp? = nil,
            requireMessageId: Bool = true,
            maxDepth: Int = 64
        ) {
            self.maxEventBytes = maxEventBytes
            self.defaultTimestamp = defaultTimestamp
            self.requireMessageId = requireMessageId
            self.maxDepth = maxDepth
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Parses one message.
    /// - Parameters:
    ///   - line: the message's bytes, without the line terminator.
    ///   - lineNumber: its 1-based line number, for the rejection (0 when not from lines).
    ///   - byteOffset: offset of `line` in the whole input, added to offsets in rejections.
    ///   - source: where the input came from, for the rejection.
    public func parse(
        _ line: UnsafeBufferPointer<UInt8>,
        lineNumber: Int = 0,
        byteOffset: Int = 0,
        source: String? = nil
    ) -> Result<Event, EventRejection> {
        func reject(_ error: ScanError) -> Result<Event, EventRejection> {
            .failure(
                EventRejection(
                    line: lineNumber,
                    byteOffset: byteOffset + error.offset,
                    path: JSONPath.format(innermostFirst: error.path),
                    reason: error.reason,
                    source: source
                )
            )
        }
        if line.count > options.maxEventBytes {
            let reason = "event exceeds \(options.maxEventBytes) bytes (\(line.count) bytes)"
            return reject(ScanError(offset: 0, reason: reason))
        }
        let options = options
        return JSONScanner.with(line, maxDepth: options.maxDepth) { scanner in
            // The event goes straight into the returned enum: no intermediate `Result` to copy and destroy.
            do throws(ScanError) {
                return .success(try scanner.parseSegmentEvent(options))
            } catch {
                return reject(error)
            }
        }
    }

    public func parse(
        _ line: [UInt8],
        lineNumber: Int = 0,
        byteOffset: Int = 0,
        source: String? = nil
    ) -> Result<Event, EventRejection> {
        line.withUnsafeBufferPointer { parse($0, lineNumber: lineNumber, byteOffset: byteOffset, source: source) }
    }

    public func parse(
        _ line: String,
        lineNumber: Int = 0,
        byteOffset: Int = 0,
        source: String? = nil
    ) -> Result<Event, EventRejection> {
        var line = line
        return line.withUTF8 { parse($0, lineNumber: lineNumber, byteOffset: byteOffset, source: source) }
    }

    /// Parses every line of `buffer` (a whole JSONL document in memory), calling `body` once per line in
    /// order — blank lines and oversized lines included, as rejections, so nothing is skipped silently.
    /// - Parameters:
    ///   - baseOffset: offset of `buffer` in the whole input; `firstLineNumber`: number of its first line.
    public func parseLines(
        in buffer: UnsafeBufferPointer<UInt8>,
        source: String? = nil,
        firstLineNumber: Int = 1,
        baseOffset: Int = 0,
        _ body: (Result<Event, EventRejection>) throws -> Void
    ) rethrows {
        let reader = JSONLineReader(
            buffer: buffer,
            maxLineBytes: options.maxEventBytes,
            firstLineNumber: firstLineNumber,
            baseOffset: baseOffset
        )
        while let line = reader.nextBufferedLine() {
            try body(parse(line, source: source))
        }
    }

    /// Parses a line from a ``JSONLineReader``, turning an over-long line into a rejection.
    public func parse(_ line: JSONLineReader.Line, source: String? = nil) -> Result<Event, EventRejection> {
        if line.exceedsLimit {
            let length = line.isTerminated ? "\(line.length) bytes" : "\(line.length) bytes so far"
            return .failure(
                EventRejection(
                    line: line.number,
                    byteOffset: line.byteOffset,
                    path: "$",
                    reason: "line exceeds \(line.limit) bytes (\(length))",
                    source: source
                )
            )
        }
        return parse(line.bytes, lineNumber: line.number, byteOffset: line.byteOffset, source: source)
    }
}
