extension JSONScanner {
    /// Reads the string whose opening quote is at `i`.
    @inline(__always)
    mutating func parseString() throws(ScanError) -> String {
        // Two statements on purpose: in `makeString(try scanString())` the (copied) scanner that
        // `makeString` reads would be taken before `scanString` fills the unescape buffer.
        let span = try scanString()
        return makeString(span)
    }

    @inline(__always)
    func makeString(_ s: StringSpan) -> String {
        if !s.escaped {
            if s.count <= 15 {
                return ShortStringCache.string(p + s.start, count: s.count, readable: n &- s.start, in: shortStrings)
            }
            return String(decoding: UnsafeBufferPointer(start: p + s.start, count: s.count), as: UTF8.self)
        }
        return String(decoding: unescaped.buffer, as: UTF8.self)
    }

    /// Calls `body` with the (decoded) bytes of `s`.
    @inline(__always)
    func withBytes<R>(_ s: StringSpan, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if !s.escaped { return body(UnsafeBufferPointer(start: p + s.start, count: s.count)) }
        return body(unescaped.buffer)
    }

    /// Validates the string whose opening quote is at `i` and moves past its closing quote.
    ///
    /// Eight bytes at a time, it looks for the first byte that needs attention: a quote, a backslash, a
    /// control character or a non-ASCII byte. Plain ASCII runs cost one load and a few ALU operations per
    /// eight bytes; non-ASCII is validated as UTF-8 in place; the first escape switches to decoding.
    @inline(__always)
    mutating func scanString() throws(ScanError) -> StringSpan {
        i &+= 1
        let start = i
        while true {
            if i &+ 8 <= n {
                let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
                let mask = Self.specialBytes(word)
                if mask == 0 {
                    i &+= 8
                    continue
                }
                i &+= mask.trailingZeroBitCount &>> 3
            } else if i >= n {
                throw endOfInput()
            }
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                let span = StringSpan(start: start, count: i &- start, escaped: false)
                i &+= 1
                return span
            }
            if c == UInt8(ascii: "\\") { return try scanEscapedString(start: start) }
            if c < 0x20 { throw controlCharacterInString() }
            if c >= 0x80 {
                try skipUTF8Sequence()
                continue
            }
            i &+= 1
        }
    }

    /// High bit set in each byte of `w` that is `"`, `\`, below 0x20 or above 0x7F. Only the lowest set
    /// bit is exact (borrows can mark bytes above a real hit), which is all the caller uses.
    @inline(__always)
    static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let quoteHit = (quote &- ones) & ~quote
        let backslashHit = (backslash &- ones) & ~backslash
        let controlHit = (w &- ones &* 0x20) & ~w
        return (quoteHit | backslashHit | controlHit | w) & high
    }

    func controlCharacterInString() -> ScanError {
        let c = p[i]
        if c == 0 { return ScanError(offset: i, reason: "NUL byte in a string") }
        let name = Diagnostics.codePoint(UInt32(c))
        return ScanError(offset: i, reason: "unescaped control character \(name) in a string")
    }

    /// The rest of a string that has escapes, decoded into ``unescaped``; `i` is at the first backslash.
    @inline(never)
    mutating func scanEscapedString(start: Int) throws(ScanError) -> StringSpan {
        unescaped.truncate(to: 0)
        unescaped.append(contentsOf: UnsafeBufferPointer(start: p + start, count: i - start))
        while true {
            let runStart = i
            while i < n {
                let c = p[i]
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                if c >= 0x80 { try skipUTF8Sequence() } else { i += 1 }
            }
            if i > runStart {
                unescaped.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: i - runStart))
            }
            guard i < n else { throw endOfInput() }
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return StringSpan(start: start, count: unescaped.count, escaped: true)
            }
            if c < 0x20 { throw controlCharacterInString() }
            try decodeEscape()
        }
    }

    /// Decodes the escape at `i` (a backslash) into ``unescaped``.
    private mutating func decodeEscape() throws(ScanError) {
        let escapeStart = i
        guard i + 1 < n else { throw endOfInput() }
        let c = p[i + 1]
        i += 2
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.push(c)
        case UInt8(ascii: "b"): unescaped.push(0x08)
        case UInt8(ascii: "f"): unescaped.push(0x0C)
        case UInt8(ascii: "n"): unescaped.push(0x0A)
        case UInt8(ascii: "r"): unescaped.push(0x0D)
        case UInt8(ascii: "t"): unescaped.push(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(escapeStart: escapeStart)
            if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw loneSurrogate(scalar, at: escapeStart)
            }
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                // A high surrogate must be followed by `\u` and a low one.
                guard i < n else { throw endOfInput() }
                guard p[i] == UInt8(ascii: "\\") else { throw loneSurrogate(scalar, at: escapeStart) }
                guard i + 1 < n else { throw endOfInput() }
                guard p[i + 1] == UInt8(ascii: "u") else { throw loneSurrogate(scalar, at: escapeStart) }
                let lowStart = i
                i += 2
                let low = try hex4(escapeStart: lowStart)
                guard low >= 0xDC00 && low <= 0xDFFF else { throw loneSurrogate(scalar, at: escapeStart) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            appendUTF8(scalar)
        default:
            i = escapeStart
            if c >= 0x80 || c < 0x20 {
                let what = describeByte(at: escapeStart + 1)
                throw ScanError(offset: escapeStart, reason: "invalid escape: backslash before \(what)")
            }
            throw ScanError(offset: escapeStart, reason: "invalid escape '\\\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func hex4(escapeStart: Int) throws(ScanError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard i < n else { throw endOfInput() }
            let c = p[i]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw ScanError(offset: escapeStart, reason: "invalid \\u escape (expected 4 hex digits)")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }

    private func loneSurrogate(_ scalar: UInt32, at offset: Int) -> ScanError {
        ScanError(offset: offset, reason: "lone surrogate \\u\(Diagnostics.hex4(scalar)) in a string")
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            unescaped.push(UInt8(scalar))
        case 0x80..<0x800:
            unescaped.push(UInt8(0xC0 | scalar >> 6))
            unescaped.push(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            unescaped.push(UInt8(0xE0 | scalar >> 12))
            unescaped.push(UInt8(0x80 | scalar >> 6 & 0x3F))
            unescaped.push(UInt8(0x80 | scalar & 0x3F))
        default:
            unescaped.push(UInt8(0xF0 | scalar >> 18))
            unescaped.push(UInt8(0x80 | scalar >> 12 & 0x3F))
            unescaped.push(UInt8(0x80 | scalar >> 6 & 0x3F))
            unescaped.push(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: UTF-8

    /// Validates the multi-byte sequence at `i` and moves past it.
    @inline(__always)
    mutating func skipUTF8Sequence() throws(ScanError) {
        guard let length = utf8SequenceLength(at: i) else {
            throw ScanError(offset: i, reason: "invalid UTF-8")
        }
        i &+= length
    }

    /// Length of the well-formed UTF-8 sequence starting with the non-ASCII byte at `offset` (Unicode
    /// Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), or `nil`.
    func utf8SequenceLength(at offset: Int) -> Int? {
        let lead = p[offset]
        let available = n - offset
        @inline(__always) func byte(_ k: Int, in range: ClosedRange<UInt8>) -> Bool {
            k < available && range.contains(p[offset + k])
        }
        switch lead {
        case 0xC2...0xDF:
            return byte(1, in: 0x80...0xBF) ? 2 : nil
        case 0xE0:
            return byte(1, in: 0xA0...0xBF) && byte(2, in: 0x80...0xBF) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return byte(1, in: 0x80...0xBF) && byte(2, in: 0x80...0xBF) ? 3 : nil
        case 0xED:
            return byte(1, in: 0x80...0x9F) && byte(2, in: 0x80...0xBF) ? 3 : nil
        case 0xF0:
            return byte(1, in: 0x90...0xBF) && byte(2, in: 0x80...0xBF) && byte(3, in: 0x80...0xBF) ? 4 : nil
        case 0xF1...0xF3:
            return byte(1, in: 0x80...0xBF) && byte(2, in: 0x80...0xBF) && byte(3, in: 0x80...0xBF) ? 4 : nil
        case 0xF4:
            return byte(1, in: 0x80...0x8F) && byte(2, in: 0x80...0xBF) && byte(3, in: 0x80...0xBF) ? 4 : nil
        default:
            return nil
        }
    }
}
