import JourneyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The top-level members the Segment Spec gives a meaning to.
enum SegmentKey: UInt8 {
    case type, userId, anonymousId, messageId, timestamp, originalTimestamp, sentAt, receivedAt
    case event, name, properties, traits, context, groupId, previousId

    /// Recognises a key from its bytes (no `String` is built for them).
    @inline(__always)
    init?(_ key: UnsafeBufferPointer<UInt8>) {
        guard let p = key.baseAddress else { return nil }
        @inline(__always) func eq(_ literal: StaticString) -> Bool {
            memcmp(p, literal.utf8Start, literal.utf8CodeUnitCount) == 0
        }
        switch key.count {
        case 4:
            if eq("type") { self = .type } else if eq("name") { self = .name } else { return nil }
        case 5:
            if eq("event") { self = .event } else { return nil }
        case 6:
            if eq("userId") {
                self = .userId
            } else if eq("sentAt") {
                self = .sentAt
            } else if eq("traits") {
                self = .traits
            } else {
                return nil
            }
        case 7:
            if eq("context") { self = .context } else if eq("groupId") { self = .groupId } else { return nil }
        case 9:
            if eq("messageId") { self = .messageId } else if eq("timestamp") { self = .timestamp } else { return nil }
        case 10:
            if eq("properties") {
                self = .properties
            } else if eq("receivedAt") {
                self = .receivedAt
            } else if eq("previousId") {
                self = .previousId
            } else {
                return nil
            }
        case 11:
            if eq("anonymousId") { self = .anonymousId } else { return nil }
        case 17:
            if eq("originalTimestamp") { self = .originalTimestamp } else { return nil }
        default:
            return nil
        }
    }

    var name: String {
        switch self {
        case .type: "type"
        case .userId: "userId"
        case .anonymousId: "anonymousId"
        case .messageId: "messageId"
        case .timestamp: "timestamp"
        case .originalTimestamp: "originalTimestamp"
        case .sentAt: "sentAt"
        case .receivedAt: "receivedAt"
        case .event: "event"
        case .name: "name"
        case .properties: "properties"
        case .traits: "traits"
        case .context: "context"
        case .groupId: "groupId"
        case .previousId: "previousId"
        }
    }
}

/// What the walk over the top-level members found. Members that may end up in `extra` (depending on the
/// type, which can come last) are pushed to the member stack and remembered by index.
struct SegmentFields {
    var kind: Event.Kind?
    var userId: String?
    var anonymousId: String?
    var messageId: String?
    var messageIdOffset = 0
    var timestamp: Timestamp?
    /// The first of `originalTimestamp`, `sentAt`, `receivedAt` (in that preference) that is a string:
    /// its index among the extra members and the offset of its value.
    var fallbackTime: (key: SegmentKey, index: Int, offset: Int)?
    var eventIndex: Int?
    var eventOffset = 0
    var nameIndex: Int?
    var propertiesIndex: Int?
    var traitsIndex: Int?
    var contextTraits: Value?
    var groupId: String?
    var previousId: String?
}

/// Earliest and latest instants an event may carry: what `Timestamp.iso8601` can write back (years 0000–9999).
private let earliestTimestamp = Timestamp(milliseconds: -62_167_219_200_000)
private let latestTimestamp = Timestamp(milliseconds: 253_402_300_799_999)

extension JSONScanner {
    /// Reads one Segment message (the whole input) into an ``Event``.
    mutating func parseSegmentEvent(_ options: SegmentEventParser.Options) throws(ScanError) -> Event {
        var completion: EventCompletion? = nil
        return try parseSegmentEvent(options, completing: &completion)
    }

