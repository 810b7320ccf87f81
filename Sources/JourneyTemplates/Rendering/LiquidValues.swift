import JourneyCore

// Liquid's view of JourneyCore values: truthiness, text, comparison and numbers, as Shopify Liquid
// defines them (only nil and false are falsy; `==` never converts between text and numbers).

extension Value {
    /// Liquid truthiness: everything but `nil` and `false` is true — `0`, `""` and `[]` included.
    @inline(__always) var liquidTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        default: return true
        }
    }

    /// `== empty`: an empty string, list or object.
    var isLiquidEmpty: Bool {
        switch self {
        case .string(let s): return s.isEmpty
        case .array(let a): return a.isEmpty
        case .object(let m): return m.isEmpty
        default: return false
        }
    }

    /// `== blank`: nil, false, text of only whitespace, or an empty list or object.
    var isLiquidBlank: Bool {
        switch self {
        case .null: return true
        case .bool(let b): return !b
        case .string(let s): return s.utf8.allSatisfy(TemplateLexer.isSpace)
        case .array(let a): return a.isEmpty
        case .object(let m): return m.isEmpty
        case .number: return false
        }
    }

    /// A range's bound: a number (its whole part) or text that reads as one; else 0.
    var liquidRangeBound: Double { liquidNumber.rounded(.towardZero) }

    /// `size`: characters of text, items of a list, members of an object.
    var liquidSize: Int? {
        switch self {
        case .string(let s): return s.count
        case .array(let a): return a.count
        case .object(let m): return m.count
        default: return nil
        }
    }

    /// The value as text (Liquid's `to_s`): nil is empty, lists are their items run together, objects JSON.
    var liquidText: String {
        if case .string(let s) = self { return s }
        var out: [UInt8] = []
        ValueFormatting.write(self, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The value as a number for arithmetic filters: numbers, and text that reads as one (`"12"`,
    /// `"-3.5"`; leading digits of other text, as Ruby's `to_i`); else 0.
    var liquidNumber: Double {
        switch self {
        case .number(let d): return d
        case .string(let s): return ValueFormatting.leadingNumber(s)
        case .bool, .null, .array, .object: return 0
        }
    }
}

enum ValueFormatting {
    static func text(of value: Value) -> String { value.liquidText }

    /// Appends the text of `value` (unescaped).
    static func write(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: return
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let d): writeNumber(d, into: &out)
        case .string(let s): out.append(contentsOf: s.utf8)
        case .array(let items): for item in items { write(item, into: &out) }
        case .object: value.writeJSON(into: &out)
        }
    }

    /// Integral numbers without a fraction (`3`, not `3.0`); others as Swift prints them; not-a-number and
    /// infinities as nothing, which is kinder in a message than `inf`.
    static func writeNumber(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else { return }
        if d == d.rounded(.towardZero) && abs(d) < 9.007_199_254_740_992e15 {
            var n = Int64(d)
            if n == 0 {
                out.append(48)
                return
            }
            if n < 0 {
                out.append(UInt8(ascii: "-"))
                n = -n
            }
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
            var count = 0
            withUnsafeMutableBytes(of: &digits) { buffer in
                while n > 0 {
                    buffer[count] = UInt8(48 + n % 10)
                    n /= 10
                    count += 1
                }
                for k in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[k]) }
            }
        } else {
            out.append(contentsOf: "\(d)".utf8)
        }
    }

    /// Ruby-like number reading: an optional sign, digits, an optional fraction; 0 when none.
    static func leadingNumber(_ s: String) -> Double {
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count, TemplateLexer.isSpace(bytes[i]) { i += 1 }
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        let digitsStart = i
        while i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 { i += 1 }
        guard i > digitsStart else { return 0 }
        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "."), bytes[i + 1] >= 48 && bytes[i + 1] <= 57 {
            i += 1
            while i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 { i += 1 }
        }
        return Double(String(decoding: bytes[start..<i], as: UTF8.self)) ?? 0
    }
}

enum LiquidComparison {
    /// Liquid `==`: same type and value (numbers compare by value; text never equals a number).
    static func equal(_ a: Value, _ b: Value) -> Bool { a == b }

    static func holds(_ a: Value, _ op: Comparison, _ b: Value) -> Bool {
        switch op {
        case .equal: return equal(a, b)
        case .notEqual: return !equal(a, b)
        case .contains: return contains(a, b)
        case .less, .greater, .lessEqual, .greaterEqual:
            // Liquid raises on mismatched types (text < number); a lax render says false.
            let order: Int
            switch (a, b) {
            case (.number(let x), .number(let y)):
                guard !x.isNaN, !y.isNaN else { return false }
                order = x < y ? -1 : (x > y ? 1 : 0)
            case (.string(let x), .string(let y)):
                order = x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : (x == y ? 0 : 1)
            default:
                return false
            }
            switch op {
            case .less: return order < 0
            case .greater: return order > 0
            case .lessEqual: return order <= 0
            default: return order >= 0
            }
        }
    }

    /// `contains`: a substring of text, an item of a list, a member name of an object.
    static func contains(_ a: Value, _ b: Value) -> Bool {
        // As in Liquid, nothing contains nil or false.
        if b.isNull || b == .bool(false) { return false }
        switch a {
        case .string(let s):
            guard case .string(let needle) = b else {
                if b.isNull { return false }
                return s.contains(b.liquidText)
            }
            return needle.isEmpty || s.contains(needle)
        case .array(let items): return items.contains(b)
        case .object(let members):
            guard case .string(let key) = b else { return false }
            return members.contains { $0.key == key }
        default: return false
        }
    }

    /// A total order for `sort`: numbers before text before everything else; nil last.
    static func sortsBefore(_ a: Value, _ b: Value) -> Bool {
        func rank(_ v: Value) -> Int {
            switch v {
            case .number: return 0
            case .string: return 1
            case .bool: return 2
            case .array: return 3
            case .object: return 4
            case .null: return 5
            }
        }
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y
        case (.string(let x), .string(let y)): return x.utf8.lexicographicallyPrecedes(y.utf8)
        case (.bool(let x), .bool(let y)): return !x && y
        default: return rank(a) < rank(b)
        }
    }
}
