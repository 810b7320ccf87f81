import Foundation
import NIOCore

/// One SMTP reply: a code and its text lines (`250-…` continuation lines joined).
struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    var code: Int
    var lines: [String]
    /// Whether more bytes had arrived after this reply when it was decoded. After `STARTTLS`'s 220 that
    /// is an attack (plaintext injected before the TLS handshake), and the session is dropped.
    var trailingBytes: Bool

    var text: String { lines.joined(separator: " ") }

    /// `451 4.3.0 try again later`, trimmed to 200 characters.
    var description: String {
        let text = text.trimmingCharacters(in: .whitespaces)
        let shown = text.count > 200 ? String(text.prefix(200)) + "…" : text
        return shown.isEmpty ? "\(code)" : "\(code) \(shown)"
    }
}

struct SMTPProtocolError: Error, CustomStringConvertible {
    var description: String
}

/// Frames SMTP replies: lines `NNN-text` continue a reply, `NNN text` (or `NNN`) ends it.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    static let maximumLineLength = 4096
    static let maximumLines = 200

    private var pending: [String] = []
    private var pendingCode: Int?

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maximumLineLength { throw SMTPProtocolError(description: "reply line longer than \(Self.maximumLineLength) bytes") }
            return .needMoreData
        }
        var line = buffer.readString(length: newline - buffer.readerIndex + 1)!
        line.removeLast()  // \n
        if line.hasSuffix("\r") { line.removeLast() }
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, bytes[0..<3].allSatisfy({ $0 >= 48 && $0 <= 57 }),
            bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-")
        else {
            throw SMTPProtocolError(description: "malformed reply line")
        }
        let code = Int(String(decoding: bytes[0..<3], as: UTF8.self))!
        if let pendingCode, pendingCode != code { throw SMTPProtocolError(description: "reply codes change within a reply") }
        pendingCode = code
        pending.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        guard pending.count <= Self.maximumLines else { throw SMTPProtocolError(description: "reply of more than \(Self.maximumLines) lines") }
        if bytes.count > 3 && bytes[3] == UInt8(ascii: "-") { return .continue }
        let reply = SMTPReply(code: code, lines: pending, trailingBytes: buffer.readableBytes > 0)
        pending = []
        pendingCode = nil
        context.fireChannelRead(wrapInboundOut(reply))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
