import Foundation
import Glibc
import JourneyCore
import JourneyEvents

/// The stream-socket input: a Unix socket where producers write newline-delimited Segment JSON.
/// Each line is answered — `ok <messageId>` or `error <reason>` — only after the commit that covers it,
/// so a producer knows exactly what is durable, and can resend what was not answered.
final class SocketInput {
    let listeners: [Listener]
    private var clients: [Client] = []
    private let maxLineBytes: Int

    final class Client {
        let fd: Int32
        var buffer: [UInt8] = []
        var skippingOversizedLine = false
        var answers: [String] = []
        var closed = false
        init(fd: Int32) { self.fd = fd }
    }

    /// One complete line from a client, with where its answer goes.
    struct Line {
        let client: Client
        let bytes: [UInt8]
        let oversized: Bool
    }

    /// Listens on a Unix socket at `path` (replacing a socket left by a previous run).
    convenience init(path: String, maxLineBytes: Int) throws {
        self.init(listeners: [try Listener.unix(path)], maxLineBytes: maxLineBytes)
    }

    init(listeners: [Listener], maxLineBytes: Int) {
        self.listeners = listeners
        self.maxLineBytes = maxLineBytes
        for listener in listeners {
            _ = fcntl(listener.fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        for client in clients { close(client.fd) }
        for listener in listeners {
            close(listener.fd)
            if let path = listener.unixPath { unlink(path) }  // an activated socket belongs to the service manager
        }
    }

    /// The descriptors to wait on.
    var descriptors: [Int32] { listeners.map(\.fd) + clients.map(\.fd) }

    /// Accepts new producers and reads what they sent; returns complete lines, at most `limit`.
    func read(limit: Int) -> [Line] {
        for listener in listeners {
            while true {
                let fd = accept(listener.fd, nil, nil)
                guard fd >= 0 else { break }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                clients.append(Client(fd: fd))
            }
        }
        var lines: [Line] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        for client in clients where !client.closed {
            // Back-pressure: read no more from a producer than this batch can take.
            while lines.count < limit {
                if let newline = client.buffer.firstIndex(of: 10) {
                    var line = Array(client.buffer[..<newline])
                    client.buffer.removeSubrange(...newline)
                    if line.last == 13 { line.removeLast() }
                    if client.skippingOversizedLine {
                        client.skippingOversizedLine = false
                        continue
                    }
                    lines.append(Line(client: client, bytes: line, oversized: false))
                    continue
                }
                if client.buffer.count > maxLineBytes {
                    // Answer now (an error) and drop the rest of the line as it arrives.
                    if !client.skippingOversizedLine { lines.append(Line(client: client, bytes: [], oversized: true)) }
                    client.skippingOversizedLine = true
                    client.buffer.removeAll()
                }
                let n = Glibc.read(client.fd, &chunk, chunk.count)
                if n > 0 {
                    client.buffer += chunk[0..<n]
                } else {
                    if n == 0 { client.closed = true }  // the producer finished sending
                    break
                }
            }
        }
        return lines
    }

    /// Sends every pending answer (after the commit) and forgets producers that are done.
    func flushAnswers() {
        for client in clients where !client.answers.isEmpty {
            let bytes = Array((client.answers.joined(separator: "\n") + "\n").utf8)
            client.answers.removeAll(keepingCapacity: true)
            var written = 0
            var attempts = 0
            while written < bytes.count && attempts < 1000 {
                let n = bytes.withUnsafeBytes { write(client.fd, $0.baseAddress! + written, $0.count - written) }
                if n > 0 {
                    written += n
                } else if errno == EAGAIN {
                    attempts += 1
                    usleep(1000)
                } else {
                    client.closed = true
                    break
                }
            }
        }
        clients.removeAll { client in
            guard client.closed && client.answers.isEmpty && client.buffer.firstIndex(of: 10) == nil else { return false }
            close(client.fd)
            return true
        }
    }
}

/// A listening stream socket of the event input: bound here (a Unix path or a TCP address) or handed
/// over already listening by the service manager.
struct Listener {
    let fd: Int32
    /// The path to remove when closing a Unix socket this process bound.
    let unixPath: String?

    /// A socket handed over by socket activation: closed, never unlinked, by this process.
    static func activated(_ fd: Int32) -> Listener { Listener(fd: fd, unixPath: nil) }

    static func unix(_ path: String, what: String = "event socket", backlog: Int32 = 128) throws -> Listener {
        unlink(path)  // a socket left by a previous run
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("\(what) \(path): \(String(cString: strerror(errno)))") }
        let bound = try withUnixAddress(path, what: what) { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("\(what) \(path): cannot listen: \(reason)")
        }
        return Listener(fd: fd, unixPath: path)
    }

    /// A TCP listener on `host:port` (an IPv4 or IPv6 literal, or a name resolved once).
    static func tcp(host: String, port: UInt16) throws -> Listener {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            throw DaemonError("event socket \(host):\(port): cannot resolve: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(found) }
        let info = first.pointee
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("event socket \(host):\(port): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.ai_addr, info.ai_addrlen) == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("event socket \(host):\(port): cannot listen: \(reason)")
        }
        return Listener(fd: fd, unixPath: nil)
    }
}

/// Calls `body` with `path` as a `sockaddr_un` (for bind and connect).
func withUnixAddress<R>(_ path: String, what: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws -> R {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        throw DaemonError("\(what) path too long (at most 107 bytes): \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
