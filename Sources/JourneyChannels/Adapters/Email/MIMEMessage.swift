import Foundation

/// Writes an RFC 5322 message with MIME parts: `multipart/alternative` with a text and an HTML part (or a
/// single text part), both quoted-printable UTF-8, the subject and display names RFC 2047-encoded when
/// they are not plain ASCII, and every line ending in CRLF.
struct MIMEMessage {
    var from: String
    var fromName: String?
    var to: String
    var replyTo: String?
    var subject: String?
    var text: String
    var html: String?
    var messageID: String
    var date: Date
    var unsubscribeURL: String?
    /// Extra headers, already checked (no CR/LF, token names, not one of ours).
    var headers: [(String, String)]

    /// Headers the adapter writes itself; a touch's extra headers may not replace them.
    static let ownHeaders: Set<String> = [
        "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "mime-version", "content-type",
        "content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post", "sender", "return-path",
    ]

    var bytes: [UInt8] {
        var out = ""
        func header(_ name: String, _ value: String) { out += "\(name): \(value)\r\n" }
        header("From", Self.mailbox(from, name: fromName))
        header("To", "<\(to)>")
        if let replyTo { header("Reply-To", "<\(replyTo)>") }
        header("Subject", Self.encodedText(subject ?? "", prefix: "Subject: ".count))
        header("Date", Self.rfc5322Date(date))
        header("Message-ID", "<\(messageID)>")
        header("MIME-Version", "1.0")
        if let unsubscribeURL {
            header("List-Unsubscribe", "<\(unsubscribeURL)>")
            header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
        }
        for (name, value) in headers { header(name, Self.encodedText(value, prefix: name.count + 2)) }
        if let html {
            let boundary = "=_journeyd_\(messageID.prefix(while: { $0 != "@" }))"
            header("Content-Type", "multipart/alternative; boundary=\"\(boundary)\"")
            out += "\r\n"
            out += "This is a multi-part message in MIME format.\r\n"
            for (type, body) in [("text/plain", text), ("text/html", html)] {
                out += "--\(boundary)\r\n"
                out += "Content-Type: \(type); charset=utf-8\r\n"
                out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                out += Self.quotedPrintable(body) + "\r\n"
            }
            out += "--\(boundary)--\r\n"
        } else {
            header("Content-Type", "text/plain; charset=utf-8")
            header("Content-Transfer-Encoding", "quoted-printable")
            out += "\r\n"
            out += Self.quotedPrintable(text) + "\r\n"
        }
        return Array(out.utf8)
    }

    // MARK: - Encodings

    /// Quoted-printable (RFC 2045 §6.7) of UTF-8 text: line breaks become CRLF, lines are at most 76
    /// characters (soft breaks `=`), trailing spaces and tabs are encoded.
    static func quotedPrintable(_ text: String) -> String {
        var out = ""
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            if index > 0 { out += "\r\n" }
            let bytes = Array(line.utf8)
            var width = 0
            for (i, byte) in bytes.enumerated() {
                let last = i == bytes.count - 1
                let token: String
                switch byte {
                case 0x21...0x3c, 0x3e...0x7e: token = String(UnicodeScalar(byte))
                case 0x20 where !last, 0x09 where !last: token = String(UnicodeScalar(byte))
                default: token = "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                }
                // Room for the token and a soft break's "=" within 76 characters.
                if width + token.count > 75 {
                    out += "=\r\n"
                    width = 0
                }
                out += token
                width += token.count
            }
        }
        return out
    }

    /// Header text: as it is when it is printable ASCII, else RFC 2047 `=?UTF-8?B?…?=` words of at most
    /// 75 characters, folded; CR, LF and other controls become spaces first.
    static func encodedText(_ text: String, prefix: Int) -> String {
        let clean = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) })
        if clean.unicodeScalars.allSatisfy({ $0.value < 0x7f }) && !clean.contains("=?") {
            return fold(clean, prefix: prefix)
        }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in clean {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// Folds ASCII header text at spaces so that lines stay within 78 characters where possible.
    static func fold(_ text: String, prefix: Int) -> String {
        guard prefix + text.count > 78 else { return text }
        var out = ""
        var width = prefix
        for (i, word) in text.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            if i > 0 {
                if width + 1 + word.count > 78 && width > 1 {
                    out += "\r\n "
                    width = 1
                } else {
                    out += " "
                    width += 1
                }
            }
            out += word
            width += word.count
        }
        return out
    }

    /// `"Name" <addr>` (quoted, or RFC 2047-encoded when not ASCII), or `<addr>`.
    static func mailbox(_ address: String, name: String?) -> String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        let clean = String(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) })
        if clean.unicodeScalars.allSatisfy({ $0.value < 0x7f }) {
            let quoted = clean.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(address)>"
        }
        return "\(encodedText(clean, prefix: 6)) <\(address)>"
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// Whether `address` is a plain ASCII mailbox `local@domain` we can put in `<…>` and `RCPT TO`.
    static func isAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, address.utf8.count <= 254 else { return false }
        let plain = address.unicodeScalars.allSatisfy { s in
            s.value > 0x20 && s.value < 0x7f && !"<>()[]\\,;:\"".unicodeScalars.contains(s)
        }
        return plain && (parts[1].contains(".") || parts[1] == "localhost")
    }
}

/// SMTP `DATA` framing: a message's lines dot-stuffed (RFC 5321 §4.5.2) and ended with `CRLF.CRLF`.
enum SMTPData {
    static func framed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 64)
        var lineStart = true
        for byte in message {
            if lineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            lineStart = byte == 10
        }
        if !(out.count >= 2 && out[out.count - 2] == 13 && out[out.count - 1] == 10) { out += [13, 10] }
        out += Array(".\r\n".utf8)
        return out
    }
}
