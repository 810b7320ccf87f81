import JourneyCore
import JourneyEvents
import Testing

@Suite("SegmentEventParser: mapping the Segment Spec")
struct SegmentEventMappingTests {
    @Test func mapsATrackEvent() throws {
        let e = try event(sampleLine)
        #expect(e.kind == .track)
        #expect(e.userId == "u189534")
        #expect(e.anonymousId == nil)
        #expect(e.messageId == "m-0-223372380367640")
        #expect(e.timestamp == at("2025-06-01T12:19:27.123Z"))
        #expect(e.name == "event_35")
        #expect(e.properties == ["sku": "SKU-89703", "price": 5401.4, "qty": 4, "category": "shirts"])
        #expect(e.traits == .emptyObject)
        #expect(e.extra == .emptyObject)
    }

    @Test func mapsAnIdentifyEventWithItsTraits() throws {
        let e = try event(
            #"{"type":"identify","userId":"u1","traits":{"email":"a@example.com","plan":"pro"},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(e.kind == .identify)
        #expect(e.traits == ["email": "a@example.com", "plan": "pro"])
        #expect(e.name == "")
        #expect(e.properties == .emptyObject)
    }

    @Test func mapsPageAndScreenEventsWithTheirName() throws {
        let page = try event(
            #"{"type":"page","userId":"u1","name":"Pricing","properties":{"path":"/pricing"},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(page.kind == .page)
        #expect(page.name == "Pricing")
        #expect(page.properties == ["path": "/pricing"])
        let screen = try event(
            #"{"type":"screen","anonymousId":"a1","name":"Home","timestamp":"2025-01-06T10:00:00Z","messageId":"m2"}"#
        )
        #expect(screen.kind == .screen)
        #expect(screen.name == "Home")
        let unnamed = try event(#"{"type":"page","userId":"u1","timestamp":"2025-01-06T10:00:00Z","messageId":"m3"}"#)
        #expect(unnamed.name == "")
    }

    @Test func mapsAGroupEvent() throws {
        let e = try event(
            #"{"type":"group","userId":"u1","groupId":"acme","traits":{"employees":120},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(e.kind == .group)
        #expect(e.groupId == "acme")
        #expect(e.traits == ["employees": 120])
    }

    @Test func mapsAnAliasEvent() throws {
        let e = try event(
            #"{"type":"alias","userId":"u1","previousId":"anon-9","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(e.kind == .alias)
        #expect(e.previousId == "anon-9")
    }

    @Test func takesTraitsFromContextWhenTheEventHasNone() throws {
        // RudderStack sends identify traits in context.traits.
        let line =
            #"{"type":"identify","userId":"u1","context":{"ip":"10.0.0.1","traits":{"plan":"pro"}},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        let e = try event(line)
        #expect(e.traits == ["plan": "pro"])
        #expect(e.extra == ["context": ["ip": "10.0.0.1", "traits": ["plan": "pro"]]])
        let track = try event(
            #"{"type":"track","userId":"u1","event":"Viewed","context":{"traits":{"tier":"gold"}},"timestamp":"2025-01-06T10:00:00Z","messageId":"m2"}"#
        )
        #expect(track.traits == ["tier": "gold"])
    }

    @Test func prefersTopLevelTraitsOverContextTraits() throws {
        let e = try event(
            #"{"type":"identify","userId":"u1","traits":{"plan":"pro"},"context":{"traits":{"plan":"free"}},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(e.traits == ["plan": "pro"])
    }

    @Test(arguments: [
        ("12345", "12345"), ("-7", "-7"), ("0", "0"), ("12345678901234567890", "12345678901234567890"),
        ("1.5", "1.5"), ("1e3", "1000"), ("2.50", "2.5"),
    ])
    func acceptsANumericUserIdAsItsDecimalText(number: String, text: String) throws {
        let e = try event(#"{"type":"track","userId":\#(number),"event":"x","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#)
        #expect(e.userId == text)
    }

    @Test func usesTheAnonymousIdWhenThereIsNoUserId() throws {
        let anonymous = try event(#"{"type":"track","anonymousId":"a-1","event":"x","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#)
        #expect(anonymous.userId == "a-1")
        #expect(anonymous.anonymousId == "a-1")
        let nullUser = try event(
            #"{"type":"track","userId":null,"anonymousId":"a-2","event":"x","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(nullUser.userId == "a-2")
        let emptyUser = try event(
            #"{"type":"track","userId":"","anonymousId":"a-3","event":"x","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(emptyUser.userId == "a-3")
    }

    @Test func prefersTheUserIdAndKeepsTheAnonymousId() throws {
        let e = try event(
            #"{"type":"track","anonymousId":"a-1","userId":"u-1","event":"x","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(e.userId == "u-1")
        #expect(e.anonymousId == "a-1")
    }

    @Test func keepsEveryOtherMemberInExtraInInputOrder() throws {
        let line =
            #"{"context":{"library":{"name":"analytics.js"}},"type":"track","integrations":{"All":true},"userId":"u1","event":"x","x-custom":[1,2],"originalTimestamp":"2025-01-06T09:59:59Z","timestamp":"2025-01-06T10:00:00Z","sentAt":"2025-01-06T10:00:01Z","messageId":"m1","receivedAt":"2025-01-06T10:00:02Z"}"#
        let e = try event(line)
        #expect(
            e.extra
                == .object([
                    Value.Member("context", ["library": ["name": "analytics.js"]]),
                    Value.Member("integrations", ["All": true]),
                    Value.Member("x-custom", [1, 2]),
                    Value.Member("originalTimestamp", "2025-01-06T09:59:59Z"),
                    Value.Member("sentAt", "2025-01-06T10:00:01Z"),
                    Value.Member("receivedAt", "2025-01-06T10:00:02Z"),
                ])
        )
        #expect(e.timestamp == at("2025-01-06T10:00:00Z"))
    }

    @Test func keepsSpecMembersThisTypeDoesNotUseInExtra() throws {
        let identify = try event(
            #"{"type":"identify","userId":"u1","properties":{"a":1},"event":"ignored","traits":{"t":1},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(identify.properties == .emptyObject)
        #expect(identify.name == "")
        #expect(identify.extra == ["properties": ["a": 1], "event": "ignored"])
        let track = try event(
            #"{"type":"track","userId":"u1","event":"Bought","name":"also","traits":{"t":1},"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        )
        #expect(track.name == "Bought")
        #expect(track.traits == .emptyObject)
        #expect(track.extra == ["name": "also", "traits": ["t": 1]])
    }

    @Test func treatsNullSpecMembersAsAbsent() throws {
        let e = try event(
            #"{"type":"track","userId":"u1","anonymousId":null,"event":"x","properties":null,"traits":null,"groupId":null,"name":null,"timestamp":"2025-01-06T10:00:00Z","messageId":"m1","context":null}"#
        )
        #expect(e.properties == .emptyObject)
        #expect(e.anonymousId == nil)
        #expect(e.groupId == nil)
        #expect(e.extra == ["context": nil])
    }

    @Test func readsSpacedJSONAndEscapedKeys() throws {
        let e = try event(
            #"  { "type" : "track" , "user\u0049d" : "u1" , "event" : "Caf\u00e9 \"visit\"" , "timestamp" : "2025-01-06T10:00:00Z" , "messageId" : "m1" }  "#
        )
        #expect(e.userId == "u1")
        #expect(e.name == "Café \"visit\"")
    }

    @Test func derivesAStableMessageIdWhenNotRequired() throws {
        let options = SegmentEventParser.Options(requireMessageId: false)
        let line = #"{"type":"track","userId":"u1","event":"x","timestamp":"2025-01-06T10:00:00Z"}"#
        let first = try event(line, options: options)
        let second = try event(line, options: options)
        let other = try event(line.replacingFirst("u1", with: "u2"), options: options)
        #expect(first.messageId == second.messageId)
        #expect(first.messageId != other.messageId)
        #expect(first.messageId.hasPrefix("h-"))
        #expect(first.messageId.count == 18)
    }
}

@Suite("SegmentEventParser: time")
struct SegmentEventTimeTests {
    @Test(arguments: [
        ("2025-06-01T12:19:27.123Z", "2025-06-01T12:19:27.123Z"),
        ("2025-06-01T20:19:27.123+08:00", "2025-06-01T12:19:27.123Z"),
        ("2025-06-01T06:49:27-0530", "2025-06-01T12:19:27.000Z"),
        ("2025-06-01T12:19:27.123456Z", "2025-06-01T12:19:27.123Z"),
        ("2025-06-01 12:19:27Z", "2025-06-01T12:19:27.000Z"),
        ("2025-06-01T12:19:27", "2025-06-01T12:19:27.000Z"),
        ("2025-06-01", "2025-06-01T00:00:00.000Z"),
        ("2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00.000Z"),
    ])
    func readsRFC3339TimestampsWithZoneOffsets(text: String, utc: String) throws {
        let e = try event(#"{"type":"track","userId":"u1","event":"x","timestamp":"\#(text)","messageId":"m1"}"#)
        #expect(e.timestamp.iso8601 == utc)
    }

    @Test func fallsBackToOriginalTimestampThenSentAtThenReceivedAt() throws {
        let base = #"{"type":"track","userId":"u1","event":"x","messageId":"m1""#
        let original = try event(
            base + #","receivedAt":"2025-01-03T00:00:00Z","sentAt":"2025-01-02T00:00:00Z","originalTimestamp":"2025-01-01T00:00:00Z"}"#
        )
        #expect(original.timestamp == at("2025-01-01T00:00:00Z"))
        let sent = try event(base + #","receivedAt":"2025-01-03T00:00:00Z","sentAt":"2025-01-02T00:00:00Z"}"#)
        #expect(sent.timestamp == at("2025-01-02T00:00:00Z"))
        let received = try event(base + #","receivedAt":"2025-01-03T00:00:00+02:00"}"#)
        #expect(received.timestamp == at("2025-01-02T22:00:00Z"))
        let nullTimestamp = try event(base + #","timestamp":null,"sentAt":"2025-01-02T00:00:00Z"}"#)
        #expect(nullTimestamp.timestamp == at("2025-01-02T00:00:00Z"))
    }

    @Test func ignoresAMalformedFallbackWhenTimestampIsThere() throws {
        let e = try event(
            #"{"type":"track","userId":"u1","event":"x","messageId":"m1","sentAt":"soon","timestamp":"2025-01-01T00:00:00Z"}"#
        )
        #expect(e.timestamp == at("2025-01-01T00:00:00Z"))
        #expect(e.extra == ["sentAt": "soon"])
    }

    @Test func usesTheDefaultTimestampOnlyWhenNoTimeIsGiven() throws {
        let options = SegmentEventParser.Options(defaultTimestamp: at("2030-01-01T00:00:00Z"))
        let without = try event(#"{"type":"track","userId":"u1","event":"x","messageId":"m1"}"#, options: options)
        #expect(without.timestamp == at("2030-01-01T00:00:00Z"))
        let with = try event(
            #"{"type":"track","userId":"u1","event":"x","messageId":"m1","sentAt":"2025-01-01T00:00:00Z"}"#,
            options: options
        )
        #expect(with.timestamp == at("2025-01-01T00:00:00Z"))
    }

    @Test func rejectsAMalformedFallbackAtItsOwnPosition() throws {
        let line = #"{"type":"track","userId":"u1","event":"x","messageId":"m1","originalTimestamp":"last tuesday","sentAt":"2025-01-01T00:00:00Z"}"#
        let r = try rejection(line)
        #expect(r.path == "$.originalTimestamp")
        #expect(r.byteOffset == offset(of: #""last tuesday""#, in: line))
        #expect(r.reason == #"not an RFC 3339 date-time ("last tuesday")"#)
    }

    @Test func rejectsDatesOutsideTheYearsItCanWriteBack() throws {
        let line = #"{"type":"track","userId":"u1","event":"x","messageId":"m1","timestamp":"9999-12-31T23:30:00-01:00"}"#
        let r = try rejection(line)
        #expect(r.path == "$.timestamp")
        #expect(r.reason == #"date-time out of range ("9999-12-31T23:30:00-01:00")"#)
    }
}

@Suite("SegmentEventParser: rejections")
struct SegmentEventRejectionTests {
    @Test func rejectsMalformedJSONAtTheOffendingByte() throws {
        let line = #"{"type":"track","userId":"u1" "event":"x"}"#
        let r = try rejection(line)
        #expect(r.byteOffset == offset(of: #""event""#, in: line))
        #expect(r.path == "$")
        #expect(r.reason == #"expected ',' or '}', found '"'"#)
    }

    @Test func rejectsInvalidUTF8() throws {
        let prefix = Array(#"{"type":"track","userId":"u"#.utf8)
        let r = try rejection(prefix + [0xC3, 0x28] + Array(#"","event":"x"}"#.utf8))
        #expect(r.byteOffset == prefix.count)
        #expect(r.path == "$.userId")
        #expect(r.reason == "invalid UTF-8")
    }

    @Test func rejectsNULBytes() throws {
        let inside = Array(#"{"type":"track","event":"a"#.utf8) + [0] + Array(#"b"}"#.utf8)
        let r = try rejection(inside)
        #expect(r.byteOffset == 26)
        #expect(r.path == "$.event")
        #expect(r.reason == "NUL byte in a string")
        let after = Array(sampleLine.utf8) + [0]
        let trailing = try rejection(after)
        #expect(trailing.byteOffset == sampleLine.utf8.count)
        #expect(trailing.reason == "unexpected NUL byte after the JSON value")
    }

    @Test func rejectsRawControlCharacters() throws {
        let line = "{\"type\":\"track\",\"event\":\"tab\there\"}"
        let r = try rejection(line)
        #expect(r.byteOffset == offset(of: "\t", in: line))
        #expect(r.path == "$.event")
        #expect(r.reason == "unescaped control character U+0009 in a string")
    }

    @Test func rejectsDeepNesting() throws {
        let line =
            #"{"type":"track","userId":"u1","event":"x","properties":{"a":"#
            + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}}"
        let r = try rejection(line)
        // The event is level 1, properties level 2, so the 63rd bracket is level 65.
        #expect(r.byteOffset == offset(of: "[", in: line) + 62)
        #expect(r.path == "$.properties.a" + String(repeating: "[0]", count: 62))
        #expect(r.reason == "nesting deeper than 64 levels")
    }

    @Test func rejectsNumbersOutOfRange() throws {
        let line = sampleLine.replacingFirst("5401.4", with: "1e400")
        let r = try rejection(line)
        #expect(r.byteOffset == offset(of: "1e400", in: line))
        #expect(r.path == "$.properties.price")
        #expect(r.reason == "number out of range")
    }

    @Test func rejectsDuplicateKeys() throws {
        let top = #"{"type":"track","userId":"u1","event":"x","userId":"u2"}"#
        let r = try rejection(top)
        #expect(r.byteOffset == offset(of: #""userId""#, in: top, occurrence: 2))
        #expect(r.path == "$")
        #expect(r.reason == #"duplicate key "userId""#)
        let custom = #"{"type":"track","x":1,"userId":"u1","x":2}"#
        #expect(try rejection(custom).reason == #"duplicate key "x""#)
        #expect(try rejection(custom).byteOffset == offset(of: #""x""#, in: custom, occurrence: 2))
        let nested = sampleLine.replacingFirst(#""qty":4"#, with: #""qty":4,"sku":"again""#)
        let n = try rejection(nested)
        #expect(n.path == "$.properties")
        #expect(n.reason == #"duplicate key "sku""#)
        #expect(n.byteOffset == offset(of: #""sku""#, in: nested, occurrence: 2))
        let escaped = #"{"type":"track","\u0074ype":"page"}"#
        #expect(try rejection(escaped).reason == #"duplicate key "type""#)
    }

    @Test func rejectsATruncatedLineAtItsEnd() throws {
        let line = String(sampleLine.prefix(120))
        let r = try rejection(line)
        #expect(r.byteOffset == line.utf8.count)
        #expect(r.reason == "unexpected end of input")
        #expect(r.path == "$.properties.category")
    }

    @Test func rejectsAnOversizedEventWithoutParsingIt() throws {
        let big = sampleLine.replacingFirst("shirts", with: String(repeating: "s", count: 40_000))
        let r = try rejection(big)
        #expect(r.byteOffset == 0)
        #expect(r.path == "$")
        #expect(r.reason == "event exceeds 32768 bytes (\(big.utf8.count) bytes)")
        let small = SegmentEventParser.Options(maxEventBytes: 100)
        #expect(try rejection(sampleLine, options: small).reason.hasPrefix("event exceeds 100 bytes"))
    }

    @Test func rejectsAnEventWithoutAUser() throws {
        let line = #"  {"type":"track","event":"x","userId":"","anonymousId":null,"timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#
        let r = try rejection(line)
        #expect(r.byteOffset == 2)
        #expect(r.path == "$")
        #expect(r.reason == #"missing "userId" or "anonymousId""#)
    }

    @Test func rejectsAnEventWithoutMessageId() throws {
        let line = #"{"type":"track","userId":"u1","event":"x","timestamp":"2025-01-06T10:00:00Z"}"#
        let r = try rejection(line)
        #expect(r.byteOffset == 0)
        #expect(r.reason == #"missing "messageId""#)
        let empty = #"{"type":"track","userId":"u1","event":"x","timestamp":"2025-01-06T10:00:00Z","messageId":""}"#
        let e = try rejection(empty)
        #expect(e.path == "$.messageId")
        #expect(e.byteOffset == offset(of: #""""#, in: empty))
        #expect(e.reason == "must not be empty")
    }

    @Test func rejectsAnEventWithoutAnyTime() throws {
        let r = try rejection(#"{"type":"track","userId":"u1","event":"x","messageId":"m1"}"#)
        #expect(r.reason == #"missing "timestamp" (nor originalTimestamp, sentAt or receivedAt)"#)
    }

    @Test func rejectsMissingOrUnknownTypesInsteadOfGuessing() throws {
        let missing = try rejection(#"{"userId":"u1","event":"Clicked","timestamp":"2025-01-06T10:00:00Z","messageId":"m1"}"#)
        #expect(missing.path == "$")
        #expect(missing.reason == #"missing "type" (one of track, identify, page, screen, group, alias)"#)
        let line = #"{"type":"Track","userId":"u1"}"#
        let unknown = try rejection(line)
        #expect(unknown.path == "$.type")
        #expect(unknown.byteOffset == offset(of: #""Track""#, in: line))
        #expect(unknown.reason == #"unknown event type "Track" (expected track, identify, page, screen, group or alias)"#)
    }

    @Test func rejectsTypeSpecificOmissions() throws {
        let t = "\"timestamp\":\"2025-01-06T10:00:00Z\",\"messageId\":\"m1\""
        #expect(try rejection(#"{"type":"track","userId":"u1",\#(t)}"#).reason == #"missing "event" (required for track)"#)
        let emptyEvent = #"{"type":"track","userId":"u1","event":"",\#(t)}"#
        let r = try rejection(emptyEvent)
        #expect(r.path == "$.event")
        #expect(r.reason == "must not be empty")
        #expect(r.byteOffset == offset(of: #""""#, in: emptyEvent))
        #expect(try rejection(#"{"type":"alias","userId":"u1",\#(t)}"#).reason == #"missing "previousId" (required for alias)"#)
        #expect(try rejection(#"{"type":"group","userId":"u1",\#(t)}"#).reason == #"missing "groupId" (required for group)"#)
    }

    @Test(arguments: [
        (#"{"type":"track","userId":{"id":1}}"#, "$.userId", #"{"id""#, "expected a string or number, found object"),
        (#"{"type":"track","anonymousId":true}"#, "$.anonymousId", "true", "expected a string or number, found boolean"),
        (#"{"type":7}"#, "$.type", "7", "expected a string, found number"),
        (#"{"type":"track","event":["x"]}"#, "$.event", #"["x"]"#, "expected a string, found array"),
        (#"{"type":"track","properties":[1,2]}"#, "$.properties", "[1,2]", "expected an object, found array"),
        (#"{"type":"identify","traits":"vip"}"#, "$.traits", #""vip""#, "expected an object, found string"),
        (#"{"type":"track","timestamp":1717243167}"#, "$.timestamp", "1717243167", "expected an RFC 3339 date-time string, found number"),
        (#"{"type":"track","sentAt":{}}"#, "$.sentAt", "{}", "expected an RFC 3339 date-time string, found object"),
        (#"{"type":"track","messageId":42}"#, "$.messageId", "42", "expected a string, found number"),
        (#"{"type":"track","context":"web"}"#, "$.context", #""web""#, "expected an object, found string"),
        (#"{"type":"track","context":{"ip":"1.2.3.4","traits":[1]}}"#, "$.context.traits", "[1]", "expected an object, found array"),
        (#"{"type":"group","groupId":[]}"#, "$.groupId", "[]", "expected a string or number, found array"),
        (#"{"type":"track","timestamp":"yesterday"}"#, "$.timestamp", #""yesterday""#, #"not an RFC 3339 date-time ("yesterday")"#),
    ] as [(String, String, String, String)])
    func rejectsWrongTypesWithThePathAndTheValuePosition(line: String, path: String, value: String, reason: String) throws {
        let r = try rejection(line)
        #expect(r.path == path)
        #expect(r.byteOffset == offset(of: value, in: line))
        #expect(r.reason == reason)
    }

    @Test func rejectsAValueThatIsNotAnObject() throws {
        #expect(try rejection("[1,2]").reason == "expected an object, found array")
        #expect(try rejection(#""track""#).reason == "expected an object, found string")
        #expect(try rejection("[1,2").reason == "unexpected end of input")
    }

    @Test func rejectsEmptyAndBlankLines() throws {
        for blank in ["", " ", "\t \r"] {
            let r = try rejection(blank)
            #expect(r.reason == "empty line")
            #expect(r.path == "$")
            #expect(r.byteOffset == 0)
        }
    }

    @Test func addsTheLineOffsetToEveryRejectionOffset() throws {
        let line = #"{"type":"track","userId":{}}"#
        let r = SegmentEventParser().parse(line, lineNumber: 12, byteOffset: 3000, source: "events.jsonl")
        guard case .failure(let rejection) = r else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.line == 12)
        #expect(rejection.byteOffset == 3000 + offset(of: "{}", in: line))
        #expect(rejection.source == "events.jsonl")
    }
}

@Suite("EventRejection")
struct EventRejectionTests {
    @Test func readsLikeACompilerDiagnostic() {
        let r = EventRejection(
            line: 12, byteOffset: 3456, path: "$.timestamp", reason: #"not an RFC 3339 date-time ("yesterday")"#,
            source: "events.jsonl")
        #expect(r.description == #"events.jsonl:12: byte 3456: $.timestamp: not an RFC 3339 date-time ("yesterday")"#)
        let noSource = EventRejection(line: 3, byteOffset: 10, path: "$", reason: "empty line")
        #expect(noSource.description == "line 3: byte 10: $: empty line")
        let noLine = EventRejection(line: 0, byteOffset: 5, path: "$.userId", reason: "x", source: "http")
        #expect(noLine.description == "http: byte 5: $.userId: x")
    }

    @Test func truncatesLongValuesAndStaysOnOneLine() throws {
        let long = String(repeating: "y", count: 200) + "\n"
        let line = #"{"type":"track","timestamp":"\#(long.replacingFirst("\n", with: "\\n"))"}"#
        let r = try rejection(line)
        #expect(r.reason == #"not an RFC 3339 date-time (""# + String(repeating: "y", count: 40) + #"…")"#)
        let odd = EventRejection(line: 1, byteOffset: 0, path: "$", reason: "a\nb", source: "dir/new\nline.jsonl")
        #expect(!odd.description.contains("\n"))
        #expect(odd.description == #"dir/new\nline.jsonl:1: byte 0: $: a\nb"#)
    }
}

@Suite("SegmentEventParser: round trip")
struct SegmentEventRoundTripTests {
    @Test func parsingAnEventsJSONGivesTheEventBack() throws {
        var rng = SplitMix(seed: 2025)
        for _ in 0..<3_000 {
            let original = EventGenerator.event(using: &rng)
            let text = original.jsonValue.jsonText
            let parsed = try event(text)
            #expect(parsed == original, "\(text)")
        }
    }

    @Test func theSampleLineRoundTrips() throws {
        let e = try event(sampleLine)
        #expect(try event(e.jsonValue.jsonText) == e)
    }
}

/// Random events that `Event.jsonValue` can represent exactly.
enum EventGenerator {
    static let specKeys: Set<String> = [
        "type", "userId", "anonymousId", "messageId", "timestamp", "originalTimestamp", "sentAt", "receivedAt",
        "event", "name", "properties", "traits", "context", "groupId", "previousId",
    ]

    static func id(using rng: inout SplitMix) -> String {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return "u\(Int.random(in: 1...999_999, using: &rng))"
        case 1: return ValueGenerator.string(using: &rng, maxLength: 30).isEmpty ? "x" : ValueGenerator.string(using: &rng, maxLength: 30) + "!"
        default: return "user-\(rng.next())@example.com"
        }
    }

    static func event(using rng: inout SplitMix) -> Event {
        let kind = Event.Kind.allCases.randomElement(using: &rng)!
        let ms = Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &rng)
        var e = Event(
            kind: kind,
            userId: id(using: &rng),
            anonymousId: Bool.random(using: &rng) ? id(using: &rng) : nil,
            messageId: id(using: &rng),
            timestamp: Timestamp(milliseconds: Bool.random(using: &rng) ? ms : 1_750_000_000_000 + ms % 10_000_000)
        )
        switch kind {
        case .track:
            e.name = ValueGenerator.string(using: &rng) + "e"
            e.properties = ValueGenerator.object(depth: 1, using: &rng)
        case .page, .screen:
            e.name = Bool.random(using: &rng) ? ValueGenerator.string(using: &rng) : ""
            e.properties = ValueGenerator.object(depth: 1, using: &rng)
        case .identify:
            e.traits = ValueGenerator.object(depth: 1, using: &rng)
        case .group:
            e.groupId = id(using: &rng)
            e.traits = ValueGenerator.object(depth: 1, using: &rng)
        case .alias:
            e.previousId = id(using: &rng)
        }
        if kind != .group && Int.random(in: 0..<4, using: &rng) == 0 { e.groupId = id(using: &rng) }
        e.extra = ValueGenerator.object(depth: 1, using: &rng, avoiding: specKeys)
        return e
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let chars = Array(self)
        let needle = Array(target)
        guard needle.count <= chars.count else { return self }
        for start in 0...(chars.count - needle.count) where Array(chars[start..<start + needle.count]) == needle {
            return String(chars[..<start]) + replacement + String(chars[(start + needle.count)...])
        }
        return self
    }
}
