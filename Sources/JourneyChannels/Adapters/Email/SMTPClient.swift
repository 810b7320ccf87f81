import Foundation
import JourneyCore
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// How an SMTP session uses TLS.
public enum SMTPSecurity: String, Sendable {
    /// STARTTLS when the server offers it, else plaintext (never AUTH over plaintext).
    case starttls
    /// STARTTLS, and no message unless the server offers it.
    case required
    /// TLS from the first byte (port 465, "SMTPS").
    case implicit
    /// Plaintext only.
    case none
}

/// An SMTP client session on SwiftNIO for one message: EHLO, STARTTLS (a TLS handler inserted into the
/// live pipeline), EHLO again, AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT.
/// Each step's reply is classified into a ``DeliveryResult`` by where it came.
struct SMTPClient: Sendable {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var security: SMTPSecurity
        var tls: NIOSSLContext?
        var serverName: String?
        var username: String?
        var password: Secret?
        var mechanism: String?  // "PLAIN", "LOGIN" or nil for the best offered
        var heloName: String
        var connectTimeout: TimeSpan
        var timeout: TimeSpan
    }

    /// Where in the session a reply came; decides how a failure reads.
    enum Stage: String {
        case greeting, ehlo, starttls, auth, mailFrom = "MAIL FROM", rcptTo = "RCPT TO", data = "DATA", dataEnd = "end of DATA"
    }

    /// A session that ended early, with its classification.
    struct Stop: Error {
        var result: DeliveryResult
    }

    /// What a finished session tells about the message.
    struct Receipt: Sendable {
        var reply: SMTPReply
        var usedTLS: Bool
    }

    let settings: Settings

    /// Sends one message to one recipient. Cancellation closes the connection at once.
    func send(from: String, to: String, message: [UInt8]) async -> DeliveryResult {
        let timedOut = Flag()
        let tlsFailure = Note()
        do {
            let channel = try await connect(tlsFailure)
            let timer = channel.channel.eventLoop.scheduleTask(in: .milliseconds(settings.timeout.milliseconds)) {
                timedOut.set()
                channel.channel.close(promise: nil)
            }
            defer { timer.cancel() }
            let receipt = try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, outbound in
                    var session = Session(replies: inbound.makeAsyncIterator(), writer: outbound, channel: channel.channel, tlsFailure: tlsFailure)
                    return try await run(&session, from: from, to: to, message: message)
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
            return .sent(providerMessageID: Self.queueID(receipt.reply))
        } catch let stop as Stop {
            return stop.result
        } catch {
            if Task.isCancelled { return .retry(after: nil, reason: "cancelled") }
            if timedOut.isSet { return AttemptOutcome.timeout.classification }
            // A failed handshake closes the channel; what we see first may be that closure, so the TLS
            // error is taken from where it happened.
            if let tls = tlsFailure.value { return AttemptOutcome.tlsFailure(tls).classification }
            if let error = error as? SMTPProtocolError { return .retry(after: nil, reason: "SMTP protocol error: \(error)") }
            return HTTPTransport.outcome(of: error).classification
        }
    }

    private func connect(_ tlsFailure: Note) async throws -> NIOAsyncChannel<SMTPReply, ByteBuffer> {
        let implicitTLS = settings.security == .implicit ? settings.tls : nil
        let serverName = settings.serverName
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(settings.connectTimeout.milliseconds))
            .connect(host: settings.host, port: settings.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: implicitTLS, serverHostname: serverName))
                        let done = channel.eventLoop.makePromise(of: Void.self)
                        do {
                            try channel.pipeline.syncOperations.addHandler(TLSWatcher(done: done, failure: tlsFailure))
                        } catch {
                            done.fail(error)
                            throw error
                        }
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    private func run(_ session: inout Session, from: String, to: String, message: [UInt8]) async throws -> Receipt {
        var usedTLS = settings.security == .implicit
        try expect(try await session.read(), 220, .greeting)
        var extensions = try await hello(&session)

        if !usedTLS && settings.security != .none {
            if extensions["STARTTLS"] != nil {
                let reply = try await session.command("STARTTLS")
                try expect(reply, 220, .starttls)
                guard !reply.trailingBytes else {
                    throw Stop(result: .retry(after: nil, reason: "the server sent data after its STARTTLS reply (possible injection); connection dropped"))
                }
                try await session.startTLS(context: settings.tls!, serverName: settings.serverName)
                usedTLS = true
                extensions = try await hello(&session)
            } else if settings.security == .required {
                throw Stop(result: .disable(reason: "the SMTP server does not offer STARTTLS and tls is required"))
            }
        }

        if let username = settings.username, let password = settings.password {
            guard usedTLS else {
                throw Stop(result: .disable(reason: "the SMTP server offers no TLS; credentials are never sent in plaintext"))
            }
            try await authenticate(&session, username: username, password: password, offered: extensions["AUTH"] ?? "")
        }

        try expect(try await session.command("MAIL FROM:<\(from)>"), 250, .mailFrom)
        let rcpt = try await session.command("RCPT TO:<\(to)>")
        guard rcpt.code == 250 || rcpt.code == 251 else { throw Stop(result: Self.classify(rcpt, .rcptTo)) }
        try expect(try await session.command("DATA"), 354, .data)
        let done = try await session.send(SMTPData.framed(message))
        try expect(done, 250, .dataEnd)
        // The message is accepted; QUIT is a courtesy whose answer we do not wait for (a server slow to
        // answer it must not hold a delivered touch until the session times out).
        try? await session.writer.write(ByteBuffer(string: "QUIT\r\n"))
        return Receipt(reply: done, usedTLS: usedTLS)
    }

    /// EHLO (or HELO for servers without ESMTP); the extensions offered, by keyword.
    private func hello(_ session: inout Session) async throws -> [String: String] {
        let reply = try await session.command("EHLO \(settings.heloName)")
        if reply.code == 250 {
            var extensions: [String: String] = [:]
            for line in reply.lines.dropFirst() {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard let keyword = parts.first else { continue }
                extensions[keyword.uppercased()] = parts.count > 1 ? String(parts[1]).uppercased() : ""
            }
            return extensions
        }
        guard (500..<600).contains(reply.code) else { throw Stop(result: Self.classify(reply, .ehlo)) }
        try expect(try await session.command("HELO \(settings.heloName)"), 250, .ehlo)
        return [:]
    }

    private func authenticate(_ session: inout Session, username: String, password: Secret, offered: String) async throws {
        let mechanisms = Set(offered.split(separator: " ").map(String.init))
        let mechanism = settings.mechanism ?? (mechanisms.contains("PLAIN") ? "PLAIN" : mechanisms.contains("LOGIN") ? "LOGIN" : nil)
        guard let mechanism, mechanisms.contains(mechanism) else {
            let what = offered.isEmpty ? "no AUTH mechanism" : "AUTH \(offered)"
            throw Stop(result: .disable(reason: "the SMTP server offers \(what); journeyd speaks PLAIN and LOGIN"))
        }
        if mechanism == "PLAIN" {
            let token = Data("\0\(username)\0\(password.reveal)".utf8).base64EncodedString()
            try expect(try await session.command("AUTH PLAIN \(token)", secret: true), 235, .auth)
        } else {
            try expect(try await session.command("AUTH LOGIN"), 334, .auth)
            try expect(try await session.command(Data(username.utf8).base64EncodedString()), 334, .auth)
            try expect(try await session.command(Data(password.reveal.utf8).base64EncodedString(), secret: true), 235, .auth)
        }
    }

    private func expect(_ reply: SMTPReply, _ code: Int, _ stage: Stage) throws {
        guard reply.code == code else { throw Stop(result: Self.classify(reply, stage)) }
    }

    /// What a reply other than the expected one means at `stage`.
    static func classify(_ reply: SMTPReply, _ stage: Stage) -> DeliveryResult {
        let reason = "SMTP \(stage.rawValue): \(reply)"
        switch reply.code {
        case 421, 400..<500:
            return .retry(after: nil, reason: reason)
        case 500..<600:
            switch stage {
            case .greeting, .ehlo: return .retry(after: nil, reason: reason)
            case .starttls, .auth: return .disable(reason: reason)
            case .mailFrom: return reply.code == 552 ? .deadLetter(reason: reason) : .disable(reason: reason)
            case .rcptTo, .data, .dataEnd: return .deadLetter(reason: reason)
            }
        default:
            return .retry(after: nil, reason: "\(reason) (unexpected)")
        }
    }

    /// The id in `250 2.0.0 Ok: queued as 4FZ9xJ1abc`, if the server gave one.
    static func queueID(_ reply: SMTPReply) -> String? {
        let text = reply.text
        guard let range = text.range(of: "queued as ", options: .caseInsensitive) else { return nil }
        let id = text[range.upperBound...].prefix { !$0.isWhitespace && $0 != ">" }
        return id.isEmpty ? nil : String(id.prefix(100))
    }

    /// The command/reply exchange over the async channel.
    struct Session {
        var replies: NIOAsyncChannelInboundStream<SMTPReply>.AsyncIterator
        let writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
        let channel: any Channel
        let tlsFailure: Note

        mutating func read() async throws -> SMTPReply {
            guard let reply = try await replies.next() else {
                throw ChannelError.eof
            }
            return reply
        }

        /// Sends one command line and reads its reply. `secret` only documents that the line must never
        /// be logged (nothing here logs).
        mutating func command(_ line: String, secret: Bool = false) async throws -> SMTPReply {
            try await writer.write(ByteBuffer(string: line + "\r\n"))
            return try await read()
        }

        mutating func send(_ bytes: [UInt8]) async throws -> SMTPReply {
            try await writer.write(ByteBuffer(bytes: bytes))
            return try await read()
        }

        /// Inserts TLS in front of everything in the live pipeline and waits for the handshake.
        func startTLS(context: NIOSSLContext, serverName: String?) async throws {
            let channel = self.channel
            let tlsFailure = self.tlsFailure
            let handshake = try await channel.eventLoop.submit {
                let done = channel.eventLoop.makePromise(of: Void.self)
                do {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(handler, position: .first)
                    try channel.pipeline.syncOperations.addHandler(TLSWatcher(done: done, failure: tlsFailure), position: .after(handler))
                } catch {
                    done.fail(error)  // the watcher is not in the pipeline: nothing else completes it
                    throw error
                }
                return done.futureResult
            }.get()
            try await handshake.get()
        }
    }
}

/// Sits right behind the TLS handler: completes `done` when the handshake does, and notes the TLS
/// error if it fails (the async side may only see the channel closing).
final class TLSWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let done: EventLoopPromise<Void>
    let failure: Note
    private var completed = false

    init(done: EventLoopPromise<Void>, failure: Note) {
        self.done = done
        self.failure = failure
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent, !completed {
            completed = true
            done.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            failure.set("\(error)")
        }
        if !completed {
            completed = true
            done.fail(error)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !completed {
            completed = true
            done.fail(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !completed {
            completed = true
            done.fail(ChannelError.ioOnClosedChannel)
        }
    }
}

/// A text noted once, from any thread.
final class Note: Sendable {
    private let text = Mutex<String?>(nil)
    func set(_ value: String) { text.withLock { if $0 == nil { $0 = value } } }
    var value: String? { text.withLock { $0 } }
}

/// A flag set once, from any thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
