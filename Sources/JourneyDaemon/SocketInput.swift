import Foundation
import Glibc
import JourneyCore
import JourneyEvents

/// The stream-socket input: a Unix socket where producers write newline-delimited Segment JSON.
/// Each line is answered — `ok <messageId>` or `error <reason>` — only after the commit that covers it,
/// so a producer knows exactly what is durable, and can resend what was not answered.
final class SocketInput {
    /// The socket's path, or nil when the service manager bound it (socket activation).
    let path: String?
    let listener: Int32
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

    init(path: String, maxLineBytes: Int) throws {
        self.path = path
        self.maxLineBytes = maxLineBytes
        unlink(path)
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard listener >= 0 else { throw DaemonError("event socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw DaemonError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw DaemonError("event socket \(path): \(reason)")
        }
    }

    /// Takes over a socket already bound and listening (handed over by systemd's socket activation).
    init(listeningDescriptor: Int32, maxLineBytes: Int) {
        path = nil
        listener = listeningDescriptor
        self.maxLineBytes = maxLineBytes
        _ = fcntl(listener, F_SETFD, FD_CLOEXEC)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        for client in clients { close(client.fd) }
        close(listener)
        if let path { unlink(path) }  // an activated socket belongs to the service manager
    }

    /// The descriptors to wait on.
    var descriptors: [Int32] { [listener] + clients.map(\.fd) }

    /// Accepts new producers and reads what they sent; returns complete lines, at most `limit`.
    func read(limit: Int) -> [Line] {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { break }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            clients.append(Client(fd: fd))
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
