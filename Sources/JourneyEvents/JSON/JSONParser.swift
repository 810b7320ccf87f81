import JourneyCore

/// A strict RFC 8259 parser from UTF-8 bytes to ``Value`` (object members keep their order).
///
/// It refuses what a lenient parser would let through and a later stage would trip over: invalid UTF-8,
/// raw control characters in strings, trailing characters after the value, leading zeros, `NaN` and
/// `Infinity`, numbers a `Double` cannot hold (`1e400`), escapes that leave half a surrogate pair,
/// nesting deeper than ``maxDepth``, and objects that repeat a key. Every refusal is a
/// ``JSONSyntaxError`` with the byte offset and the JSON path where reading stopped.
///
/// ```swift
/// let value = try JSONParser().parse(#"{"sku":"SKU-1","price":54.5}"#)
/// ```
public struct JSONParser: Sendable {
    /// Deepest nesting of arrays and objects accepted; the top-level container is depth 1.
    public var maxDepth: Int

    public init(maxDepth: Int = 64) {
        precondition(maxDepth >= 1, "maxDepth must be at least 1")
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document; surrounding whitespace is allowed, anything else after the value is not.
    public func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> Value {
        var failure: ScanError? = nil
        let value = JSONScanner.with(bytes, maxDepth: maxDepth) { scanner -> Value in
            do throws(ScanError) {
                let value = try scanner.parseValue(depth: 0)
                try scanner.expectEnd()
                return value
            } catch {
                failure = error
                return .null
            }
        }
        if let failure { throw failure.syntaxError }
        return value
    }

    public func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> Value {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONSyntaxError) -> Value in try parse(buffer) }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { (buffer) throws(JSONSyntaxError) -> Value in try parse(buffer) }
    }

    public func parse(_ text: String) throws(JSONSyntaxError) -> Value {
        var text = text
        return try text.withUTF8 { buffer in Result { () throws(JSONSyntaxError) -> Value in try parse(buffer) } }.get()
    }
}
