import JourneyCore
import JourneyEvents
import Testing

@Suite struct TrackingBodyTests {
    func lines(_ body: String, _ endpoint: TrackingBody.Endpoint) throws -> [String] {
        try TrackingBody(Array(body.utf8), endpoint: endpoint, maxEventBytes: 32 * 1024).lines.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aSingleEventTakesItsTypeFromTheEndpointAndLosesItsWriteKey() throws {
        let body = try TrackingBody(
            Array(#" {"userId":"u1","writeKey":"wk-web","traits":{"a":[1,2.5e3,"\u00e9"]}} "#.utf8), endpoint: .single(type: "identify"),
            maxEventBytes: 32 * 1024)
        #expect(body.writeKey == "wk-web")
        #expect(body.lines.map { String(decoding: $0, as: UTF8.self) } == [#"{"userId":"u1","traits":{"a":[1,2.5e3,"\u00e9"]},"type":"identify"}"#])
        #expect(try lines(#"{"type":"track","event":"e"}"#, .single(type: "track")) == [#"{"type":"track","event":"e"}"#])
    }

    @Test func aBatchGivesEachEventTheBatchSentAtAndContextItLacks() throws {
        let body = #"{"batch":[{"type":"track","event":"a"},{"type":"track","event":"b","sentAt":"own","context":{}}],"sentAt":"2026-01-01T00:00:01Z","context":{"library":{"name":"x"}},"writeKey":"k"}"#
        #expect(try lines(body, .batch) == [
            #"{"type":"track","event":"a","sentAt":"2026-01-01T00:00:01Z","context":{"library":{"name":"x"}}}"#,
            #"{"type":"track","event":"b","sentAt":"own","context":{}}"#,
        ])
        #expect(try lines(#"{"batch":[]}"#, .batch) == [])
    }

