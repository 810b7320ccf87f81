extension JSONScanner {
    /// Reads the number at `i` (RFC 8259 grammar: no leading zeros, no `+`, no bare `.`, no NaN/Infinity).
    ///
    /// Up to 19 significant digits with a decimal exponent within ±22 and a mantissa below 2^53 convert
    /// exactly with one multiplication or division (Clinger's fast path), which covers what analytics
    /// payloads carry (prices, quantities, ids). Everything else goes to the C library's correctly rounded
    /// `strtod` (through `Double.init?(_: String)`, which is locale-independent).
    /// `isInteger` is whether the text had neither a fraction nor an exponent.
    @inline(__always)
    mutating func parseNumber() throws(ScanError) -> (value: Double, isInteger: Bool) {
        let start = i
        var negative = false
        if p[i] == UInt8(ascii: "-") {
            negative = true
            i &+= 1
            guard i < n else { throw endOfInput() }
        }
        var mantissa: UInt64 = 0
        var digits = 0
        let first = p[i] &- UInt8(ascii: "0")
        guard first < 10 else {
            throw unexpected(expecting: "a digit after '-'")
        }
        if first == 0 {
            i &+= 1
            if i < n && p[i] &- UInt8(ascii: "0") < 10 {
                throw ScanError(offset: start, reason: "leading zeros are not allowed in numbers")
            }
        } else {
            while i < n {
                let d = p[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits &+= 1
                i &+= 1
            }
        }
        var exponent = 0
        var isInteger = true
        if i < n && p[i] == UInt8(ascii: ".") {
            isInteger = false
            i &+= 1
            guard i < n else { throw endOfInput() }
            guard p[i] &- UInt8(ascii: "0") < 10 else { throw unexpected(expecting: "a digit after '.'") }
            while i < n {
                let d = p[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                if mantissa != 0 || d != 0 {  // leading zeros of a fraction are not significant
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    digits &+= 1
                }
                exponent &-= 1
                i &+= 1
            }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            isInteger = false
            i &+= 1
            guard i < n else { throw endOfInput() }
            var exponentNegative = false
            if p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+") {
                exponentNegative = p[i] == UInt8(ascii: "-")
                i &+= 1
                guard i < n else { throw endOfInput() }
            }
            guard p[i] &- UInt8(ascii: "0") < 10 else { throw unexpected(expecting: "a digit in the exponent") }
            var e = 0
            while i < n {
                let d = p[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                if e < 1_000_000 { e = e &* 10 &+ Int(d) }
                i &+= 1
            }
            exponent &+= exponentNegative ? -e : e
        }
        if digits <= 19 {
            if mantissa == 0 { return (negative ? -0.0 : 0.0, isInteger) }
            if mantissa <= 1 << 53 && exponent >= -22 && exponent <= 22 {
                var value = Double(mantissa)
                if exponent < 0 {
                    value /= Self.powerOfTen(-exponent)
                } else if exponent > 0 {
                    value *= Self.powerOfTen(exponent)
                }
                return (negative ? -value : value, isInteger)
            }
        }
        return (try slowNumber(from: start), isInteger)
    }

    @inline(never)
    private func slowNumber(from start: Int) throws(ScanError) -> Double {
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw ScanError(offset: start, reason: "number out of range")
        }
        return value
    }

    /// 10^k for 0 ≤ k ≤ 22, all exactly representable (the switch compiles to a table lookup).
    @inline(__always)
    static func powerOfTen(_ k: Int) -> Double {
        switch k {
        case 0: return 1e0
        case 1: return 1e1
        case 2: return 1e2
        case 3: return 1e3
        case 4: return 1e4
        case 5: return 1e5
        case 6: return 1e6
        case 7: return 1e7
        case 8: return 1e8
        case 9: return 1e9
        case 10: return 1e10
        case 11: return 1e11
        case 12: return 1e12
        case 13: return 1e13
        case 14: return 1e14
        case 15: return 1e15
        case 16: return 1e16
        case 17: return 1e17
        case 18: return 1e18
        case 19: return 1e19
        case 20: return 1e20
        case 21: return 1e21
        default: return 1e22
        }
    }
}
