public import JourneyCore

/// A request body of the Segment HTTP Tracking API cut into its events, each read by the event parser
/// straight from the body's bytes (``RequestMembers``) and kept as the one JSON line the event log stores:
///
/// - `/v1/track`, `/v1/identify`, … carry one event; its `type` is the endpoint's when the body has none.
/// - `/v1/batch` (and `/v1/import`) carry `{"batch": [event, …], "sentAt": …, "context": …}`; a
///   batch-level `sentAt` or `context` is given to each event that has none of its own (the clock-skew
///   correction needs the `sentAt` of the request an event came in).
/// - `writeKey` (the body's way of authenticating) is taken out of every event: a secret is never logged,
///   quarantined or kept in the event log.
/// - `receivedAt` is the server's time of receipt, set on every event as Segment sets it (a client's value
///   is replaced): an event without `timestamp` happened when it was received.
///
/// Every value keeps the bytes the client sent. What is refused here refuses the whole request (a
/// 400 naming the event's index): a body that is not JSON, an event that is not an object or is over
/// the per-event limit. Whether an event is a valid Segment event is decided per event: one the parser
/// rejects is handed on without its event, and the pump rejects and quarantines it.
public struct TrackingBody: Sendable {
    /// What a request posts: one event of a type, or a batch.
    public enum Endpoint: Sendable, Equatable {
        case single(type: String)
        case batch

        /// The endpoint at `/v1/<name>`, nil for a path the API does not have.
        public init?(name: String) {
            switch name {
            case "track", "identify", "page", "screen", "group", "alias": self = .single(type: name)
            case "batch", "import": self = .batch
            default: return nil
            }
        }
    }

    /// Why a body is refused: which event (nil for the body as a whole) and why.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var index: Int?
        public var reason: String

        public init(index: Int?, reason: String) {
            self.index = index
            self.reason = reason
        }

