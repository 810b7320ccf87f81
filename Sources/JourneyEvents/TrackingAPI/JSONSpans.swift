#if canImport(Glibc)
import Glibc
#endif

/// Finds where the members of a JSON object and the elements of a JSON array begin and end, without
/// building values: enough to cut a Tracking API body into events and to splice members into them,
/// keeping every value's bytes as the client sent them. Values are checked for well-formed structure
/// (strings, numbers, literals, nesting); what an event's members mean is the event parser's job.
struct JSONSpans {
    /// Why a body is not JSON: the byte offset in the scanned bytes and what was wrong there.
    struct Problem: Error, Equatable {
        var offset: Int
        var reason: String
    }

    /// The member names the Tracking API body is read for; any other key is `other` (no key is decoded
    /// into a `String`: a body's hundreds of keys are matched as bytes).
    enum Name: Equatable {
        case type, writeKey, receivedAt, sentAt, context, batch, other

        /// The name of the key between `range` (without its quotes); a key with escapes keeps them, so it
        /// never matches one of the names.
        init(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
            func equals(_ text: StaticString) -> Bool {
                text.utf8CodeUnitCount == range.count && memcmp(bytes.baseAddress! + range.lowerBound, text.utf8Start, range.count) == 0
            }
            switch range.count {
            case 4: self = equals("type") ? .type : .other
            case 5: self = equals("batch") ? .batch : .other
            case 6: self = equals("sentAt") ? .sentAt : .other
            case 7: self = equals("context") ? .context : .other
            case 8: self = equals("writeKey") ? .writeKey : .other
            case 10: self = equals("receivedAt") ? .receivedAt : .other
            default: self = .other
            }
        }

        /// The key as written in JSON, with its quotes.
        var quoted: String {
            switch self {
            case .type: #""type""#
            case .writeKey: #""writeKey""#
            case .receivedAt: #""receivedAt""#
            case .sentAt: #""sentAt""#
            case .context: #""context""#
            case .batch: #""batch""#
            case .other: #""""#
            }
        }
    }

    /// One member of an object: which of the ``Name``s its key is, the bytes of the key with its quotes,
    /// and the bytes of its value.
    struct Member {
        var name: Name
        var keyRange: Range<Int>
        var valueRange: Range<Int>
    }

    let bytes: [UInt8]
    let maxDepth: Int
    private(set) var position: Int