    @Test func everyEventIsStampedWithTheTimeItWasReceivedAsSegmentDoes() throws {
        let received = Timestamp(milliseconds: 1_764_547_200_123)
        let body = try TrackingBody(
            Array(#"{"batch":[{"type":"track","event":"a"},{"type":"track","event":"b","receivedAt":"client's"}]}"#.utf8),
            endpoint: .batch, maxEventBytes: 32 * 1024, receivedAt: received)
        #expect(body.lines.map { String(decoding: $0, as: UTF8.self) } == [
            #"{"type":"track","event":"a","receivedAt":"2025-12-01T00:00:00.123Z"}"#,
            #"{"type":"track","event":"b","receivedAt":"2025-12-01T00:00:00.123Z"}"#,
        ])
    }

    @Test func refusalsNameTheEventAndTheReason() throws {
        func problem(_ body: String, _ endpoint: TrackingBody.Endpoint = .batch) -> TrackingBody.Problem? {
            do {
                _ = try TrackingBody(Array(body.utf8), endpoint: endpoint, maxEventBytes: 32 * 1024)
                return nil
            } catch { return error }
        }
        #expect(problem(#"{"batch":[{},{},{},{"a":tru},{}]}"#) == TrackingBody.Problem(index: 3, reason: "not JSON at byte 5: expected a JSON value"))
        #expect(problem(#"{"batch":[{},{},[1]]}"#) == TrackingBody.Problem(index: 2, reason: "not JSON at byte 0: expected an object"))
        #expect(problem(#"{"batch":[{"a":"\x"}]}"#) == TrackingBody.Problem(index: 0, reason: "not JSON at byte 7: an unknown escape in a string"))
        #expect(problem(#"{"batch":[{"a":01}]}"#) == TrackingBody.Problem(index: 0, reason: "not JSON at byte 6: a number with a leading zero"))
        #expect(problem(#"{"batch":[{}]"#) == TrackingBody.Problem(index: nil, reason: "not JSON at byte 13: unexpected end of the body"))
        #expect(problem(#"{"events":[]}"#) == TrackingBody.Problem(index: nil, reason: #"a batch body needs "batch": [events]"#))
        #expect(problem(#"[]"#, .single(type: "track")) == TrackingBody.Problem(index: nil, reason: "not JSON at byte 0: expected an object"))
        #expect(problem("{\"batch\":[" + event(bytes: 32 * 1024) + "," + event(bytes: 32 * 1024 + 1) + "]}") == TrackingBody.Problem(index: 1, reason: "event exceeds 32768 bytes (32769 bytes)"))
        #expect(problem(event(bytes: 32 * 1024 + 1), .single(type: "track")) == TrackingBody.Problem(index: 0, reason: "event exceeds 32768 bytes (32769 bytes)"))
        #expect(problem(event(bytes: 32 * 1024), .single(type: "track")) == nil)
    }

    @Test func eventsAreReadStraightFromTheBodyAsTheirLinesWouldBeRead() throws {
        let received = Timestamp(milliseconds: 1_764_547_200_123)
        let body = """
            {"batch":[ {"type":"track","userId":"u1","messageId":"m1","event":"Signed Up","writeKey":"x","properties":{"plan":"pro"}},
            {"type":"identify","anonymousId":"a2","messageId":"m2","receivedAt":"client's","context":{"traits":{"email":"e@x"}}},
            {"type":"track","userId":"u3","messageId":"m3"},
            {"userId":"u4","messageId":"m4","type":"page","name":"Home","sentAt":null} ],
            "sentAt":"2026-01-01T00:00:01Z","context":{"library":{"name":"x"},"traits":{"plan":"free"}}}
            """
        for options in [SegmentEventParser.Options(), SegmentEventParser.Options(requireMessageId: false)] {
            let parser = SegmentEventParser(options: options)
            let cut = try TrackingBody(Array(body.utf8), endpoint: .batch, maxEventBytes: 32 * 1024, receivedAt: received, parser: parser)
            #expect(cut.lines.map { String(decoding: $0, as: UTF8.self) } == [
                #"{"type":"track","userId":"u1","messageId":"m1","event":"Signed Up","properties":{"plan":"pro"},"sentAt":"2026-01-01T00:00:01Z","context":{"library":{"name":"x"},"traits":{"plan":"free"}},"receivedAt":"2025-12-01T00:00:00.123Z"}"#,
                #"{"type":"identify","anonymousId":"a2","messageId":"m2","context":{"traits":{"email":"e@x"}},"sentAt":"2026-01-01T00:00:01Z","receivedAt":"2025-12-01T00:00:00.123Z"}"#,
                #"{"type":"track","userId":"u3","messageId":"m3","sentAt":"2026-01-01T00:00:01Z","context":{"library":{"name":"x"},"traits":{"plan":"free"}},"receivedAt":"2025-12-01T00:00:00.123Z"}"#,
                #"{"userId":"u4","messageId":"m4","type":"page","name":"Home","sentAt":null,"context":{"library":{"name":"x"},"traits":{"plan":"free"}},"receivedAt":"2025-12-01T00:00:00.123Z"}"#,
            ])
            // Each event is the one its line makes; the track without `event` is left to the pump.
            for line in cut.events {
                #expect(line.event == (try? parser.parse(line.bytes).get()))
            }
            #expect(cut.events.map { $0.event == nil } == [false, false, true, false])
            #expect(cut.events[1].event?.traits == ["email": "e@x"])
            #expect(cut.events[0].event?.timestamp == Timestamp(iso8601: "2026-01-01T00:00:01Z"))
        }
    }

    /// The line is written compact whatever white space the body has, and the same whether its members
    /// are copied as one span (written without white space) or one by one (around a dropped `writeKey`).
    @Test func linesAreCompactWhateverTheBodysWhiteSpace() throws {
        let parser = SegmentEventParser()
        let line = #"{"type":"track","userId":"u1","messageId":"m1","event":"e","timestamp":"2026-01-01T00:00:00Z"}"#
        for event in [
            line,
            #"{ "type" : "track", "userId":"u1" ,"messageId":"m1","event":"e" , "timestamp":"2026-01-01T00:00:00Z" }"#,
            #"{"type":"track","userId":"u1","writeKey":"k","messageId":"m1","event":"e","timestamp":"2026-01-01T00:00:00Z","writeKey":"k"}"#,
            "{\"type\":\"track\",\n\"userId\":\"u1\",\"messageId\":\"m1\",\"event\":\"e\",\t\"timestamp\":\"2026-01-01T00:00:00Z\"}",
        ] {
            let cut = try TrackingBody(Array(("{\"batch\":[" + event + "]}").utf8), endpoint: .batch, maxEventBytes: 32 * 1024, parser: parser)
            #expect(cut.lines.map { String(decoding: $0, as: UTF8.self) } == [line], "\(event)")
            #expect(cut.events.first?.event == (try? parser.parse(Array(line.utf8)).get()))
        }
    }

    /// The body check reads strings eight bytes at a time: a quote, an escape or a control character is
    /// found at any place in a long string, and bytes of UTF-8 above 0x7F are not mistaken for either.
    @Test func theBodyCheckFindsWhatEndsOrBreaksAStringAtEveryPlace() throws {
        for k in 0..<20 {
            let text = String(repeating: "é", count: k % 3) + String(repeating: "a", count: k)
            let prefix = #"{"batch":[{"type":"track","event":""#
            let escaped = prefix + text + #"\"q\\ \u00e9"}]}"#
            #expect(try lines(escaped, .batch) == [#"{"type":"track","event":""# + text + #"\"q\\ \u00e9"}"#])
            let broken = prefix + text + "\u{01}" + #""}]}"#
            do {
                _ = try TrackingBody(Array(broken.utf8), endpoint: .batch, maxEventBytes: 32 * 1024)
                Issue.record("a control character at \(k) was not found")
            } catch {
                #expect(error == TrackingBody.Problem(index: 0, reason: "not JSON at byte \(25 + text.utf8.count): a control character inside a string"))
            }
        }
    }

    @Test func aBatchMemberTheParserRefusesRefusesTheEventsThatGetIt() throws {
        let body = #"{"batch":[{"type":"track","userId":"u","messageId":"m","event":"e","timestamp":"2026-01-01T00:00:00Z"},{"type":"track","userId":"u","messageId":"n","event":"e","timestamp":"2026-01-01T00:00:00Z","context":{}}],"context":"web"}"#
        let parser = SegmentEventParser()
        let cut = try TrackingBody(Array(body.utf8), endpoint: .batch, maxEventBytes: 32 * 1024, parser: parser)
        #expect(cut.events.map { $0.event?.messageId } == [nil, "n"])
        guard case .failure(let rejection) = parser.parse(cut.events[0].bytes) else { throw Failure("the line parses") }
        #expect(rejection.path == "$.context")
        #expect(rejection.reason == "expected an object, found string")
        let single = try TrackingBody(
            Array(#" {"userId":"u","messageId":"m","event":"e","timestamp":"2026-01-01T00:00:00Z","writeKey":"k"} "#.utf8),
            endpoint: .single(type: "track"), maxEventBytes: 32 * 1024, parser: parser)
        #expect(single.writeKey == "k")
        #expect(single.events.first?.event == (try? parser.parse(single.events[0].bytes).get()))
        #expect(single.events.first?.event?.name == "e")
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
