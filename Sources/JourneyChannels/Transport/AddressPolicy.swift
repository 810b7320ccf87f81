import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Which destination addresses an HTTP channel may reach. Unless a channel sets `allow_private: true`,
/// webhooks and robots may only reach publicly routable addresses: never loopback, private (RFC 1918),
/// carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), unique-local or multicast ones, and
/// not through IPv4-mapped, NAT64 or 6to4 IPv6 spellings of those either.
///
/// The check runs twice: on every address the host name resolves to before a request is sent, and on the
/// address a new connection actually reached (so a DNS answer that changes in between — rebinding —
/// cannot slip a private address through).
enum AddressPolicy {
    /// Why `address` is not public, or nil when it is.
    static func refusal(for address: SocketAddress) -> String? {
        if case .unixDomainSocket = address { return "a Unix socket" }
        guard let ip = address.ipAddress else { return "an address without an IP" }
        return refusal(ip: ip)
    }

    /// Why the IP address written `ip` is not public, or nil when it is.
    static func refusal(ip: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return refusal(ipv4: withUnsafeBytes(of: &v4) { Array($0) }) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 { return refusal(ipv6: withUnsafeBytes(of: &v6) { Array($0) }) }
        return "\(ip) is not an IP address"
    }

    static func refusal(ipv4 b: [UInt8]) -> String? {
        precondition(b.count == 4)
        let shown = b.map(String.init).joined(separator: ".")
        func within(_ prefix: [UInt8], _ bits: Int) -> Bool {
            var remaining = bits
            for (i, p) in prefix.enumerated() {
                let take = min(8, remaining)
                if take <= 0 { break }
                let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
                if b[i] & mask != p & mask { return false }
                remaining -= 8
            }
            return true
        }
        let ranges: [([UInt8], Int, String)] = [
            ([0, 0, 0, 0], 8, "a \"this network\" address (0.0.0.0/8)"),
            ([10, 0, 0, 0], 8, "a private address (10.0.0.0/8)"),
            ([100, 64, 0, 0], 10, "a carrier-grade NAT address (100.64.0.0/10)"),
            ([127, 0, 0, 0], 8, "a loopback address"),
            ([169, 254, 0, 0], 16, "a link-local address (169.254.0.0/16, cloud metadata)"),
            ([172, 16, 0, 0], 12, "a private address (172.16.0.0/12)"),
            ([192, 0, 0, 0], 24, "an IETF protocol address (192.0.0.0/24)"),
            ([192, 0, 2, 0], 24, "a documentation address"),
            ([192, 168, 0, 0], 16, "a private address (192.168.0.0/16)"),
            ([198, 18, 0, 0], 15, "a benchmarking address (198.18.0.0/15)"),
            ([198, 51, 100, 0], 24, "a documentation address"),
            ([203, 0, 113, 0], 24, "a documentation address"),
            ([224, 0, 0, 0], 4, "a multicast address"),
            ([240, 0, 0, 0], 4, "a reserved address (240.0.0.0/4)"),
        ]
        for (prefix, bits, what) in ranges where within(prefix, bits) { return "\(shown) is \(what)" }
        return nil
    }

    static func refusal(ipv6 b: [UInt8]) -> String? {
        precondition(b.count == 16)
        let shown = stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
        let zeroPrefix = b[0..<10].allSatisfy { $0 == 0 }
        if b.allSatisfy({ $0 == 0 }) { return "\(shown) is the unspecified address" }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return "\(shown) is a loopback address" }
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d: judge the IPv4 address.
        if zeroPrefix && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)) {
            return refusal(ipv4: Array(b[12..<16])).map { "\(shown) maps to \($0)" }
        }
        // NAT64 64:ff9b::/96 and 6to4 2002::/16 embed an IPv4 address too.
        if b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..<12].allSatisfy({ $0 == 0 }) {
            return refusal(ipv4: Array(b[12..<16])).map { "\(shown) translates to \($0)" }
        }
        if b[0] == 0x20 && b[1] == 0x02 {
            return refusal(ipv4: Array(b[2..<6])).map { "\(shown) tunnels to \($0)" }
        }
        if b[0] & 0xfe == 0xfc { return "\(shown) is a unique-local address (fc00::/7)" }
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return "\(shown) is a link-local address (fe80::/10)" }
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return "\(shown) is a site-local address (fec0::/10)" }
        if b[0] == 0xff { return "\(shown) is a multicast address" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return "\(shown) is a documentation address" }
        if b[0] == 0x01 && b[1..<8].allSatisfy({ $0 == 0 }) { return "\(shown) is a discard address (100::/64)" }
        return nil
    }

    /// Every address `host` resolves to (getaddrinfo, on NIO's thread pool).
    static func resolve(host: String, port: Int) async throws -> [SocketAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var result: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &result)
            guard status == 0, let first = result else {
                throw ResolutionError(host: host, message: String(cString: gai_strerror(status)))
            }
            defer { freeaddrinfo(first) }
            var addresses: [SocketAddress] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor {
                if let sockaddr = info.pointee.ai_addr {
                    switch info.pointee.ai_family {
                    case AF_INET:
                        let v4 = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                        addresses.append(SocketAddress(v4, host: host))
                    case AF_INET6:
                        let v6 = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                        addresses.append(SocketAddress(v6, host: host))
                    default:
                        break
                    }
                }
                cursor = info.pointee.ai_next
            }
            guard !addresses.isEmpty else { throw ResolutionError(host: host, message: "no addresses") }
            return addresses
        }
    }

    struct ResolutionError: Error, CustomStringConvertible {
        var host: String
        var message: String
        var description: String { "cannot resolve \(host): \(message)" }
    }

    /// Thrown from a connection that reached a refused address.
    struct RefusedAddress: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}
