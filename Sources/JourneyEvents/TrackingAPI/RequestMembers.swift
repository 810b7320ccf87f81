public import JourneyCore

/// What a Tracking API request gives each of its events, read once per request: the endpoint's `type`
/// and the batch's `sentAt` and `context` for an event that lacks them, and `receivedAt`, set on every
/// event (the client's is replaced). An event's `writeKey` is dropped. (A class: each event's reader
/// holds it without copying its members.)
///
/// ``SegmentEventParser/parse(_:completing:)`` reads an event straight from the request body's bytes
/// with these members as if they were written in it, and writes the line the event log keeps
/// (the event's members as sent, minus `writeKey` and `receivedAt`, then the members given here).
public final class RequestMembers: Sendable {
    /// A member given to every event (or every event without it), read once here, not once per event:
    /// what the line gets and what the parser makes of it. A class: each event that gets it takes one
    /// reference, and reads only the parts it needs (no copy of a whole `SegmentFields` per event).
    final class Member: Sendable {
        let key: SegmentKey
        /// `"key":json`, as the line gets it; the value starts at `valueOffset`.
        let written: [UInt8]
        let valueOffset: Int
        /// Why the parser refuses the value (every event that gets it is refused), or nil.
        let failure: ScanError?
        /// What the parser read: the type, `context.traits`, whether it is a time member, and the
        /// member kept in `extra`.
        let kind: Event.Kind?
        let contextTraits: Value?
        let isTime: Bool
        let extra: Value.Member?

        init(key: SegmentKey, json: [UInt8], read: Result<(fields: SegmentFields, value: Value?), ScanError>) {
            self.key = key
            written = Array("\"\(key.name)\":".utf8) + json
            valueOffset = written.count - json.count
            switch read {
            case .failure(let error):
                failure = error
                kind = nil
                contextTraits = nil
                isTime = false
                extra = nil
            case .success(let (fields, value)):
                failure = nil
                kind = fields.kind
                contextTraits = fields.contextTraits
                isTime = fields.fallbackTime != nil
                extra = value.map { Value.Member(key.name, $0) }
            }
        }
    }

    /// Members an event gets when it has none of its own, in the order they are added.
    let defaults: [Member]
    let receivedAt: Member?

    /// - Parameters:
    ///   - type: the endpoint's type (`/v1/track`), nil for a batch.
    ///   - sentAt, context: the batch-level members' JSON values, as the client sent them.
    ///   - receivedAt: the server's time of receipt.
    public init(
        type: String? = nil, sentAt: ArraySlice<UInt8>? = nil, context: ArraySlice<UInt8>? = nil, receivedAt: Timestamp? = nil,
        maxDepth: Int = 64
    ) {
        func quoted(_ text: String) -> [UInt8] {
            var out: [UInt8] = []
            JSONWriter.writeString(text, into: &out)
            return out
        }
        var defaults: [Member] = []
        if let type { defaults.append(Self.member(.type, quoted(type), maxDepth: maxDepth)) }
        if let sentAt { defaults.append(Self.member(.sentAt, Array(sentAt), maxDepth: maxDepth)) }
        if let context { defaults.append(Self.member(.context, Array(context), maxDepth: maxDepth)) }
        self.defaults = defaults
        self.receivedAt = receivedAt.map { Self.member(.receivedAt, quoted($0.iso8601), maxDepth: maxDepth) }
    }

    /// Reads `json` as the value of `key` with the parser's own rules (a `context` that is not an
    /// object is refused for every event that gets it, as it would be were it written in the event).
    private static func member(_ key: SegmentKey, _ json: [UInt8], maxDepth: Int) -> Member {
        let read = json.withUnsafeBufferPointer { buffer in
            JSONScanner.with(buffer, maxDepth: maxDepth) { scanner -> Result<(fields: SegmentFields, value: Value?), ScanError> in
                do throws(ScanError) {
                    var fields = SegmentFields()
                    scanner.skipWhitespace()
                    guard scanner.i < scanner.n else { throw scanner.endOfInput() }
                    try scanner.readSpecMember(key, into: &fields, extraBase: 0)
                    try scanner.expectEnd()
                    return .success((fields, scanner.members.popArray(from: 0).first?.value))
                } catch {
                    return .failure(error)
                }
            }
        }
        return Member(key: key, json: json, read: read)
    }
}

extension SegmentEventParser {
    /// Reads one event of a Tracking API request straight from the body's bytes, with the request's
    /// members (``RequestMembers``): the event, and the line the event log keeps for it.
    public func parse(
        _ event: UnsafeBufferPointer<UInt8>, completing request: RequestMembers, source: String? = nil
    ) -> Result<(event: Event, line: [UInt8]), EventRejection> {
        let options = options
        return JSONScanner.with(event, maxDepth: options.maxDepth) { scanner in
            var completion: EventCompletion? = EventCompletion(request, capacity: event.count)
            do throws(ScanError) {
                let parsed = try scanner.parseSegmentEvent(options, completing: &completion)
                return .success((parsed, completion!.line))
            } catch {
                return .failure(
                    EventRejection(line: 0, byteOffset: error.offset, path: JSONPath.format(innermostFirst: error.path), reason: error.reason, source: source))
            }
        }
    }
}