    /// Reads one Segment message; with a `completion`, also writes its line (see ``RequestMembers``)
    /// and reads the request's members as if they were written after the event's own.
    mutating func parseSegmentEvent(
        _ options: SegmentEventParser.Options, completing completion: inout EventCompletion?
    ) throws(ScanError) -> Event {
        skipWhitespace()
        guard i < n else { throw ScanError(offset: 0, reason: "empty line") }
        let objectStart = i
        guard p[i] == UInt8(ascii: "{") else {
            let value = try parseValue(depth: 0)
            try expectEnd()
            throw ScanError(offset: objectStart, reason: "expected an object, found \(Self.typeName(value))")
        }
        i += 1
        var fields = SegmentFields()
        let extraBase = members.count
        let keyBase = keys.count
        var seenKnown: UInt32 = 0
        var seenOther: Set<String>? = nil
        if !consume(UInt8(ascii: "}")) {
            while true {
                if !(i < n && p[i] == UInt8(ascii: "\"")) {
                    skipWhitespace()
                    guard i < n else { throw endOfInput() }
                    guard p[i] == UInt8(ascii: "\"") else { throw unexpected(expecting: "a string key") }
                }
                let keyOffset = i
                let keySpan = try scanString()
                let keyEnd = i
                if completion != nil, !keySpan.escaped, withBytes(keySpan, { EventCompletion.drops($0) }) {
                    let key = makeString(keySpan)
                    try expectColon(key)
                    _ = try parseValue(depth: 1)
                } else if let known = withBytes(keySpan, { SegmentKey($0) }) {
                    let bit = UInt32(1) << known.rawValue
                    if seenKnown & bit != 0 { throw duplicateKey(known.name, at: keyOffset) }
                    seenKnown |= bit
                    try expectColon(known)
                    let valueStart = i
                    do {
                        try readSpecMember(known, into: &fields, extraBase: extraBase)
                    } catch {
                        throw error.adding(.key(known.name))
                    }
                    if !keySpan.escaped { completion?.present |= bit }
                    completion?.append(p, key: keyOffset..<keyEnd, value: valueStart..<i)
                } else {
                    let key = makeString(keySpan)
                    var span = KeySpan(start: keySpan.start, count: keySpan.count, inArena: false)
                    if keySpan.escaped {
                        span = KeySpan(start: keyArena.count, count: keySpan.count, inArena: true)
                        keyArena.append(contentsOf: unescaped.buffer)
                    }
                    if try isDuplicate(span, key: key, keyBase: keyBase, seen: &seenOther) {
                        throw duplicateKey(key, at: keyOffset)
                    }
                    keys.push(span)
                    try expectColon(key)
                    let valueStart = i
                    let value: Value
                    do { value = try parseValue(depth: 1) } catch { throw error.adding(.key(key)) }
                    members.push(Value.Member(key, value))
                    completion?.append(p, key: keyOffset..<keyEnd, value: valueStart..<i)
                }
                if consume(UInt8(ascii: ",")) { continue }
                if consume(UInt8(ascii: "}")) { break }
                throw unexpected(expecting: "',' or '}'")
            }
        }
        try expectEnd()
        keys.count = keyBase
        guard completion != nil else {
            return try makeEvent(&fields, extraBase: extraBase, objectStart: objectStart, options: options)
        }
        try complete(&fields, &completion!, seen: seenKnown, extraBase: extraBase, options: options)
        return try makeEvent(&fields, extraBase: extraBase, objectStart: objectStart, options: options, identity: completion!.line)
    }

    /// Moves past the `:` after a key and any whitespace around it; a value must follow.
    @inline(__always)
    private mutating func expectColon(_ key: @autoclosure () -> String) throws(ScanError) {
        guard consume(UInt8(ascii: ":")) else {
            throw unexpected(expecting: "':' after the key").adding(.key(key()))
        }
        if i < n && p[i] <= 0x20 { skipWhitespace() }
        guard i < n else { throw endOfInput().adding(.key(key())) }
    }

    @inline(__always)
    private mutating func expectColon(_ key: SegmentKey) throws(ScanError) {
        try expectColon(key.name)
    }