        public var description: String { index.map { "batch[\($0)]: \(reason)" } ?? reason }
    }

    /// The events, as the event log keeps them: each one's line (one JSON object), and the event it
    /// makes when it is a valid Segment event (nil: the pump rejects and quarantines the line).
    public var events: [SourceLine]
    /// The `writeKey` the body carried, if any.
    public var writeKey: String?

    /// The events' lines.
    public var lines: [[UInt8]] { events.map(\.bytes) }

    /// Cuts `body` into events and reads each with `parser` straight from the body's bytes (no line
    /// is written and read again); throws the first problem that refuses the request. `receivedAt`,
    /// when given, is set on every event.
    public init(
        _ body: [UInt8], endpoint: Endpoint, maxEventBytes: Int, receivedAt: Timestamp? = nil,
        parser: SegmentEventParser = SegmentEventParser()
    ) throws(Problem) {
        var scanner = JSONSpans(body)
        let received = receivedAt.map { (JSONSpans.Name.receivedAt, Self.quoted($0.iso8601)) }
        switch endpoint {
        case .single(let type):
            guard body.count <= maxEventBytes else {
                throw Problem(index: 0, reason: "event exceeds \(maxEventBytes) bytes (\(body.count) bytes)")
            }
            let members: [JSONSpans.Member]
            do { members = try scanner.topLevelObject() } catch { throw Problem(index: nil, reason: Self.describe(error)) }
            writeKey = Self.stringValue(of: .writeKey, in: members, body: body)
            let request = RequestMembers(type: type, receivedAt: receivedAt, maxDepth: parser.options.maxDepth)
            events = body.withUnsafeBufferPointer { body in
                [Self.event(body, parser: parser, request: request) { Self.line(members, of: body, injecting: [(.type, Self.quoted(type))], setting: received) }]
            }
        case .batch:
            // One pass checks the body and finds its events; the batch-level members they may need can
            // come after them, so the events are read at the end.
            var ranges: [Range<Int>] = []
            var eventProblem: Problem?
            let members: [JSONSpans.Member]
            do throws(JSONSpans.Problem) {
                members = try scanner.topLevelObject { (scanner: inout JSONSpans, key: JSONSpans.Name) throws(JSONSpans.Problem) in
                    guard key == .batch else { return try scanner.value(depth: 2) }
                    ranges = []
                    try scanner.array { (scanner: inout JSONSpans, index: Int) throws(JSONSpans.Problem) in
                        let start = scanner.position
                        do throws(JSONSpans.Problem) {
                            try scanner.skipObject()
                        } catch {
                            eventProblem = Problem(index: index, reason: Self.describe(error, base: start))
                            throw error
                        }
                        let size = scanner.position - start
                        if size > maxEventBytes {
                            eventProblem = Problem(index: index, reason: "event exceeds \(maxEventBytes) bytes (\(size) bytes)")
                            throw JSONSpans.Problem(offset: start, reason: "too large")
                        }
                        ranges.append(start..<scanner.position)
                    }
                }
            } catch {
                throw eventProblem ?? Problem(index: nil, reason: Self.describe(error))
            }
            writeKey = Self.stringValue(of: .writeKey, in: members, body: body)
            guard members.contains(where: { $0.name == .batch }) else {
                throw Problem(index: nil, reason: #"a batch body needs "batch": [events]"#)
            }
            var shared: [(JSONSpans.Name, ArraySlice<UInt8>)] = []
            for name in [JSONSpans.Name.sentAt, .context] {
                if let member = members.last(where: { $0.name == name }) { shared.append((name, body[member.valueRange])) }
            }
            let request = RequestMembers(
                sentAt: shared.first { $0.0 == .sentAt }?.1, context: shared.first { $0.0 == .context }?.1, receivedAt: receivedAt,
                maxDepth: parser.options.maxDepth)
            events = body.withUnsafeBufferPointer { body in
                ranges.map { range in
                    Self.event(UnsafeBufferPointer(rebasing: body[range]), parser: parser, request: request) {
                        let bytes = Array(body[range])
                        var spans = JSONSpans(bytes)
                        let members = (try? spans.object()) ?? []
                        return bytes.withUnsafeBufferPointer { Self.line(members, of: $0, injecting: shared, setting: received) }
                    }
                }
            }
        }
    }

    /// One event read from its bytes with the request's members; one the parser rejects keeps the line
    /// `cut` writes for it (the pump rejects it with its reason and quarantines that line).
    static func event(
        _ bytes: UnsafeBufferPointer<UInt8>, parser: SegmentEventParser, request: RequestMembers, cut: () -> [UInt8]
    ) -> SourceLine {
        switch parser.parse(bytes, completing: request) {
        case .success(let (event, line)): SourceLine(bytes: line, event: event)
        case .failure: SourceLine(bytes: cut())
        }
    }

    /// The event's members minus `writeKey`, plus `injecting` members it does not have, and `setting`
    /// whether it has it or not. (`body` as a buffer pointer: copying its spans costs no reference counting.)
    static func line(
        _ members: [JSONSpans.Member], of body: UnsafeBufferPointer<UInt8>, injecting: [(JSONSpans.Name, ArraySlice<UInt8>)],
        setting: (JSONSpans.Name, ArraySlice<UInt8>)? = nil
    ) -> [UInt8] {
        var line: [UInt8] = [UInt8(ascii: "{")]
        line.reserveCapacity((members.last?.valueRange.upperBound ?? 0) - (members.first?.keyRange.lowerBound ?? 0) + 64)
        var first = true
        func comma() {
            if !first { line.append(UInt8(ascii: ",")) }
            first = false
        }
        let replaced = setting?.0
        for member in members where member.name != .writeKey && (replaced == nil || member.name != replaced) {
            comma()
            line.append(contentsOf: UnsafeBufferPointer(rebasing: body[member.keyRange]))
            line.append(UInt8(ascii: ":"))
            line.append(contentsOf: UnsafeBufferPointer(rebasing: body[member.valueRange]))
        }
        for (name, value) in injecting where !members.contains(where: { $0.name == name }) {
            comma()
            line += name.quoted.utf8
            line.append(UInt8(ascii: ":"))
            line += value
        }
        if let (name, value) = setting {
            comma()
            line += name.quoted.utf8
            line.append(UInt8(ascii: ":"))
            line += value
        }
        line.append(UInt8(ascii: "}"))
        return line
    }

    static func quoted(_ text: String) -> ArraySlice<UInt8> {
        var out: [UInt8] = []
        JSONWriter.writeString(text, into: &out)
        return out[...]
    }

    static func stringValue(of name: JSONSpans.Name, in members: [JSONSpans.Member], body: [UInt8]) -> String? {
        guard let member = members.last(where: { $0.name == name }) else { return nil }
        let value = body[member.valueRange]
        guard value.count >= 2, value.first == UInt8(ascii: "\""), !value.contains(UInt8(ascii: "\\")) else { return nil }
        return String(decoding: value.dropFirst().dropLast(), as: UTF8.self)
    }

    static func describe(_ problem: JSONSpans.Problem, base: Int = 0) -> String {
        "not JSON at byte \(problem.offset - base): \(problem.reason)"
    }
}
