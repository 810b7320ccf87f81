import JourneyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The byte-level JSON reader behind ``JSONParser`` and ``SegmentEventParser``.
///
/// It reads straight from the input bytes: strings without escapes become `String`s in one step, numbers
/// are converted without building text, keys are compared as bytes, and containers are collected on
/// scratch stacks so each one costs exactly one allocation. Errors carry the byte offset and collect the
/// JSON path while they unwind, so the happy path never maintains a path.
struct JSONScanner {
    /// The input; never read at or past `n`.
    let p: UnsafePointer<UInt8>
    let n: Int
    /// The read position.
    var i = 0
    let maxDepth: Int

    var members: ScratchStack<Value.Member>
    var values: ScratchStack<Value>
    /// Keys of the objects being read, for duplicate detection.
    var keys: ScratchStack<KeySpan>
    /// Decoded text of the last string that had escapes (see ``StringSpan/escaped``).
    var unescaped = ScratchStack<UInt8>()
    /// Decoded text of keys that had escapes, so ``KeySpan`` can point at them.
    var keyArena = ScratchStack<UInt8>()
    /// This thread's ``ShortStringCache``.
    let shortStrings: UnsafeMutablePointer<ShortStringCache.Entry>
    // Everything above is plain pointers and integers, so the scanner is cheap to pass around.

    /// Runs `body` with a scanner over `input`, its scratch stacks on the machine stack.
    @inline(__always)
    static func with<R>(
        _ input: UnsafeBufferPointer<UInt8>,
        maxDepth: Int,
        _ body: (inout JSONScanner) -> R
    ) -> R {
        // Two blocks of 1 KiB, the size the standard library always places on the stack: 16 members and
        // 8 array elements in one, 42 keys in the other. Deeper or wider documents spill to the heap.
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 16) { raw in
            let keyCapacity = 1024 / MemoryLayout<KeySpan>.stride
            return withUnsafeTemporaryAllocation(of: KeySpan.self, capacity: keyCapacity) { keyStorage in
                let memberBytes = 16 * MemoryLayout<Value.Member>.stride
                let valueCount = (raw.count - memberBytes) / MemoryLayout<Value>.stride
                let memberStorage = UnsafeMutableRawBufferPointer(rebasing: raw[0..<memberBytes])
                    .bindMemory(to: Value.Member.self)
                let valueStorage = UnsafeMutableRawBufferPointer(rebasing: raw[memberBytes..<raw.count])
                    .bindMemory(to: Value.self).prefix(valueCount)
                var scanner = JSONScanner(
                    p: input.baseAddress ?? UnsafePointer(bitPattern: 0x10)!,  // never read when empty
                    n: input.count,
                    maxDepth: maxDepth,
                    members: ScratchStack(storage: memberStorage),
                    values: ScratchStack(storage: UnsafeMutableBufferPointer(rebasing: valueStorage)),
                    keys: ScratchStack(storage: keyStorage)
                )
                let result = body(&scanner)
                scanner.members.release()
                scanner.values.release()
                scanner.keys.release()
                scanner.unescaped.release()
                scanner.keyArena.release()
                return result
            }
        }
    }

    private init(
        p: UnsafePointer<UInt8>, n: Int, maxDepth: Int, members: ScratchStack<Value.Member>,
        values: ScratchStack<Value>, keys: ScratchStack<KeySpan>
    ) {
        self.p = p
        self.n = n
        self.maxDepth = maxDepth
        shortStrings = ShortStringCache.forCurrentThread()
        self.members = members
        self.values = values
        self.keys = keys
    }
}

/// An error while scanning; ``path`` is collected innermost first as the error unwinds.
struct ScanError: Error {
    var offset: Int
    var reason: String
    var path: [JSONPathComponent] = []

    init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    func adding(_ component: JSONPathComponent) -> ScanError {
        var copy = self
        copy.path.append(component)
        return copy
    }

    var syntaxError: JSONSyntaxError {
        JSONSyntaxError(byteOffset: offset, path: JSONPath.format(innermostFirst: path), reason: reason)
    }
}

/// Where a key's (decoded) bytes are: in the input, or in ``JSONScanner/keyArena`` when it had escapes.
struct KeySpan {
    var start: Int
    var count: Int
    var inArena: Bool
}

/// A scanned string: `count` bytes at `start` in the input, or, when `escaped`, the decoded bytes in
/// ``JSONScanner/unescaped`` (valid until the next string is scanned).
struct StringSpan {
    var start: Int
    var count: Int
    var escaped: Bool
}

