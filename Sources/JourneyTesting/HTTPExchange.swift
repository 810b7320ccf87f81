import Foundation

/// One HTTP/1.1 exchange with a server on loopback, over a plain socket (`Connection: close`): the
/// bytes sent are exactly the ones given, so tests can send what no client library would (a broken
/// gzip body, a header a client never sets). Runs off the shared test threads.
public struct HTTPExchange: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: String

    /// Sends `method path` with `headers` and `body` to 127.0.0.1:`port` and returns the answer.
    /// `timeout`: seconds the answer may take (a request the server holds on purpose — an input that
    /// answers once the event is durable — needs more than the default on a loaded machine).
    public static func send(
        _ method: String, _ path: String, port: UInt16, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Int = 60
    ) async throws -> HTTPExchange {
        try await offThread {
            let fd = try connect(port: port, timeout: timeout)
            defer { close(fd) }
            return try parse(exchange(request(method, path, port: port, headers: headers, body: body), on: fd))
        }
    }

    /// The bytes of a request that asks the server to close the connection after answering.
    public static func request(_ method: String, _ path: String, port: UInt16, headers: [(String, String)] = [], body: [UInt8] = []) -> [UInt8] {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        return Array(request.utf8) + body
    }

    /// `Authorization: Basic` with `user` and an empty password, as Segment's clients send the write key.
    public static func basic(_ user: String) -> (String, String) {
        ("Authorization", "Basic " + Data("\(user):".utf8).base64EncodedString())
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A TCP connection to 127.0.0.1:`port` whose reads give up after `timeout` seconds.
    public static func connect(port: UInt16, timeout seconds: Int = 60) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): \(String(cString: strerror(error)))")
        }
        return fd
    }

    /// Writes `bytes` on the connection `fd` and reads the answer until the server closes it (or the
    /// read times out).
    public static func exchange(_ bytes: [UInt8], on fd: Int32) -> [UInt8] {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            guard n > 0 else { break }  // the server may answer (and close) before reading everything
            written += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return answer
    }

    /// An answer as read from the connection.
    public static func parse(_ raw: [UInt8]) throws -> HTTPExchange {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no HTTP answer: \(text.prefix(200))") }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line: \(head.first ?? "")") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPExchange(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
