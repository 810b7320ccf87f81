import Glibc

/// A listening stream socket: bound here (a Unix path or a TCP address) or handed over already
/// listening by the service manager (socket activation).
public struct Listener: Sendable {
    public let fd: Int32
    /// The path to remove when closing a Unix socket this process bound.
    public let unixPath: String?

    /// A socket handed over by socket activation: closed, never unlinked, by this process.
    public static func activated(_ fd: Int32) -> Listener { Listener(fd: fd, unixPath: nil) }

    /// Listens on a Unix socket at `path`, replacing a socket left by a previous run; `mode` (e.g. 0o600
    /// for the control socket) is set before anyone can connect. A socket another process still listens
    /// on is refused, not replaced: replacing it would leave that process listening on nothing, and its
    /// exit would unlink this one's path.
    ///
    /// The socket is bound under a temporary name beside `path`, made to listen, given its mode, and
    /// only then renamed to `path` (rename replaces a stale socket atomically). So the path appears when
    /// a connect to it succeeds: a client (or a test, or a script) that waits for the file to exist never
    /// meets a socket that is bound but not yet listening and refuses it — CI met that window once — nor
    /// one with a looser mode than asked. A path too long for a temporary name beside it is bound in place.
    public static func unix(
        _ path: String, what: String = "event socket", backlog: Int32 = 128, mode: mode_t? = nil
    ) throws(SourceError) -> Listener {
        let room = MemoryLayout.size(ofValue: sockaddr_un().sun_path)  // 108 bytes with the final NUL
        guard path.utf8.count < room else { throw SourceError("\(what) path too long (at most \(room - 1) bytes): \(path)", configuration: true) }
        if someoneListens(at: path) {
            throw SourceError(
                "\(what) \(path): another process listens on it (another journeyd?): stop it, or give this one another path",
                configuration: true)
        }
        let staging = path + ".~\(getpid())"
        let bindPath = staging.utf8.count < room ? staging : path
        unlink(bindPath)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SourceError("\(what) \(path): \(String(cString: strerror(errno)))", configuration: true) }
        func fail(_ step: String) -> SourceError {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            unlink(bindPath)
            return SourceError("\(what) \(path): \(step): \(reason)", configuration: true)
        }
        let bound = try withUnixAddress(bindPath, what: what) { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, backlog) == 0 else { throw fail("cannot listen") }
        if let mode, chmod(bindPath, mode) != 0 { throw fail("cannot set its mode") }
        if bindPath != path, rename(bindPath, path) != 0 { throw fail("cannot put it in place") }
        return Listener(fd: fd, unixPath: path)
    }

    /// Whether a process accepts connections on the Unix socket at `path` now (a connect succeeds, or
    /// finds its backlog full); a socket file nobody listens on refuses the connect.
    static func someoneListens(at path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        guard let (connected, error) = try? withUnixAddress(path, what: "", { (connect(fd, $0, $1), errno) }) else { return false }
        return connected == 0 || error == EAGAIN
    }

    /// A TCP listener on `host:port` (an IPv4 or IPv6 literal, or a name resolved once).
    public static func tcp(host: String, port: UInt16, what: String = "event socket") throws(SourceError) -> Listener {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            throw SourceError("\(what) \(host):\(port): cannot resolve: \(String(cString: gai_strerror(status)))", configuration: true)
        }
        defer { freeaddrinfo(found) }
        let info = first.pointee
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SourceError("\(what) \(host):\(port): \(String(cString: strerror(errno)))", configuration: true) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.ai_addr, info.ai_addrlen) == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw SourceError("\(what) \(host):\(port): cannot listen: \(reason)", configuration: true)
        }
        return Listener(fd: fd, unixPath: nil)
    }

    /// Closes it (and removes a Unix socket this process bound).
    public func close() {
        Glibc.close(fd)
        if let unixPath { unlink(unixPath) }
    }
}

/// Calls `body` with `path` as a `sockaddr_un` (for bind and connect).
public func withUnixAddress<R>(_ path: String, what: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SourceError) -> R {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        throw SourceError("\(what) path too long (at most 107 bytes): \(path)", configuration: true)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