// MARK: - Values

extension JSONScanner {
    /// Skips JSON whitespace. Compact JSON has none, so the common case is one comparison.
    @inline(__always)
    mutating func skipWhitespace() {
        while i < n && p[i] <= 0x20 {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i &+= 1
        }
    }

    /// Reads one value; `depth` is the nesting depth of the container holding it (0 at the top).
    mutating func parseValue(depth: Int) throws(ScanError) -> Value {
        guard i < n else { throw endOfInput() }
        if p[i] <= 0x20 {
            skipWhitespace()
            guard i < n else { throw endOfInput() }
        }
        switch p[i] {
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber().value)
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            throw unexpected(expecting: "a value")
        }
    }

    /// Moves past `byte` at `i`, after optional whitespace; `false` (at the first non-whitespace byte)
    /// when something else is there. Compact JSON takes the first branch only.
    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        if i < n && p[i] == byte {
            i &+= 1
            return true
        }
        skipWhitespace()
        if i < n && p[i] == byte {
            i &+= 1
            return true
        }
        return false
    }

    mutating func expectLiteral(_ literal: StaticString) throws(ScanError) {
        let count = literal.utf8CodeUnitCount
        let bytes = literal.utf8Start
        for k in 0..<count {
            guard i + k < n else { throw endOfInput() }
            guard p[i + k] == bytes[k] else {
                throw ScanError(offset: i, reason: "invalid literal (expected \(literal))")
            }
        }
        i += count
    }

    /// After the top-level value: only whitespace may follow.
    mutating func expectEnd() throws(ScanError) {
        skipWhitespace()
        if i < n {
            throw ScanError(offset: i, reason: "unexpected \(describeByte(at: i)) after the JSON value")
        }
    }

    /// Reads an object whose `{` is at `i`.
    mutating func parseObject(depth: Int) throws(ScanError) -> Value {
        var unused = -1
        return try parseObject(depth: depth, watching: nil, watchedOffset: &unused)
    }

    /// Reads an object whose `{` is at `i`; when `watching` names a key, sets `watchedOffset` to the
    /// offset of that member's value.
    mutating func parseObject(
        depth: Int,
        watching: StaticString?,
        watchedOffset: inout Int
    ) throws(ScanError) -> Value {
        guard depth <= maxDepth else { throw tooDeep() }
        i += 1
        if consume(UInt8(ascii: "}")) { return .emptyObject }
        let memberBase = members.count
        let keyBase = keys.count
        var seen: Set<String>? = nil
        while true {
            if !(i < n && p[i] == UInt8(ascii: "\"")) {
                skipWhitespace()
                guard i < n else { throw endOfInput() }
                guard p[i] == UInt8(ascii: "\"") else { throw unexpected(expecting: "a string key") }
            }
            let keyOffset = i
            let (key, span) = try scanKey()
            if try isDuplicate(span, key: key, keyBase: keyBase, seen: &seen) {
                throw duplicateKey(key, at: keyOffset)
            }
            keys.push(span)
            guard consume(UInt8(ascii: ":")) else {
                throw unexpected(expecting: "':' after the key").adding(.key(key))
            }
            if let watching, keyMatches(span, watching) {
                skipWhitespace()
                watchedOffset = i
            }
            let value: Value
            do { value = try parseValue(depth: depth) } catch { throw error.adding(.key(key)) }
            members.push(Value.Member(key, value))
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { break }
            throw unexpected(expecting: "',' or '}'")
        }
        keys.count = keyBase
        return .object(members.popArray(from: memberBase))
    }

    /// Reads an array whose `[` is at `i`.
    mutating func parseArray(depth: Int) throws(ScanError) -> Value {
        guard depth <= maxDepth else { throw tooDeep() }
        i += 1
        if consume(UInt8(ascii: "]")) { return .array([]) }
        let valueBase = values.count
        var index = 0
        while true {
            let value: Value
            do { value = try parseValue(depth: depth) } catch { throw error.adding(.index(index)) }
            values.push(value)
            index += 1
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { break }
            throw unexpected(expecting: "',' or ']'")
        }
        return .array(values.popArray(from: valueBase))
    }

    // MARK: Keys

    /// Scans the key at `i` and returns it with a span usable for duplicate checks.
    @inline(__always)
    mutating func scanKey() throws(ScanError) -> (String, KeySpan) {
        let s = try scanString()
        if !s.escaped {
            return (makeString(s), KeySpan(start: s.start, count: s.count, inArena: false))
        }
        let start = keyArena.count
        keyArena.append(contentsOf: unescaped.buffer)
        return (makeString(s), KeySpan(start: start, count: s.count, inArena: true))
    }

    /// Whether `span` repeats one of the keys pushed since `keyBase`. Small objects compare bytes;
    /// from 16 keys on, a set keeps hostile objects with thousands of keys linear.
    @inline(__always)
    mutating func isDuplicate(_ span: KeySpan, key: String, keyBase: Int, seen: inout Set<String>?) throws(ScanError)
        -> Bool
    {
        let earlier = keys.count - keyBase
        if earlier < 16 {
            for k in keyBase..<keys.count where sameKey(keys.base[k], span) { return true }
            return false
        }
        if seen == nil {
            var set = Set<String>(minimumCapacity: earlier * 2)
            for k in keyBase..<keys.count { set.insert(keyString(keys.base[k])) }
            seen = set
        }
        return !seen!.insert(key).inserted
    }

    @inline(__always)
    func sameKey(_ a: KeySpan, _ b: KeySpan) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        if !a.inArena && !b.inArena {
            return memcmp(p + a.start, p + b.start, a.count) == 0
        }
        let pa = a.inArena ? UnsafePointer(keyArena.base) + a.start : p + a.start
        let pb = b.inArena ? UnsafePointer(keyArena.base) + b.start : p + b.start
        return memcmp(pa, pb, a.count) == 0
    }

    func keyString(_ span: KeySpan) -> String {
        if !span.inArena {
            return String(decoding: UnsafeBufferPointer(start: p + span.start, count: span.count), as: UTF8.self)
        }
        let bytes = UnsafeBufferPointer(start: keyArena.base + span.start, count: span.count)
        return String(decoding: bytes, as: UTF8.self)
    }

    func keyMatches(_ span: KeySpan, _ literal: StaticString) -> Bool {
        guard span.count == literal.utf8CodeUnitCount else { return false }
        if !span.inArena { return memcmp(p + span.start, literal.utf8Start, span.count) == 0 }
        return memcmp(keyArena.base + span.start, literal.utf8Start, span.count) == 0
    }

    // MARK: Errors

    func endOfInput() -> ScanError { ScanError(offset: n, reason: "unexpected end of input") }

    func tooDeep() -> ScanError { ScanError(offset: i, reason: "nesting deeper than \(maxDepth) levels") }

    func duplicateKey(_ key: String, at offset: Int) -> ScanError {
        ScanError(offset: offset, reason: "duplicate key \(Diagnostics.quoted(key))")
    }

    /// `expected X, found Y` for the byte at `i` (or the precise problem when that byte is one).
    func unexpected(expecting: String) -> ScanError {
        guard i < n else { return endOfInput() }
        let c = p[i]
        if c >= 0x80 && utf8SequenceLength(at: i) == nil { return ScanError(offset: i, reason: "invalid UTF-8") }
        let minusInfinity = c == UInt8(ascii: "-") && i + 1 < n && p[i + 1] == UInt8(ascii: "I")
        if c == UInt8(ascii: "N") || c == UInt8(ascii: "I") || minusInfinity {
            if startsWord("NaN") || startsWord("Infinity") || startsWord("-Infinity") {
                return ScanError(offset: i, reason: "NaN and Infinity are not allowed in JSON")
            }
        }
        return ScanError(offset: i, reason: "expected \(expecting), found \(describeByte(at: i))")
    }

    private func startsWord(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        return n - i >= count && memcmp(p + i, word.utf8Start, count) == 0
    }

    /// `'x'`, `NUL byte`, `control character U+0007`, `'é'`, `byte 0xFF`.
    func describeByte(at offset: Int) -> String {
        let c = p[offset]
        switch c {
        case 0: return "NUL byte"
        case 1..<0x20, 0x7F: return "control character \(Diagnostics.codePoint(UInt32(c)))"
        case 0x20..<0x7F: return c == UInt8(ascii: "'") ? "\"'\"" : "'\(Character(Unicode.Scalar(c)))'"
        default:
            if let length = utf8SequenceLength(at: offset) {
                let text = String(decoding: UnsafeBufferPointer(start: p + offset, count: length), as: UTF8.self)
                return "'\(Diagnostics.oneLine(text))'"
            }
            return "byte 0x\(String(c, radix: 16, uppercase: true))"
        }
    }
}
