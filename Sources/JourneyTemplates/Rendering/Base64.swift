/// Base64 (RFC 4648) for the `base64_*` filters: the standard alphabet, or the URL-safe one (`-_`);
/// both with `=` padding, as Liquid writes them.
enum Base64 {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8], urlSafe: Bool) -> String {
        let alphabet = urlSafe ? Self.urlSafe : standard
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let a = UInt32(bytes[i])
            let b = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let c = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = a << 16 | b << 8 | c
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil when it is not base64 of that alphabet (padding optional).
    static func decode(_ text: String, urlSafe: Bool) -> [UInt8]? {
        let alphabet = urlSafe ? Self.urlSafe : standard
        var values = [UInt8](repeating: 255, count: 256)
        for (index, byte) in alphabet.enumerated() { values[Int(byte)] = UInt8(index) }
        var sextets: [UInt8] = []
        var padding = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0, values[Int(byte)] != 255 else { return nil }
            sextets.append(values[Int(byte)])
        }
        guard sextets.count % 4 != 1, padding <= 2 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < sextets.count {
            let chunk = sextets[i..<min(i + 4, sextets.count)]
            var n: UInt32 = 0
            for (k, v) in chunk.enumerated() { n |= UInt32(v) << (18 - 6 * UInt32(k)) }
            out.append(UInt8(n >> 16 & 255))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 255)) }
            if chunk.count > 3 { out.append(UInt8(n & 255)) }
            i += 4
        }
        return out
    }
}
