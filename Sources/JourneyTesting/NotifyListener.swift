import Foundation
import Glibc

/// Datagrams from the notify socket, with the CLOCK_MONOTONIC µs at which each arrived. A thread of its
/// own blocks in `recv(2)` and stamps each datagram as it arrives (so gaps between watchdog pings are
/// measured exactly); the test awaits them without holding a shared thread.
public final class NotifyListener: @unchecked Sendable {
    public let fd: Int32
    private let lock = NSLock()
    private var datagrams: [(at: UInt64, text: String)] = []
    private var consumed = 0
    private var closed = false

    public init(fd: Int32) {
        self.fd = fd
        setReceiveTimeout(fd, milliseconds: 100)
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !lock.withLock({ closed }) {
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { continue }
                let datagram = (monotonicMicroseconds(), String(decoding: buffer[0..<n], as: UTF8.self))
                lock.withLock { datagrams.append(datagram) }
            }
            Glibc.close(fd)
        }
        thread.start()
    }

    /// Stops the reader, which closes the socket.
    public func close() { lock.withLock { closed = true } }

    /// Everything received and looked at so far.
    public var received: [(at: UInt64, text: String)] { lock.withLock { Array(datagrams[..<consumed]) } }

    /// Looks at datagrams as they arrive until `predicate` holds for one (returned) or `seconds` pass (nil).
    public func next(within seconds: Double, where predicate: (String) -> Bool) async -> String? {
        let deadline = monotonicMicroseconds() + UInt64(seconds * 1e6)
        while monotonicMicroseconds() < deadline {
            while let datagram = lock.withLock({ consumed < datagrams.count ? datagrams[consumed] : nil }) {
                lock.withLock { consumed += 1 }
                if predicate(datagram.text) { return datagram.text }
            }
            await pause(.milliseconds(5))
        }
        return nil
    }
}

/// Binds a Unix socket (datagram for the notify socket, stream for clients) at `path`.
public func unixSocket(_ type: Int32, path: String) -> Int32 {
    let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    withSockaddr(path) { bind(fd, $0, $1) }
    return fd
}

/// Calls `body` with a `sockaddr_un` for `path` (an abstract socket when it starts with a NUL byte).
@discardableResult
public func withSockaddr(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// `SO_RCVTIMEO`: a blocking `recv(2)` on `fd` returns after this long without data.
public func setReceiveTimeout(_ fd: Int32, milliseconds: Int) {
    var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
}

/// CLOCK_MONOTONIC in microseconds (the clock of systemd's `MONOTONIC_USEC=` and the watchdog).
public func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}
