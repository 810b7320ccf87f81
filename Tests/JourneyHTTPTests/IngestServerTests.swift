import Foundation
import JourneyCore
import JourneyHTTP
import JourneyTesting
import Testing

@Suite("Tracking API answers")
struct IngestServerTests {
    let web = HTTPExchange.basic("wk-web")

    @Test func everyRefusalHasItsStatusAndBody() async throws {
        let source = HTTPSource()
        try await withIngestServer(source) { port in
            func post(_ path: String, _ body: [UInt8], _ headers: [(String, String)]) async throws -> HTTPExchange {
                try await HTTPExchange.send("POST", path, port: port, headers: [("Content-Type", "application/json")] + headers, body: body)
            }
            // Keys: unknown in the header, unknown in the body, none at all. The answer names no key.
            for answer in [
                try await post("/v1/track", Array(track("a").utf8), [HTTPExchange.basic("wk-nope")]),
                try await post("/v1/track", Array(#"{"writeKey":"wk-nope","userId":"u","event":"e"}"#.utf8), []),
                try await post("/v1/batch", Array(#"{"batch":[]}"#.utf8), []),
            ] {
                #expect(answer.status == 401)
                #expect(answer.body == #"{"success":false,"reason":"missing or unknown write key"}"#)
                #expect(!answer.body.contains("wk-web"))
            }
            var answer = try await post("/v1/batch", Array("not gzip at all".utf8), [web, ("Content-Encoding", "gzip")])
            #expect(answer.status == 400)
            #expect(answer.body == #"{"success":false,"reason":"the body is not valid gzip (corruptData)"}"#)

            let events = (0..<5).map { event(bytes: $0 == 2 ? 32 * 1024 + 1 : 200, id: "m\($0)") }
            answer = try await post("/v1/batch", Array((#"{"batch":["# + events.joined(separator: ",") + "]}").utf8), [web])
            #expect(answer.status == 400)
            #expect(answer.body == #"{"success":false,"index":2,"reason":"event exceeds 32768 bytes (32769 bytes)"}"#)

            answer = try await post("/v1/track", Array(event(bytes: 32 * 1024 + 1).utf8), [web])
            #expect(answer.status == 400)
            #expect(answer.body == #"{"success":false,"index":0,"reason":"event exceeds 32768 bytes (32769 bytes)"}"#)

            // 500 KB + 1, as sent and as gzip inflates it.
            func body(bytes: Int) -> [UInt8] { Array((#"{"batch":[],"pad":""# + String(repeating: "x", count: bytes - 21) + #""}"#).utf8) }
            let big = body(bytes: 500 * 1024 + 1)
            #expect(big.count == 500 * 1024 + 1)
            answer = try await post("/v1/batch", body(bytes: 500 * 1024), [web])
            #expect(answer.status == 200, "500 KB exactly is within the limit")
            for (body, headers) in [(big, [web]), (try await gzip(big), [web, ("Content-Encoding", "gzip")])] {
                answer = try await post("/v1/batch", body, headers)
                #expect(answer.status == 400)
                #expect(answer.body == #"{"success":false,"reason":"request exceeds 512000 bytes"}"#)
            }
            answer = try await post("/v1/batch", Array((#"{"batch":["# + [track("a"), track("b"), track("c"), #"{"userId":"u","event":tru}"#].joined(separator: ",") + "]}").utf8), [web])
            #expect(answer.status == 400)
            #expect(answer.body == #"{"success":false,"index":3,"reason":"not JSON at byte 22: expected a JSON value"}"#)
            answer = try await post("/v1/batch", Array(#"{"batch":[]}"#.utf8), [web, ("Content-Encoding", "br")])
            #expect(answer.status == 400)
            #expect(answer.body == #"{"success":false,"reason":"unsupported Content-Encoding br (gzip or none)"}"#)
            answer = try await HTTPExchange.send("GET", "/v1/track", port: port, headers: [web])
            #expect(answer.status == 405)
            #expect(answer.headers["allow"] == "POST")
            answer = try await post("/v1/tracks", Array(track("a").utf8), [web])
            #expect(answer.status == 404)
            #expect(answer.headers["server"] == "journeyd", "every answer names the server")
        }
        #expect(source.queued == 0, "nothing refused was queued")
    }

    @Test func aBadEventInABatchIsQuarantinedWhileTheRestAreAccepted() async throws {
        let source = HTTPSource()
        try await withIngestServer(source) { port in
            let body = #"{"batch":["# + [track("a"), #"{"type":"track","event":"signup","messageId":"b"}"#, track("c")].joined(separator: ",") + "]}"
            async let answer = HTTPExchange.send("POST", "/v1/batch", port: port, headers: [web], body: Array(body.utf8))
            let taken = try await consume(source, count: 3)
            let received = try await answer
            #expect(taken.map(\.namespace) == ["http/web", "http/web", "http/web"])
            #expect(taken.map(\.parsed) == [true, false, true], "parsed in the handler, the bad one left to the pump")
            #expect(received.status == 200)
            #expect(received.body == #"{"success":true,"accepted":2,"quarantined":[{"index":1,"path":"$","reason":"missing \"userId\" or \"anonymousId\""}]}"#)

            // A request whose every event is refused is a 400 with the same detail.
            async let single = HTTPExchange.send("POST", "/v1/track", port: port, headers: [web], body: Array(#"{"event":"e","messageId":"d"}"#.utf8))
            _ = try await consume(source, count: 1)
            let refused = try await single
            #expect(refused.status == 400)
            #expect(json(refused.body)["success"] as? Bool == false && json(refused.body)["accepted"] as? Int == 0)
        }
    }

    /// The usual header (`Basic base64(key:)`) is looked up as it is; another form of it is decoded.
    @Test func everyFormOfTheBasicHeaderNamesItsKey() async throws {
        let source = HTTPSource()
        try await withIngestServer(source) { port in
            let forms = [web, ("Authorization", "basic " + Data("wk-web:any password".utf8).base64EncodedString())]
            for (n, header) in forms.enumerated() {
                async let answer = HTTPExchange.send("POST", "/v1/track", port: port, headers: [header], body: Array(track("h\(n)").utf8))
                let taken = try await consume(source, count: 1)
                #expect(try await answer.status == 200)
                #expect(taken.map(\.namespace) == ["http/web"])
            }
            // A header key that is not ours is refused even when the body carries a good one.
            let refused = try await HTTPExchange.send(
                "POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-nope")],
                body: Array(#"{"writeKey":"wk-web","userId":"u","event":"e","messageId":"x"}"#.utf8))
            #expect(refused.status == 401)
        }
    }

    @Test func gzipBodiesAndBodyKeysAreAcceptedAndEachKeyIsItsOwnNamespace() async throws {
        let source = HTTPSource()
        try await withIngestServer(source) { port in
            let batch = Array((#"{"batch":["# + track("a") + "," + track("b") + #"],"sentAt":"2026-01-01T00:00:05Z","context":{"ip":"1.2.3.4"}}"#).utf8)
            async let first = HTTPExchange.send("POST", "/v1/batch", port: port, headers: [web, ("Content-Encoding", "gzip")], body: try await gzip(batch))
            let taken = try await consume(source, count: 2)
            #expect(try await first.status == 200)
            #expect(try await first.body == #"{"success":true}"#)
            #expect(taken.map { withoutReceivedAt($0.line) } == [
                String(track("a").dropLast()) + #","sentAt":"2026-01-01T00:00:05Z","context":{"ip":"1.2.3.4"}}"#,
                String(track("b").dropLast()) + #","sentAt":"2026-01-01T00:00:05Z","context":{"ip":"1.2.3.4"}}"#,
            ])
            // The same messageId from the other key: another namespace (deduplication is per source).
            async let second = HTTPExchange.send(
                "POST", "/v1/page", port: port, body: Array(#"{"writeKey":"wk-app","userId":"u1","name":"Home","messageId":"a","timestamp":"2026-01-01T00:00:00Z"}"#.utf8))
            let page = try await consume(source, count: 1)
            #expect(try await second.status == 200)
            #expect(page.map(\.namespace) == ["http/app"])
            #expect(page.map { withoutReceivedAt($0.line) } == [#"{"userId":"u1","name":"Home","messageId":"a","timestamp":"2026-01-01T00:00:00Z","type":"page"}"#])
        }
    }

    /// `inputs.http.tls`: HTTPS from PEM files, checked by a client that trusts only the test CA.
    @Test func withCertificateFilesItServesHTTPS() async throws {
        let directory = try TemporaryDirectory(prefix: "journeyd-tls")
        defer { directory.remove() }
        let certificates = try TestCertificates.make(in: directory.path)
        let source = HTTPSource()
        let files = TLSFiles(certificate: certificates.certificateFile, key: certificates.keyFile)
        try await withIngestServer(source, configure: { $0.tls = files }) { port in
            let client = """
                import ssl, sys, urllib.request
                context = ssl.create_default_context(cafile=sys.argv[2])
                request = urllib.request.Request(sys.argv[1], data=b'{"userId":"u1","event":"e","messageId":"tls-1","timestamp":"2026-01-01T00:00:00Z"}',
                    headers={"Authorization": "Basic d2std2ViOg==", "Content-Type": "application/json"})
                with urllib.request.urlopen(request, context=context, timeout=120) as answer:
                    print(answer.status, answer.read().decode())
                """
            async let answer = ChildProcess.run(
                "/usr/bin/env", ["python3", "-c", client, "https://127.0.0.1:\(port)/v1/track", certificates.caFile])
            let taken = try await consume(source, count: 1)
            #expect(taken.map(\.namespace) == ["http/web"])
            let result = try await answer
            #expect(result.status == 0 && result.output.contains(#"200 {"success":true}"#), "\(result.output)")
            // Plain HTTP on the TLS port is not answered as HTTP.
            #expect((try? await HTTPExchange.send("POST", "/v1/track", port: port, headers: [web]))?.status != 200)
        }
    }

    @Test func aFullQueueAnswers429WithRetryAfterAndTakesNothing() async throws {
        let source = HTTPSource(maxQueued: 4)
        try await withIngestServer(source) { port in
            let three = Array((#"{"batch":["# + ["a", "b", "c"].map { track($0) }.joined(separator: ",") + "]}").utf8)
            async let waiting = HTTPExchange.send("POST", "/v1/batch", port: port, headers: [web], body: three)
            #expect(await eventually { source.queued == 3 })
            let busy = try await HTTPExchange.send("POST", "/v1/batch", port: port, headers: [web], body: three)
            #expect(busy.status == 429)
            #expect(busy.headers["retry-after"] == "1")
            #expect(busy.body == #"{"success":false,"reason":"the queue is full; retry later"}"#)
            #expect(source.queued == 3 && source.busyAnswers == 1)
            let taken = try await consume(source, count: 3)
            #expect(taken.count == 3)
            #expect(try await waiting.status == 200)
        }
    }

    @Test func refusedOrStoppedRequestsAnswer503WithRetryAfter() async throws {
        let source = HTTPSource()
        try await withIngestServer(source) { port in
            async let refused = HTTPExchange.send("POST", "/v1/track", port: port, headers: [web], body: Array(track("a").utf8))
            let batch = try #require(try await source.next(limit: 10))
            await source.refuse(batch, reason: "the disk is full")
            #expect(try await refused.status == 503)
            #expect(try await refused.headers["retry-after"] == "1")
            #expect(try await refused.body == #"{"success":false,"reason":"not stored: the disk is full"}"#)

            async let waiting = HTTPExchange.send("POST", "/v1/track", port: port, headers: [web], body: Array(track("b").utf8))
            #expect(await eventually { source.queued == 1 })
            source.stop()
            #expect(try await waiting.status == 503)
            #expect(try await waiting.body == #"{"success":false,"reason":"not stored: journeyd is stopping"}"#)
            #expect(try await source.next(limit: 10) == nil)
        }
    }
}