    init(_ bytes: [UInt8], maxDepth: Int = 64) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.position = 0
    }

    // MARK: - The top level

    /// The members of the object that is the whole input (surrounding white space allowed).
    mutating func topLevelObject(
        scanValue: (inout JSONSpans, Name) throws(Problem) -> Void = { (scanner: inout JSONSpans, _: Name) throws(Problem) in
            try scanner.value(depth: 2)
        }
    ) throws(Problem) -> [Member] {
        skipSpace()
        let members = try object(scanValue: scanValue)
        try end()
        return members
    }

    /// The members of the object starting at the current position; `scanValue` scans each member's
    /// value (it is handed the key and must leave the position at the value's end).
    mutating func object(
        scanValue: (inout JSONSpans, Name) throws(Problem) -> Void = { (scanner: inout JSONSpans, _: Name) throws(Problem) in
            try scanner.value(depth: 2)
        }
    ) throws(Problem) -> [Member] {
        try expect(UInt8(ascii: "{"), "expected an object")
        var members: [Member] = []
        members.reserveCapacity(16)
        skipSpace()
        if peek == UInt8(ascii: "}") {
            position += 1
            return members
        }
        while true {
            skipSpace()
            let keyStart = position
            guard peek == UInt8(ascii: "\"") else { throw problem("expected a member name in quotes") }
            try skipString()
            let keyRange = keyStart..<position
            let key = bytes.withUnsafeBufferPointer { Name($0, (keyStart + 1)..<(position - 1)) }
            skipSpace()
            try expect(UInt8(ascii: ":"), "expected `:` after the member name")
            skipSpace()
            let valueStart = position
            try scanValue(&self, key)
            members.append(Member(name: key, keyRange: keyRange, valueRange: valueStart..<position))
            skipSpace()
            if peek == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "}"), "expected `,` or `}` in an object")
            return members
        }
    }

    /// Steps over the object starting at the current position, checked as ``object(scanValue:)`` checks
    /// it, without collecting its members.
    mutating func skipObject() throws(Problem) {
        guard peek == UInt8(ascii: "{") else { throw problem(peek == nil ? "unexpected end of the body" : "expected an object") }
        try value(depth: 1)
    }

    /// The elements of the array starting at the current position, each handed to `element` with its
    /// index at its start; `element` scans it (and must leave the position at its end).
    mutating func array(_ element: (inout JSONSpans, Int) throws(Problem) -> Void) throws(Problem) {
        try expect(UInt8(ascii: "["), "expected an array")
        skipSpace()
        if peek == UInt8(ascii: "]") {
            position += 1
            return
        }
        var index = 0
        while true {
            skipSpace()
            try element(&self, index)
            index += 1
            skipSpace()
            if peek == UInt8(ascii: ",") {
                position += 1
                continue
            }
            try expect(UInt8(ascii: "]"), "expected `,` or `]` in an array")
            return
        }
    }

    mutating func skipSpace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Only white space may follow.
    mutating func end() throws(Problem) {
        skipSpace()
        if position < bytes.count { throw problem("unexpected bytes after the JSON value") }
    }

    // MARK: - Values

    /// Scans one value of any kind.
    mutating func value(depth: Int) throws(Problem) {
        guard depth <= maxDepth else { throw problem("nested deeper than \(maxDepth) levels") }
        guard let byte = peek else { throw problem("unexpected end of the body") }
        switch byte {
        case UInt8(ascii: "{"):
            position += 1
            skipSpace()
            if peek == UInt8(ascii: "}") {
                position += 1
                return
            }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw problem("expected a member name in quotes") }
                try skipString()
                skipSpace()
                try expect(UInt8(ascii: ":"), "expected `:` after the member name")
                skipSpace()
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect(UInt8(ascii: "}"), "expected `,` or `}` in an object")
                return
            }
        case UInt8(ascii: "["):
            position += 1
            skipSpace()
            if peek == UInt8(ascii: "]") {
                position += 1
                return
            }
            while true {
                skipSpace()
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect(UInt8(ascii: "]"), "expected `,` or `]` in an array")
                return
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw problem("expected a JSON value")
        }
    }

    /// Steps over a string (checking its escapes), leaving the position after its closing quote.
    mutating func skipString() throws(Problem) {
        position += 1  // the opening quote
        // The usual string has no escape: straight to the first byte that ends it or needs a look.
        let start = position
        position = bytes.withUnsafeBufferPointer { b in
            var i = start
            // Eight bytes at a time while none of them is `"`, `\` or a control character (the
            // has-less-than test of "Bit Twiddling Hacks": exact as to whether any byte matches).
            if let base = UnsafeRawPointer(b.baseAddress) {
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                while i &+ 8 <= b.count {
                    let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let quote = word ^ (ones &* 0x22)
                    let backslash = word ^ (ones &* 0x5C)
                    let found = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word)
                    if found & highs != 0 { break }
                    i &+= 8
                }
            }
            while i < b.count {
                let byte = b[i]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                i &+= 1
            }
            return i
        }
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return
            }
            if byte < 0x20 { throw problem("a control character inside a string") }
            if byte == UInt8(ascii: "\\") {
                position += 1
                guard let next = peek else { break }
                switch next {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 1
                case UInt8(ascii: "u"):
                    guard position + 4 < bytes.count, bytes[(position + 1)...(position + 4)].allSatisfy(Self.isHexDigit) else {
                        throw problem("a \\u escape needs four hex digits")
                    }
                    position += 5
                default: throw problem("an unknown escape in a string")
                }
                continue
            }
            position += 1
        }
        throw problem("a string that never ends")
    }

    private mutating func number() throws(Problem) {
        if peek == UInt8(ascii: "-") { position += 1 }
        guard let first = peek, Self.isDigit(first) else { throw problem("a number needs digits") }
        position += 1
        if first != UInt8(ascii: "0") {
            _ = digits()
        } else if let next = peek, Self.isDigit(next) {
            throw problem("a number with a leading zero")
        }
        if peek == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw problem("a number needs digits after the point") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw problem("a number needs digits in its exponent") }
        }
    }

    private mutating func digits() -> Int {
        let start = position
        while let byte = peek, Self.isDigit(byte) { position += 1 }
        return position - start
    }

    private mutating func literal(_ word: StaticString) throws(Problem) {
        let count = word.utf8CodeUnitCount
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        guard position + count <= bytes.count, bytes[position..<(position + count)].elementsEqual(expected) else {
            throw problem("expected a JSON value")
        }
        position += count
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func expect(_ byte: UInt8, _ reason: String) throws(Problem) {
        guard peek == byte else { throw problem(peek == nil ? "unexpected end of the body" : reason) }
        position += 1
    }

    private func problem(_ reason: String) -> Problem { Problem(offset: position, reason: reason) }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }
}