    /// Reads the value of a Spec member (at `i`, not at the end of input) with its type checked.
    mutating func readSpecMember(
        _ key: SegmentKey,
        into fields: inout SegmentFields,
        extraBase: Int
    ) throws(ScanError) {
        let valueOffset = i
        let isNull = p[i] == UInt8(ascii: "n")
        switch key {
        case .type:
            if isNull { return try expectLiteral("null") }
            guard p[i] == UInt8(ascii: "\"") else { throw try typeMismatch(expected: "a string") }
            let s = try scanString()
            guard let kind = withBytes(s, { Self.eventKind($0) }) else {
                throw ScanError(
                    offset: valueOffset,
                    reason: "unknown event type \(withBytes(s) { Diagnostics.quoted($0) }) "
                        + "(expected track, identify, page, screen, group or alias)"
                )
            }
            fields.kind = kind
        case .userId:
            fields.userId = try stringOrNumber()
        case .anonymousId:
            fields.anonymousId = try stringOrNumber()
        case .groupId:
            fields.groupId = try stringOrNumber()
        case .previousId:
            fields.previousId = try stringOrNumber()
        case .messageId:
            if isNull { return try expectLiteral("null") }
            guard p[i] == UInt8(ascii: "\"") else { throw try typeMismatch(expected: "a string") }
            fields.messageId = try parseString()
            fields.messageIdOffset = valueOffset
        case .timestamp:
            if isNull { return try expectLiteral("null") }
            guard p[i] == UInt8(ascii: "\"") else { throw try typeMismatch(expected: "an RFC 3339 date-time string") }
            let s = try scanString()
            switch withBytes(s, { Self.timestamp(from: $0) }) {
            case .success(let t): fields.timestamp = t
            case .failure(let problem): throw ScanError(offset: valueOffset, reason: problem.reason)
            }
        case .originalTimestamp, .sentAt, .receivedAt:
            if isNull {
                try expectLiteral("null")
                members.push(Value.Member(key.name, .null))
                return
            }
            guard p[i] == UInt8(ascii: "\"") else { throw try typeMismatch(expected: "an RFC 3339 date-time string") }
            let text = try parseString()
            if fields.fallbackTime == nil || key.rawValue < fields.fallbackTime!.key.rawValue {
                fields.fallbackTime = (key, members.count - extraBase, valueOffset)
            }
            members.push(Value.Member(key.name, .string(text)))
        case .event, .name:
            if isNull { return try expectLiteral("null") }
            guard p[i] == UInt8(ascii: "\"") else { throw try typeMismatch(expected: "a string") }
            let text = try parseString()
            if key == .event {
                fields.eventIndex = members.count - extraBase
                fields.eventOffset = valueOffset
            } else {
                fields.nameIndex = members.count - extraBase
            }
            members.push(Value.Member(key.name, .string(text)))
        case .properties, .traits:
            if isNull { return try expectLiteral("null") }
            guard p[i] == UInt8(ascii: "{") else { throw try typeMismatch(expected: "an object") }
            let object = try parseObject(depth: 2)
            if key == .properties {
                fields.propertiesIndex = members.count - extraBase
            } else {
                fields.traitsIndex = members.count - extraBase
            }
            members.push(Value.Member(key.name, object))
        case .context:
            if isNull {
                try expectLiteral("null")
                members.push(Value.Member("context", .null))
                return
            }
            guard p[i] == UInt8(ascii: "{") else { throw try typeMismatch(expected: "an object") }
            var traitsOffset = -1
            let context = try parseObject(depth: 2, watching: "traits", watchedOffset: &traitsOffset)
            if traitsOffset >= 0, let traits = context["traits"] {
                switch traits {
                case .object: fields.contextTraits = traits
                case .null: break
                default:
                    throw ScanError(
                        offset: traitsOffset,
                        reason: "expected an object, found \(Self.typeName(traits))"
                    ).adding(.key("traits"))
                }
            }
            members.push(Value.Member("context", context))
        }
    }

    /// A string, or a number taken as its decimal text (integers exactly as written); `null` and `""`
    /// are absent.
    private mutating func stringOrNumber() throws(ScanError) -> String? {
        switch p[i] {
        case UInt8(ascii: "\""):
            let s = try scanString()
            return s.count == 0 ? nil : makeString(s)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = i
            let (value, isInteger) = try parseNumber()
            if isInteger {
                return String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
            }
            var text: [UInt8] = []
            JSONWriter.writeNumber(value, into: &text)
            return String(decoding: text, as: UTF8.self)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return nil
        default:
            throw try typeMismatch(expected: "a string or number")
        }
    }

    /// `expected X, found Y` for the value at `i`; when that value is not even valid JSON, its syntax
    /// error instead.
    private mutating func typeMismatch(expected: String) throws(ScanError) -> ScanError {
        let offset = i
        let value = try parseValue(depth: 1)
        return ScanError(offset: offset, reason: "expected \(expected), found \(Self.typeName(value))")
    }