/// The line being written while an event is read with ``RequestMembers``.
struct EventCompletion {
    let request: RequestMembers
    var line: [UInt8]
    /// Spec members written in the event (without escapes in their keys): those get no default.
    var present: UInt32 = 0

    init(_ request: RequestMembers, capacity: Int) {
        self.request = request
        line = [UInt8(ascii: "{")]
        line.reserveCapacity(capacity + 2 + request.defaults.reduce(0) { $0 + $1.written.count + 1 } + 48)
    }

    /// Whether the member with this key is left out of the event: `writeKey` (a secret is never logged)
    /// and `receivedAt` (replaced). A key with escapes is never one of them, as the cut never matched it.
    static func drops(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = key.baseAddress else { return false }
        switch key.count {
        case 8: return memcmp(p, StaticString("writeKey").utf8Start, 8) == 0
        case 10: return memcmp(p, StaticString("receivedAt").utf8Start, 10) == 0
        default: return false
        }
    }

    /// The event's own members written as `key:value,key:value` (no white space) and not yet in `line`:
    /// `pending` in the bytes at `source`, copied as one span instead of member by member.
    private var source: UnsafePointer<UInt8>?
    private var pending = 0..<0

    /// Appends `key:value` from the event's bytes (`line` has it once ``flush()`` is called).
    mutating func append(_ p: UnsafePointer<UInt8>, key: Range<Int>, value: Range<Int>) {
        let compact = value.lowerBound == key.upperBound + 1 && p[key.upperBound] == UInt8(ascii: ":")
        if compact, !pending.isEmpty, p == source, key.lowerBound == pending.upperBound + 1, p[pending.upperBound] == UInt8(ascii: ",") {
            pending = pending.lowerBound..<value.upperBound
            return
        }
        flush()
        if compact {
            source = p
            pending = key.lowerBound..<value.upperBound
            return
        }
        if line.count > 1 { line.append(UInt8(ascii: ",")) }
        line.append(contentsOf: UnsafeBufferPointer(start: p + key.lowerBound, count: key.count))
        line.append(UInt8(ascii: ":"))
        line.append(contentsOf: UnsafeBufferPointer(start: p + value.lowerBound, count: value.count))
    }

    /// Copies the pending members into `line`.
    mutating func flush() {
        guard let source, !pending.isEmpty else { return }
        if line.count > 1 { line.append(UInt8(ascii: ",")) }
        line.append(contentsOf: UnsafeBufferPointer(start: source + pending.lowerBound, count: pending.count))
        pending = 0..<0
    }

    /// Appends `"key":json` for a given member; returns the offset of its value in the line.
    mutating func append(_ member: RequestMembers.Member) -> Int {
        if line.count > 1 { line.append(UInt8(ascii: ",")) }
        let offset = line.count + member.valueOffset
        line += member.written
        return offset
    }
}

extension JSONScanner {
    /// After an event's own members: the request's members it gets, read as if written after them
    /// (offsets in errors are the line's). A member the event has with escapes in its key is not seen
    /// as present, so the given one repeats it: the duplicate is refused as it was when the cut wrote it.
    mutating func complete(
        _ fields: inout SegmentFields, _ completion: inout EventCompletion, seen: UInt32, extraBase: Int,
        options: SegmentEventParser.Options
    ) throws(ScanError) {
        completion.flush()
        func add(_ member: RequestMembers.Member) throws(ScanError) {
            let keyOffset = completion.line.count + (completion.line.count > 1 ? 1 : 0)
            let offset = completion.append(member)
            if seen & (UInt32(1) << member.key.rawValue) != 0 { throw duplicateKey(member.key.name, at: keyOffset) }
            if let error = member.failure {
                var moved = ScanError(offset: offset + error.offset, reason: error.reason)
                moved.path = error.path
                throw moved.adding(.key(member.key.name))
            }
            if let kind = member.kind { fields.kind = kind }
            if let traits = member.contextTraits { fields.contextTraits = traits }
            if member.isTime, fields.fallbackTime == nil || member.key.rawValue < fields.fallbackTime!.key.rawValue {
                fields.fallbackTime = (member.key, members.count - extraBase, offset)
            }
            if let extra = member.extra { members.push(extra) }
        }
        for member in completion.request.defaults where completion.present & (UInt32(1) << member.key.rawValue) == 0 {
            try add(member)
        }
        if let received = completion.request.receivedAt { try add(received) }
        completion.line.append(UInt8(ascii: "}"))
        if completion.line.count > options.maxEventBytes {
            throw ScanError(offset: 0, reason: "event exceeds \(options.maxEventBytes) bytes (\(completion.line.count) bytes)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
