/// Why a JSON document was refused, and where.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Offset of the offending byte from the start of the document (the document's length when it ended early).
    public var byteOffset: Int
    /// JSON path of the value being read when the problem was found, e.g. `$.properties.items[2].price`.
    public var path: String
    /// What is wrong, for people: `number out of range`, `duplicate key "sku"`, `unexpected end of input`.
    public var reason: String

    public init(byteOffset: Int, path: String, reason: String) {
        self.byteOffset = byteOffset
        self.path = path
        self.reason = reason
    }

    /// `byte 12: $.properties.price: number out of range`
    public var description: String { "byte \(byteOffset): \(path): \(reason)" }
}

/// One step of a JSON path.
enum JSONPathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)
}

enum JSONPath {
    /// Formats components given **innermost first** (the order errors collect them while unwinding)
    /// as `$.a.b[2]`; keys that are not identifiers are written `$["odd key"]`.
    static func format(innermostFirst components: [JSONPathComponent]) -> String {
        var out = "$"
        for component in components.reversed() {
            switch component {
            case .index(let index):
                out += "[\(index)]"
            case .key(let key):
                if isIdentifier(key) {
                    out += "." + key
                } else {
                    out += "[" + Diagnostics.quoted(key) + "]"
                }
            }
        }
        return out
    }

    private static func isIdentifier(_ key: String) -> Bool {
        var first = true
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"),
                UInt8(ascii: "$"):
                break
            case UInt8(ascii: "0")...UInt8(ascii: "9") where !first:
                break
            default:
                return false
            }
            first = false
        }
        return !first
    }
}

/// Text helpers for one-line diagnostics.
enum Diagnostics {
    /// Longest quoted value shown in a message, in Unicode scalars; longer ones end in `…`.
    static let quoteLimit = 40

    /// `"text"`, JSON-escaped so the result is always one line, truncated to ``quoteLimit`` scalars.
    static func quoted(_ text: String) -> String {
        var out = "\""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown == quoteLimit {
                out += "…"
                break
            }
            out += escaped(scalar)
            shown += 1
        }
        return out + "\""
    }

    /// ``quoted(_:)`` for raw bytes (invalid UTF-8 is shown as U+FFFD).
    static func quoted(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        quoted(String(decoding: bytes, as: UTF8.self))
    }

    /// Makes any text safe to put on one line: control characters become `\n`, `\u001b`, ….
    static func oneLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) || text.unicodeScalars.contains(where: isLineBreak)
        else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            out += scalar == "\"" || scalar == "\\" ? String(scalar) : escaped(scalar)
        }
        return out
    }

    private static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || isLineBreak(scalar) {
                return "\\u" + hex4(scalar.value)
            }
            return String(scalar)
        }
    }

    static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// `U+000A`
    static func codePoint(_ value: UInt32) -> String { "U+" + hex4(value) }
}
