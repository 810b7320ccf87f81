/// A JSON-shaped value: event properties, user traits, expression results.
///
/// Objects keep their members **in insertion order** (an array of pairs, not a `Dictionary`), so that
/// anything written from a `Value` is byte-identical from run to run, and small objects (the usual
/// Segment `properties`) are cheap to build and to search.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([Value])
    case object([Member])

    /// One member of an object.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: Value
        public init(_ key: String, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    public static let emptyObject = Value.object([])
}

extension Value {
    /// The member named `key` when this is an object, else `nil`. Linear: objects here are small.
    @inlinable
    public subscript(key: String) -> Value? {
        guard case .object(let members) = self else { return nil }
        for member in members where member.key == key { return member.value }
        return nil
    }

    /// Follows `path` through nested objects; `nil` as soon as a step is missing.
    @inlinable
    public func value<C: Collection>(at path: C) -> Value? where C.Element == String {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// Sets (or appends) member `key`; turns a non-object into an object first.
    public mutating func set(_ key: String, to newValue: Value) {
        guard case .object(var members) = self else {
            self = .object([Member(key, newValue)])
            return
        }
        self = .null  // release the array so the edit below is in place
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = newValue
        } else {
            members.append(Member(key, newValue))
        }
        self = .object(members)
    }

    /// Removes member `key`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ key: String) -> Bool {
        guard case .object(var members) = self, let index = members.firstIndex(where: { $0.key == key }) else {
            return false
        }
        self = .null
        members.remove(at: index)
        self = .object(members)
        return true
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var numberValue: Double? { if case .number(let d) = self { return d } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [Value]? { if case .array(let a) = self { return a } else { return nil } }
    public var members: [Member]? { if case .object(let m) = self { return m } else { return nil } }

    /// Truthiness used by conditions: `null`, `false`, `0`, `""` and empty collections are false.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .number(let d): return d != 0 && !d.isNaN
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let m): return !m.isEmpty
        }
    }

    /// The name of this value's type as error messages say it.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "list"
        case .object: return "object"
        }
    }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .object(elements.map { Member($0.0, $0.1) })
    }
}
