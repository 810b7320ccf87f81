import Foundation
import Glibc
import JourneySources

/// The daemon's control socket: a Unix stream socket where `journeyd reload` (and `status`) ask the
/// running daemon to act and wait for the outcome. One request line per connection; the answer is one
/// JSON object on one line, then the daemon closes the connection.
///
/// Requests: `reload` → `{"ok":true,"message":"…"}` or `{"ok":false,"errors":["file:line:col: …", …]}`;
/// `status` → `{"ok":true,"events":…,…}`.
final class ControlSocket: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        do {
            fd = try Listener.unix(path, what: "control socket", backlog: 16, mode: 0o600).fd
        } catch {
            throw DaemonError(error.description, configuration: error.isConfiguration)
        }
    }

    /// Waits up to `milliseconds` for a connection, then serves every one waiting.
    func waitAndServe(milliseconds: Int32, _ answer: (String) -> String) {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, milliseconds)
        serve(answer)
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Serves every connection waiting now (never blocks when none is).
    func serve(_ answer: (String) -> String) {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else {
                // Out of descriptors: the socket stays readable, and polling it again at once would spin;
                // the request waits in the backlog a moment.
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { usleep(50_000) }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 256)
            while request.count < 4096, !request.contains(10) {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                request += buffer[0..<n]
            }
            let line = String(decoding: request.prefix { $0 != 10 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let response = Array((answer(line) + "\n").utf8)
            var written = 0
            while written < response.count {
                // MSG_NOSIGNAL: a client gone before its answer is a failed write, not a SIGPIPE.
                let n = response.withUnsafeBytes { send(client, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                written += n
            }
            close(client)
        }
    }

    /// The client side: sends `request` and returns the answer line.
    static func ask(_ request: String, at path: String, timeoutSeconds: Int = 120) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let connected: Int32
        do { connected = try withUnixAddress(path, what: "control socket") { connect(fd, $0, $1) } } catch {
            throw DaemonError(error.description)
        }
        guard connected == 0 else {
            throw DaemonError("cannot reach the daemon at \(path): \(String(cString: strerror(errno))) (is journeyd running?)")
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let message = Array((request + "\n").utf8)
        guard message.withUnsafeBytes({ send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }) == message.count else {
            throw DaemonError("cannot send to the daemon: \(String(cString: strerror(errno)))")
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 { throw DaemonError("no answer from the daemon: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}

/// Asks the daemon listening on `path` to do `request` (`reload`, `status`) and returns its answer.
public func askDaemon(_ request: String, controlSocket path: String) throws -> String {
    try ControlSocket.ask(request, at: path)
}