    static func typeName(_ value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    @inline(__always)
    static func eventKind(_ b: UnsafeBufferPointer<UInt8>) -> Event.Kind? {
        guard let p = b.baseAddress else { return nil }
        @inline(__always) func eq(_ literal: StaticString) -> Bool {
            memcmp(p, literal.utf8Start, literal.utf8CodeUnitCount) == 0
        }
        switch b.count {
        case 4: return eq("page") ? .page : nil
        case 5: return eq("track") ? .track : eq("group") ? .group : eq("alias") ? .alias : nil
        case 6: return eq("screen") ? .screen : nil
        case 8: return eq("identify") ? .identify : nil
        default: return nil
        }
    }

    /// An RFC 3339 date-time within years 0000–9999 (what the rest of the system can write back).
    static func timestamp(from text: UnsafeBufferPointer<UInt8>) -> Result<Timestamp, DateProblem> {
        guard let t = Timestamp.parseISO8601(text) else {
            return .failure(DateProblem(reason: "not an RFC 3339 date-time (\(Diagnostics.quoted(text)))"))
        }
        guard t >= earliestTimestamp && t <= latestTimestamp else {
            return .failure(DateProblem(reason: "date-time out of range (\(Diagnostics.quoted(text)))"))
        }
        return .success(t)
    }

    struct DateProblem: Error {
        var reason: String
    }

    // MARK: The event

    private mutating func makeEvent(
        _ fields: inout SegmentFields,
        extraBase: Int,
        objectStart: Int,
        options: SegmentEventParser.Options,
        identity: [UInt8]? = nil
    ) throws(ScanError) -> Event {
        guard let kind = fields.kind else {
            throw ScanError(
                offset: objectStart,
                reason: #"missing "type" (one of track, identify, page, screen, group, alias)"#
            )
        }
        let anonymousId = fields.anonymousId.take()
        guard let userId = fields.userId.take() ?? anonymousId else {
            throw ScanError(offset: objectStart, reason: #"missing "userId" or "anonymousId""#)
        }
        let messageId: String
        let givenMessageId = fields.messageId.take()
        if let id = givenMessageId, !id.isEmpty {
            messageId = id
        } else if options.requireMessageId {
            if givenMessageId != nil {
                throw ScanError(offset: fields.messageIdOffset, reason: "must not be empty").adding(.key("messageId"))
            }
            throw ScanError(offset: objectStart, reason: #"missing "messageId""#)
        } else {
            var hash = StableHash()
            if let identity { hash.combine(bytes: identity) } else { hash.combine(bytes: UnsafeBufferPointer(start: p, count: n)) }
            messageId = "h-" + hash.hex
        }
        let timestamp: Timestamp
        if let t = fields.timestamp {
            timestamp = t
        } else if let fallback = fields.fallbackTime {
            guard case .string(var text) = members.base[extraBase + fallback.index].value else {
                preconditionFailure("a time member was recorded for a non-string")
            }
            let parsed = text.withUTF8 { Self.timestamp(from: $0) }
            switch parsed {
            case .success(let t): timestamp = t
            case .failure(let problem):
                throw ScanError(offset: fallback.offset, reason: problem.reason).adding(.key(fallback.key.name))
            }
        } else if let t = options.defaultTimestamp {
            timestamp = t
        } else {
            throw ScanError(
                offset: objectStart,
                reason: #"missing "timestamp" (nor originalTimestamp, sentAt or receivedAt)"#
            )
        }

        // What this type lifts out of the members (the rest stays in `extra`).
        var nameIndex: Int? = nil
        var propertiesIndex: Int? = nil
        var traitsIndex: Int? = nil
        switch kind {
        case .track:
            guard let index = fields.eventIndex else {
                throw ScanError(offset: objectStart, reason: #"missing "event" (required for track)"#)
            }
            nameIndex = index
            propertiesIndex = fields.propertiesIndex
        case .page, .screen:
            nameIndex = fields.nameIndex
            propertiesIndex = fields.propertiesIndex
        case .identify:
            traitsIndex = fields.traitsIndex
        case .group:
            guard fields.groupId != nil else {
                throw ScanError(offset: objectStart, reason: #"missing "groupId" (required for group)"#)
            }
            traitsIndex = fields.traitsIndex
        case .alias:
            guard fields.previousId != nil else {
                throw ScanError(offset: objectStart, reason: #"missing "previousId" (required for alias)"#)
            }
        }

        var name = ""
        var properties = Value.emptyObject
        var traits = fields.contextTraits.take() ?? .emptyObject
        let total = members.count - extraBase
        let lifted = (nameIndex == nil ? 0 : 1) + (propertiesIndex == nil ? 0 : 1) + (traitsIndex == nil ? 0 : 1)
        if kind == .track, let nameIndex, case .string(let text) = members.base[extraBase + nameIndex].value,
            text.isEmpty
        {
            throw ScanError(offset: fields.eventOffset, reason: "must not be empty").adding(.key("event"))
        }
        let extra: [Value.Member]
        if lifted == 0 {
            extra = members.popArray(from: extraBase)
        } else {
            let source = members.base + extraBase
            func take(_ j: Int) {
                let member = (source + j).move()
                if j == nameIndex {
                    if case .string(let text) = member.value { name = text }
                } else if j == propertiesIndex {
                    properties = member.value
                } else {
                    traits = member.value
                }
            }
            if lifted == total {
                for j in 0..<total { take(j) }
                extra = []
            } else {
                var kept = [Value.Member]()
                kept.reserveCapacity(total - lifted)
                for j in 0..<total {
                    if j == nameIndex || j == propertiesIndex || j == traitsIndex {
                        take(j)
                    } else {
                        kept.append((source + j).move())
                    }
                }
                extra = kept
            }
            members.count = extraBase  // every member was moved out above
        }
        return Event(
            kind: kind,
            userId: userId,
            anonymousId: anonymousId,
            messageId: messageId,
            timestamp: timestamp,
            name: name,
            properties: properties,
            traits: traits,
            groupId: fields.groupId.take(),
            previousId: fields.previousId.take(),
            extra: extra.isEmpty ? .emptyObject : .object(extra)
        )
    }
}
