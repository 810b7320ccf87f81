import Foundation
import JourneyCore
import Testing
import struct JourneyTesting.TestCertificates

@testable import JourneyChannels

/// The email adapter against aiosmtpd (a real SMTP server) on loopback; every received message is parsed
/// with Python's `email` package by the peer and checked here.
@Suite struct EmailTests {
    struct Received {
        var json: [String: Any]
        var headers: [String: String] {
            var out: [String: String] = [:]
            for pair in json["headers"] as? [[String]] ?? [] where pair.count == 2 { out[pair[0]] = pair[1] }
            return out
        }
        var parts: [[String: Any]] { json["parts"] as? [[String: Any]] ?? [] }
    }

    static func received(in out: String, number: Int = 1) throws -> Received? {
        let path = String(format: "%@/%04d.json", out, number)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return Received(json: try JSONSerialization.jsonObject(with: data) as! [String: Any])
    }

    /// Starts the SMTP peer with `peerArguments` and builds an email channel at it.
    func withSMTP<T>(
        _ peerArguments: [String] = [], options: Value = [:], password: String? = nil, certificates: Bool = true,
        _ body: (ConfiguredChannel, String, TestCertificates?) async throws -> T
    ) async throws -> T {
        try await withTemporaryDirectory { dir in
            let out = dir + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let certs = certificates ? try await offThread { try TestCertificates.make(in: dir) } : nil
            var arguments = ["--out", out] + peerArguments
            if let certs, peerArguments.contains(where: { $0.contains("tls") || $0 == "--auth" }) {
                arguments += ["--cert", certs.certificateFile, "--key", certs.keyFile]
            }
            return try await withPythonPeer("smtp_peer.py", arguments) { peer in
                var all: Value = [
                    "host": "127.0.0.1", "port": .number(Double(peer.port)), "tls_server_name": "localhost", "from": "news@example.com",
                    "from_name": "Example Shop", "helo_name": "journeyd.test", "timeout": "2m",
                ]
                if let certs { all.set("ca_file", to: .string(certs.caFile)) }
                for member in options.members ?? [] { all.set(member.key, to: member.value) }
                let email = try await channel("email", in: dir, options: all, secrets: password.map { ["password": $0] } ?? [:])
                return try await body(email, out, certs)
            }
        }
    }

