/// A compact, versionless binary encoding for journeyd's own files (log records, checkpoint rows):
/// LEB128 varints, length-prefixed UTF-8 strings, and a tagged encoding of ``Value``. A tenth of the
/// bytes of JSON for user state and several times faster to write and read, which matters on the paths
/// that run per event (the log) and per changed user (checkpoints).
///
/// Readers never trap on bad input: they throw ``BinaryDecodingError`` with the offset, so a corrupt
/// record is reported and recovery stops at it instead of crashing.
public struct ByteWriter: Sendable {
    public var bytes: [UInt8]
    /// Recurring strings written by number (``StringTable``): only a reader with the same table reads
    /// what such a writer wrote. Nil for everything stored or logged.
    public var strings: StringTable?

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inlinable public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zig-zag, so small negative numbers stay small.
    @inlinable public mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable public mutating func int(_ value: Int) { signed(Int64(value)) }

    @inlinable public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func fixed64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func double(_ value: Double) { fixed64(value.bitPattern) }

    public mutating func string(_ value: String) {
        if strings != nil { return tableString(value) }
        var s = value
        s.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func optionalString(_ value: String?) {
        if let value {
            bytes.append(1)
            string(value)
        } else {
            bytes.append(0)
        }
    }

    public mutating func blob(_ value: some Collection<UInt8>) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func timestamp(_ t: Timestamp) { signed(t.milliseconds) }

    public mutating func optionalTimestamp(_ t: Timestamp?) {
        if let t {
            bytes.append(1)
            signed(t.milliseconds)
        } else {
            bytes.append(0)
        }
    }

    public mutating func value(_ v: Value) {
        switch v {
        case .null: bytes.append(0)
        case .bool(let b): bytes.append(b ? 2 : 1)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 {
                bytes.append(3)
                signed(Int64(d))
            } else {
                bytes.append(4)
                double(d)
            }
        case .string(let s):
            bytes.append(5)
            string(s)
        case .array(let items):
            bytes.append(6)
            varint(UInt64(items.count))
            for item in items { value(item) }
        case .object(let members):
            bytes.append(7)
            varint(UInt64(members.count))
            for member in members {
                string(member.key)
                value(member.value)
            }
        }
    }
}

/// Why binary data could not be read: what was expected, at which byte.
public struct BinaryDecodingError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
    public var description: String { "at byte \(offset): \(reason)" }
}

/// Reads what ``ByteWriter`` wrote.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int
    /// The table the writer used, if it used one (``ByteWriter/strings``).
    public var strings: StringTable?

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: Int { bytes.count - offset }

    func fail(_ reason: String) -> BinaryDecodingError { BinaryDecodingError(offset: offset, reason: reason) }

    public mutating func byte() throws(BinaryDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw fail("unexpected end of data") }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func varint() throws(BinaryDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    public mutating func signed() throws(BinaryDecodingError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    public mutating func int() throws(BinaryDecodingError) -> Int { Int(try signed()) }

    public mutating func bool() throws(BinaryDecodingError) -> Bool { try byte() != 0 }

    public mutating func fixed64() throws(BinaryDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw fail("unexpected end of data") }
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 8])) }
        offset += 8
        return UInt64(littleEndian: v)
    }

    public mutating func double() throws(BinaryDecodingError) -> Double { Double(bitPattern: try fixed64()) }

    public mutating func length() throws(BinaryDecodingError) -> Int {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw fail("length \(n) runs past the end (\(remaining) bytes left)") }
        return Int(n)
    }

    public mutating func string() throws(BinaryDecodingError) -> String {
        if let strings { return try tableString(strings) }
        return rawString(try length())
    }

    /// What ``ByteWriter/tableString(_:)`` wrote: a string's index in `table` (low bit 1) or its
    /// length (low bit 0) and its bytes.
    mutating func tableString(_ table: StringTable) throws(BinaryDecodingError) -> String {
        let start = offset
        let tagged = try varint()
        if tagged & 1 == 1 {
            guard let string = table.string(at: Int(tagged >> 1)) else {
                throw BinaryDecodingError(offset: start, reason: "string \(tagged >> 1) is not in the table (\(table.count) strings)")
            }
            return string
        }
        let n = tagged >> 1
        guard n <= UInt64(remaining) else { throw fail("length \(n) runs past the end (\(remaining) bytes left)") }
        return rawString(Int(n))
    }

    /// The next `n` bytes (checked to be there) as a string.
    private mutating func rawString(_ n: Int) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
        offset += n
        return String(decoding: slice, as: UTF8.self)
    }

    public mutating func optionalString() throws(BinaryDecodingError) -> String? {
        try byte() == 0 ? nil : try string()
    }

    public mutating func blob() throws(BinaryDecodingError) -> [UInt8] {
        let n = try length()
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// The next blob, without copying (valid as long as the underlying bytes are).
    public mutating func blobView() throws(BinaryDecodingError) -> UnsafeRawBufferPointer {
        let n = try length()
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    public mutating func timestamp() throws(BinaryDecodingError) -> Timestamp { Timestamp(milliseconds: try signed()) }

    public mutating func optionalTimestamp() throws(BinaryDecodingError) -> Timestamp? {
        try byte() == 0 ? nil : Timestamp(milliseconds: try signed())
    }

    public mutating func value(depth: Int = 0) throws(BinaryDecodingError) -> Value {
        guard depth < 128 else { throw fail("values nested more than 128 deep") }
        switch try byte() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .number(Double(try signed()))
        case 4: return .number(try double())
        case 5: return .string(try string())
        case 6:
            let n = try varint()
            guard n <= UInt64(remaining) else { throw fail("array of \(n) items runs past the end") }
            var items: [Value] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<n { items.append(try value(depth: depth + 1)) }
            return .array(items)
        case 7:
            let n = try varint()
            guard n <= UInt64(remaining) else { throw fail("object of \(n) members runs past the end") }
            var members: [Value.Member] = []
            members.reserveCapacity(Int(n))
            for _ in 0..<n {
                let key = try string()
                members.append(Value.Member(key, try value(depth: depth + 1)))
            }
            return .object(members)
        case let tag: throw fail("unknown value tag \(tag)")
        }
    }
}

extension Array where Element == UInt8 {
    /// Reads these bytes with a ``ByteReader``.
    public func read<R>(_ body: (inout ByteReader) throws -> R) rethrows -> R {
        try withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            return try body(&reader)
        }
    }
}