    @Test func aMultipartMessageGoesOverSTARTTLSWithAuth() async throws {
        let text = "Hi Ada,\n.a line that starts with a dot\nand a long line: \(String(repeating: "words and more words ", count: 10))end.\ntrailing space "
        let html = "<p>Hi <b>Ada</b>,</p>\n<p>Your cart: <a href=\"https://shop.example.com/cart?id=c-1&amp;x=1\">open it</a></p>"
        var message = sampleMessage(subject: "Ihr Warenkorb wartet auf Sie 🛒 — nur heute", text: text, html: html)
        message.unsubscribeURL = "https://shop.example.com/unsubscribe?u=u-42&t=abc"
        message.headers = [.init("X-Campaign", "cart-2025")]
        try await withSMTP(["--require-starttls", "--auth", "journeys:pa55-CANARY"], options: ["username": "journeys", "tls": "required"], password: "pa55-CANARY") {
            email, out, _ in
            #expect(await email.adapter.deliver(message) == .sent(providerMessageID: "Q0001"))
            let mail = try #require(try Self.received(in: out))
            #expect(mail.json["tls"] as? Bool == true, "STARTTLS was used")
            #expect(mail.json["authenticated"] as? Bool == true)
            #expect(mail.json["auth_login"] as? String == "journeys")
            #expect(mail.json["mail_from"] as? String == "news@example.com")
            #expect(mail.json["rcpt_tos"] as? [String] == ["ada@example.com"])
            #expect(mail.json["defects"] as? [String] == [])
            #expect(mail.json["subject"] as? String == "Ihr Warenkorb wartet auf Sie 🛒 — nur heute")
            #expect(mail.json["content_type"] as? String == "multipart/alternative")
            let parts = mail.parts
            #expect(parts.map { $0["content_type"] as? String } == ["text/plain", "text/html"])
            #expect(parts.map { $0["charset"] as? String } == ["utf-8", "utf-8"])
            // Line breaks travel as CRLF (the MIME canonical form); the text is otherwise exactly what was sent.
            func content(_ part: [String: Any]?) -> String? { (part?["content"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n") }
            #expect(content(parts.first) == text)
            #expect(content(parts.last) == html)
            let headers = mail.headers
            #expect(headers["Message-ID"] == "<0123456789abcdef.journeyd@example.com>")
            #expect(headers["List-Unsubscribe"] == "<https://shop.example.com/unsubscribe?u=u-42&t=abc>")
            #expect(headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click")
            #expect(headers["X-Campaign"] == "cart-2025")
            #expect(headers["From"] == "Example Shop <news@example.com>")
            #expect(headers["To"] == "ada@example.com")
            let raw = try #require(mail.json["raw"] as? String)
            #expect(raw.contains("Subject: =?UTF-8?B?"), "the subject is RFC 2047-encoded")
            #expect(raw.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 998 })
        }
    }

    @Test func implicitTLSWorksToo() async throws {
        try await withSMTP(["--implicit-tls"], options: ["tls": "implicit"]) { email, out, _ async throws in
            #expect(await email.adapter.deliver(sampleMessage()) == .sent(providerMessageID: "Q0001"))
            #expect(try Self.received(in: out)?.json["tls"] as? Bool == true)
        }
    }

    @Test func opportunisticSTARTTLSFallsBackToPlaintextWhenNotOffered() async throws {
        try await withSMTP([], options: ["tls": "starttls"], certificates: false) { email, out, _ async throws in
            #expect(await email.adapter.deliver(sampleMessage(html: nil)) == .sent(providerMessageID: "Q0001"))
            let mail = try #require(try Self.received(in: out))
            #expect(mail.json["tls"] as? Bool == false)
            #expect(mail.json["content_type"] as? String == "text/plain")
        }
    }

    @Test func requiredTLSThatIsNotOfferedDisablesTheChannel() async throws {
        try await withSMTP([], options: ["tls": "required"], certificates: false) { email, out, _ async throws in
            #expect(await email.adapter.deliver(sampleMessage()) == .disable(reason: "the SMTP server does not offer STARTTLS and tls is required"))
            #expect(try Self.received(in: out) == nil)
        }
    }

    @Test func anUntrustedCertificateIsATLSFailure() async throws {
        try await withTemporaryDirectory { dir in
            let certs = try await offThread { try TestCertificates.make(in: dir) }
            try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
            try await withPythonPeer("smtp_peer.py", ["--out", dir + "/out", "--cert", certs.certificateFile, "--key", certs.keyFile, "--require-starttls"]) {
                peer in
                // The system's trust store does not know the test CA.
                let email = try await channel(
                    "email", in: dir,
                    options: ["host": "127.0.0.1", "port": .number(Double(peer.port)), "tls_server_name": "localhost", "from": "news@example.com"])
                let result = await email.adapter.deliver(sampleMessage())
                #expect(kind(result) == "retry" && result.reason?.hasPrefix("TLS failure") == true, "\(result)")
            }
        }
    }

    @Test func repliesAreClassifiedByRecipientAndStage() async throws {
        try await withSMTP(["--require-starttls"]) { email, _, _ in
            let temp = await email.adapter.deliver(sampleMessage(email: "tempfail@example.com"))
            #expect(temp == .retry(after: nil, reason: "SMTP RCPT TO: 451 4.3.0 mailbox busy, try again later"))
            let rejected = await email.adapter.deliver(sampleMessage(email: "reject@example.com"))
            #expect(rejected == .deadLetter(reason: "SMTP RCPT TO: 550 5.1.1 <<redacted>>: no such user"), "the address is not in the reason")
            let content = await email.adapter.deliver(sampleMessage(email: "datafail@example.com"))
            #expect(content == .deadLetter(reason: "SMTP end of DATA: 554 5.6.0 message content rejected"))
            let noAddress = await email.adapter.deliver(OutboundMessage(touch: sampleTouch(), traits: ["phone": "+4915112345678"], text: "hi"))
            #expect(noAddress == .deadLetter(reason: #"the user has no usable email address in trait "email""#))
        }
    }

    @Test func aRejectedPasswordDisablesTheChannelWithoutShowingIt() async throws {
        try await withSMTP(["--require-starttls", "--auth", "journeys:right"], options: ["username": "journeys"], password: "wrong-CANARY") { email, _, _ in
            let result = await email.adapter.deliver(sampleMessage())
            #expect(kind(result) == "disable" && result.reason?.hasPrefix("SMTP auth: 535") == true, "\(result)")
            #expect(!"\(result)".contains("CANARY"))
        }
    }

    @Test func cancellingASessionReturnsPromptly() async throws {
        try await withSMTP(["--require-starttls"]) { email, _, _ in
            let task = Task { await email.adapter.deliver(sampleMessage(email: "hang@example.com")) }
            try await Task.sleep(for: .milliseconds(500))
            let start = ContinuousClock.now
            task.cancel()
            let result = await task.value
            #expect(ContinuousClock.now - start < .seconds(30))  // generous on a loaded 2-core machine; a hang is minutes
            #expect(result == .retry(after: nil, reason: "cancelled"))
        }
    }

    // MARK: - Encodings

    @Test func quotedPrintableKeepsLinesShortAndEncodesWhatItMust() {
        let encoded = MIMEMessage.quotedPrintable("a=b ünïcode \(String(repeating: "x", count: 200))\nend \t")
        for line in encoded.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 76) }
        #expect(encoded.hasPrefix("a=3Db =C3=BCn=C3=AFcode"))
        #expect(encoded.hasSuffix("\r\nend =09"))
    }

    @Test func headerTextIsEncodedInShortWordsAndNeverCarriesALineBreak() {
        let injected = MIMEMessage.encodedText("Hello\r\nBcc: victim@example.com", prefix: 9)
        #expect(!injected.contains("\r\nBcc") && !injected.contains("\n"))
        let long = MIMEMessage.encodedText(String(repeating: "Grüße ", count: 30), prefix: 9)
        for word in long.components(separatedBy: "\r\n ") {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?=") && word.utf8.count <= 75)
        }
    }

    @Test func dataIsDotStuffedAndTerminated() {
        let framed = String(decoding: SMTPData.framed(Array("a\r\n.b\r\n..c\r\nd".utf8)), as: UTF8.self)
        #expect(framed == "a\r\n..b\r\n...c\r\nd\r\n.\r\n")
    }
}
