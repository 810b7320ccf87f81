public import JourneyCore

/// A compiled condition: `where`, `when`, `if`, trait-change conditions and `entry.key`. Immutable; a
/// class so that handing one around the engine costs one reference, not a copy of every field.
///
/// Built by ``ExpressionCompiler/compile(_:allowedRoots:)`` once, when rules load; evaluated on the hot path.
/// Evaluation is generic over the scope so that callers get a specialised interpreter, and it does not
/// allocate for the usual conditions (paths, literals, comparisons, `in`, arithmetic, history counts and
/// sums, time-of-day and weekday); the language and its semantics are described on ``ExpressionCompiler``.
public final class Expression: Sendable, CustomStringConvertible {
    /// The text the expression was compiled from.
    public let source: String
    /// History the expression reads (one entry per distinct `count`/`sum`/`last`/`first` call).
    public let historyNeeds: [HistoryNeed]
    /// The roots its paths use.
    public let roots: Set<PathRoot>
    /// The first key of every `user.…` path (`tier` for `user.tier == "gold"`, `tags` for
    /// `"vip" in user.tags`): the traits a segment condition depends on.
    public let userPaths: Set<String>
    /// The kind of value it yields when that is known at compile time, ignoring `null` (which most
    /// expressions can yield: a missing path, a failed parse). Comparisons, `and`, `or`, `not`, `in` and
    /// `exists` are `.boolean` and never null.
    public let staticType: ValueKind?
    /// Whether evaluation can yield `null`.
    public let canBeNull: Bool

    @usableFromInline let node: Node
    /// The paths and function calls in it, for `explain`.
    let inputNodes: [(text: String, node: Node)]

    init(
        source: String, node: Node, historyNeeds: [HistoryNeed], roots: Set<PathRoot>, userPaths: Set<String>,
        staticType: ValueKind?, canBeNull: Bool, inputNodes: [(text: String, node: Node)], clockReads: Int
    ) {
        self.clockReads = clockReads
        self.source = source
        self.node = node
        self.historyNeeds = historyNeeds
        self.roots = roots
        self.userPaths = userPaths
        self.staticType = staticType
        self.canBeNull = canBeNull
        self.inputNodes = inputNodes
    }

    /// How many clock functions (`hour()`, `weekday()`…) it calls; from two on, the local time is computed
    /// once per evaluation.
    @usableFromInline let clockReads: Int

    /// The expression's value in `scope`.
    @inlinable
    public func evaluate<S: ExpressionScope>(in scope: S) -> Value {
        clockReads > 1 ? withLocalTimeCached(scope) { node.evaluate($0) } : node.evaluate(scope)
    }

    /// Whether the expression holds in `scope`: its value's truthiness (``Value/isTruthy``), computed
    /// without building intermediate booleans.
    @inlinable
    public func isTrue<S: ExpressionScope>(in scope: S) -> Bool {
        clockReads > 1 ? withLocalTimeCached(scope) { node.test($0) } : node.test(scope)
    }

    /// The value of every path and function call in the expression (each once, in source order), for
    /// `journeyd explain`: `user.country = "US"`, `count("purchase", within: 30d) = 2`.
    public func inputs<S: ExpressionScope>(in scope: S) -> [ExpressionInput] {
        inputNodes.map { ExpressionInput(text: $0.text, value: $0.node.evaluate(scope)) }
    }

    public var description: String { source }
}

/// One input of an expression and its value in some scope (see ``Expression/inputs(in:)``).
public struct ExpressionInput: Sendable, Hashable {
    /// The path or call, as canonical expression text.
    public var text: String
    public var value: Value
}

/// The kinds of ``Value``, as the checker knows them.
public enum ValueKind: String, Sendable, Hashable, CaseIterable {
    case null, boolean, number, string, list, object
}

/// A problem in an expression: where (0-based UTF-8 offset into the expression text) and what.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var column: Int
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "\(column): \(message)" }
}

// MARK: - Evaluation form

/// The lowered, checked form that is evaluated: a tree with pre-split paths, functions resolved to cases,
/// constants folded, and special forms for hot shapes (a constant list after `in`, time comparisons).
@usableFromInline
indirect enum Node: Sendable {
    case constant(Value)
    /// A root and keys, handed to the scope as they are.
    case path(PathRoot, [String])
    /// The keys up to the first list index go to the scope; the rest are followed here.
    case pathSteps(PathRoot, [String], [PathStep])
    /// A list literal with non-constant elements.
    case list([Node])

    case not(Node)
    case and(Node, Node)
    case or(Node, Node)

    // Comparisons. The compiler moves a constant operand to the right and picks the most specific form;
    // the specialised forms answer the usual conditions with one lookup and no boxing.
    case compare(Comparison, Node, Node)
    /// `x OP constant`.
    case compareConstant(Comparison, Node, Value)
    /// `x OP number` for non-path `x` (arithmetic, `count`, `days_since`, `hour()`…).
    case compareNumber(Comparison, Node, Double)
    /// `path OP constant`.
    case compareField(Comparison, PathRoot, [String], Value)
    /// `path OP number`.
    case compareFieldNumber(Comparison, PathRoot, [String], Double)
    /// `path OP string`.
    case compareFieldString(Comparison, PathRoot, [String], String)
    /// A comparison where one side is an instant (`now()`, `date(x)`, `last(e)`, `first(e)`): both sides
    /// are read as instants.
    case compareInstants(Comparison, Node, Node)

    // Membership, `x [not] in y`: in a list, a substring of a string, a key of an object.
    case member(Node, Node, negated: Bool)
    /// `x in [a, b]` with non-constant elements.
    case memberOfNodes(Node, [Node], negated: Bool)
    /// `x in [constants]`.
    case memberOfConstants(Node, [Value], negated: Bool)
    /// `path in [constants]`.
    case fieldInConstants(PathRoot, [String], [Value], negated: Bool)
    /// `path in ["a", "b"]`: all strings.
    case fieldInStrings(PathRoot, [String], [String], negated: Bool)
    /// `path in [1, 2]`: all numbers.
    case fieldInNumbers(PathRoot, [String], [Double], negated: Bool)
    /// `constant in path`, as in `"vip" in user.tags`.
    case constantInField(Value, PathRoot, [String], negated: Bool)

    case arithmetic(Arithmetic, Node, Node)
    case negate(Node)

    case count(event: String, within: TimeSpan?)
    case sum(event: String, property: String, within: TimeSpan?)
    case last(event: String)
    case first(event: String)
    case now
    /// A constant instant (a timestamp string literal in a time comparison or `days_since`).
    case instant(Timestamp)
    case date(Node)
    /// Whole `unit`s (milliseconds) from the instant to now, rounded down.
    case since(Node, unit: Int64)
    case clock(Clock)
    case exists(Node)
    case lower(Node)
    case upper(Node)
    case length(Node)
    case startsWith(Node, Node)
    case coalesce([Node])
}

@usableFromInline
enum PathStep: Sendable {
    case key(String)
    case index(Int)
}

@usableFromInline
enum Comparison: Sendable {
    case equal, notEqual, less, lessEqual, greater, greaterEqual

    /// The comparison with its operands swapped: `a < b` is `b > a`.
    var swapped: Comparison {
        switch self {
        case .equal, .notEqual: return self
        case .less: return .greater
        case .lessEqual: return .greaterEqual
        case .greater: return .less
        case .greaterEqual: return .lessEqual
        }
    }

    /// Whether it holds between two values (see ``Node/equal(_:_:)`` and ``Node/order(_:_:_:)``).
    @inlinable
    func holds(_ a: Value, _ b: Value) -> Bool {
        switch self {
        case .equal: return Node.equal(a, b)
        case .notEqual: return !Node.equal(a, b)
        default: return Node.order(self, a, b)
        }
    }

    @inlinable
    func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .equal: return a == b
        case .notEqual: return a != b
        case .less: return a < b
        case .lessEqual: return a <= b
        case .greater: return a > b
        case .greaterEqual: return a >= b
        }
    }

    @inlinable
    func holds(comparison c: Int) -> Bool {
        switch self {
        case .equal: return c == 0
        case .notEqual: return c != 0
        case .less: return c < 0
        case .lessEqual: return c <= 0
        case .greater: return c > 0
        case .greaterEqual: return c >= 0
        }
    }
}

@usableFromInline
enum Arithmetic: Sendable {
    case add, subtract, multiply, divide, remainder
}

@usableFromInline
enum Clock: Sendable {
    case hour, minute, weekday, localTime, localDate
}

extension Node {
    @inlinable
    func evaluate<S: ExpressionScope>(_ scope: S) -> Value {
        switch self {
        case .constant(let value): return value
        case .path(let root, let keys): return scope.lookup(root, keys[...])
        case .pathSteps(let root, let keys, let steps):
            var value = scope.lookup(root, keys[...])
            for step in steps {
                value = Node.follow(step, in: value)
                if case .null = value { return .null }
            }
            return value
        case .list(let elements):
            return .array(elements.map { $0.evaluate(scope) })
        case .not, .and, .or, .compare, .compareConstant, .compareField, .compareFieldNumber, .compareNumber,
            .compareFieldString, .compareInstants,
            .member, .constantInField, .memberOfConstants, .fieldInConstants, .fieldInStrings, .fieldInNumbers,
            .memberOfNodes, .exists, .startsWith:
            return .bool(test(scope))
        case .arithmetic, .negate:
            guard let n = number(scope) else { return .null }
            return .number(n)
        case .count(let event, let within):
            return .number(Double(scope.count(event: event, within: within)))
        case .sum(let event, let property, let within):
            return .number(scope.sum(event: event, property: property, within: within))
        case .last, .first, .now, .instant, .date:
            guard let instant = instant(scope) else { return .null }
            return .string(instant.iso8601)
        case .since(let operand, let unit):
            guard let then = operand.instant(scope) else { return .null }
            let elapsed = scope.now.milliseconds &- then.milliseconds
            let (quotient, remainder) = elapsed.quotientAndRemainder(dividingBy: unit)
            return .number(Double(remainder < 0 ? quotient - 1 : quotient))  // rounded down
        case .clock(let field):
            return Node.clock(field, scope.localNow)
        case .lower(let operand):
            guard case .string(let s) = operand.evaluate(scope) else { return .null }
            return .string(s.lowercased())
        case .upper(let operand):
            guard case .string(let s) = operand.evaluate(scope) else { return .null }
            return .string(s.uppercased())
        case .length(let operand):
            switch operand.evaluate(scope) {
            case .string(let s): return .number(Double(s.count))
            case .array(let items): return .number(Double(items.count))
            case .object(let members): return .number(Double(members.count))
            default: return .null
            }
        case .coalesce(let operands):
            for operand in operands {
                let value = operand.evaluate(scope)
                if case .null = value { continue }
                return value
            }
            return .null
        }
    }

    /// The truthiness of the node's value, with boolean-valued nodes answered directly.
    @inlinable
    func test<S: ExpressionScope>(_ scope: S) -> Bool {
        switch self {
        case .constant(let value): return value.isTruthy
        case .path(let root, let keys): return scope.lookup(root, keys[...]).isTruthy
        case .not(let operand): return !operand.test(scope)
        case .and(let left, let right): return left.test(scope) && right.test(scope)
        case .or(let left, let right): return left.test(scope) || right.test(scope)
        case .compare(let comparison, let left, let right):
            return comparison.holds(left.evaluate(scope), right.evaluate(scope))
        case .compareConstant(let comparison, let left, let constant):
            return comparison.holds(left.evaluate(scope), constant)
        case .compareField(let comparison, let root, let keys, let constant):
            return comparison.holds(scope.lookup(root, keys[...]), constant)
        case .compareFieldNumber(let comparison, let root, let keys, let constant):
            guard case .number(let n) = scope.lookup(root, keys[...]) else { return comparison == .notEqual }
            return comparison.holds(n, constant)
        case .compareFieldString(let comparison, let root, let keys, let constant):
            guard case .string(let s) = scope.lookup(root, keys[...]) else { return comparison == .notEqual }
            switch comparison {
            case .equal: return s == constant
            case .notEqual: return s != constant
            default: return comparison.holds(comparison: Node.stringCompare(s, constant))
            }
        case .compareNumber(let comparison, let left, let constant):
            guard let n = left.number(scope) else { return comparison == .notEqual }
            return comparison.holds(n, constant)
        case .compareInstants(let comparison, let left, let right):
            let a = left.instant(scope)
            let b = right.instant(scope)
            switch comparison {
            case .equal: return a == b
            case .notEqual: return a != b
            default:
                guard let a, let b else { return false }
                return comparison.holds(a.milliseconds, b.milliseconds)
            }
        case .member(let needle, let haystack, let negated):
            return Node.member(needle.evaluate(scope), of: haystack.evaluate(scope)) != negated
        case .constantInField(let needle, let root, let keys, let negated):
            return Node.member(needle, of: scope.lookup(root, keys[...])) != negated
        case .memberOfConstants(let needle, let items, let negated):
            return Node.value(needle.evaluate(scope), isIn: items) != negated
        case .fieldInConstants(let root, let keys, let items, let negated):
            return Node.value(scope.lookup(root, keys[...]), isIn: items) != negated
        case .fieldInStrings(let root, let keys, let items, let negated):
            guard case .string(let s) = scope.lookup(root, keys[...]) else { return negated }
            for item in items where item == s { return !negated }
            return negated
        case .fieldInNumbers(let root, let keys, let items, let negated):
            guard case .number(let n) = scope.lookup(root, keys[...]) else { return negated }
            for item in items where item == n { return !negated }
            return negated
        case .memberOfNodes(let needle, let items, let negated):
            let value = needle.evaluate(scope)
            for item in items where Node.equal(value, item.evaluate(scope)) { return !negated }
            return negated
        case .exists(let operand):
            if case .null = operand.evaluate(scope) { return false }
            return true
        case .startsWith(let string, let prefix):
            guard case .string(let s) = string.evaluate(scope), case .string(let p) = prefix.evaluate(scope) else {
                return false
            }
            return s.utf8.starts(with: p.utf8)
        case .count(let event, let within):
            return scope.count(event: event, within: within) != 0
        default:
            return evaluate(scope).isTruthy
        }
    }

    /// The node's value when it is a number (else nil), computed without boxing for arithmetic trees.
    @inlinable
    func number<S: ExpressionScope>(_ scope: S) -> Double? {
        switch self {
        case .constant(let value): return value.numberValue
        case .path(let root, let keys):
            if case .number(let n) = scope.lookup(root, keys[...]) { return n }
            return nil
        case .arithmetic(let op, let left, let right):
            guard let x = left.number(scope), let y = right.number(scope) else { return nil }
            let result: Double
            switch op {
            case .add: result = x + y
            case .subtract: result = x - y
            case .multiply: result = x * y
            case .divide:
                guard y != 0 else { return nil }
                result = x / y
            case .remainder:
                guard y != 0 else { return nil }
                result = x.truncatingRemainder(dividingBy: y)
            }
            return result.isFinite ? result : nil
        case .negate(let operand):
            return operand.number(scope).map { -$0 }
        case .count(let event, let within):
            return Double(scope.count(event: event, within: within))
        default:
            if case .number(let n) = evaluate(scope) { return n }
            return nil
        }
    }

    /// The node's value read as an instant: RFC 3339 text, or a number of seconds since the epoch.
    @inlinable
    func instant<S: ExpressionScope>(_ scope: S) -> Timestamp? {
        switch self {
        case .now: return scope.now
        case .last(let event): return scope.lastTime(event: event)
        case .first(let event): return scope.firstTime(event: event)
        case .instant(let t): return t
        case .date(let operand): return operand.instant(scope)
        default: return Node.instant(from: evaluate(scope))
        }
    }

    @inlinable
    static func instant(from value: Value) -> Timestamp? {
        switch value {
        case .string(let text): return Timestamp(iso8601: text)
        case .number(let seconds):
            guard seconds.isFinite, abs(seconds) < 1e14 else { return nil }
            return Timestamp(milliseconds: Int64((seconds * 1000).rounded(.down)))
        default: return nil
        }
    }

    @inlinable
    static func follow(_ step: PathStep, in value: Value) -> Value {
        switch step {
        case .key(let key): return value[key] ?? .null
        case .index(let index):
            guard case .array(let items) = value else { return .null }
            let i = index < 0 ? items.count + index : index
            return i >= 0 && i < items.count ? items[i] : .null
        }
    }

    /// `==`: same kind and same value; numbers numerically, strings by Swift's `==` (Unicode canonical
    /// equivalence), lists element-wise, objects by the same keys with equal values (in any order).
    @inlinable
    static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for i in x.indices where !equal(x[i], y[i]) { return false }
            return true
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for member in x {
                guard let other = y.first(where: { $0.key == member.key }), equal(member.value, other.value)
                else { return false }
            }
            return true
        default: return false
        }
    }

    /// `<` `<=` `>` `>=`: two numbers numerically, two strings by UTF-8 bytes; anything else is false.
    @inlinable
    static func order(_ comparison: Comparison, _ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return comparison.holds(x, y)
        case (.string(let x), .string(let y)): return comparison.holds(comparison: stringCompare(x, y))
        default: return false
        }
    }

    @inlinable
    static func value(_ value: Value, isIn items: [Value]) -> Bool {
        switch value {
        case .string(let s):
            // The usual case, `user.country in ["CN", "SG"]`: compare strings without the general switch.
            for item in items {
                if case .string(let t) = item, s == t { return true }
            }
            return false
        case .number(let n):
            for item in items {
                if case .number(let m) = item, n == m { return true }
            }
            return false
        default:
            for item in items where equal(value, item) { return true }
            return false
        }
    }

    @inlinable
    static func member(_ needle: Value, of haystack: Value) -> Bool {
        switch haystack {
        case .array(let items):
            for item in items where equal(needle, item) { return true }
            return false
        case .string(let s):
            guard case .string(let n) = needle else { return false }
            return utf8Contains(s, n)
        case .object(let members):
            guard case .string(let key) = needle else { return false }
            for member in members where member.key == key { return true }
            return false
        default:
            return false
        }
    }

    @usableFromInline
    static let weekdayNames: [String] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    @inlinable
    static func clock(_ field: Clock, _ local: LocalDateTime) -> Value {
        switch field {
        case .hour: return .number(Double(local.time.hour))
        case .minute: return .number(Double(local.time.minute))
        case .weekday: return .string(weekdayNames[local.date.weekday - 1])
        case .localTime:
            let h = local.time.hour
            let m = local.time.minute
            // Five bytes: a small string, built without allocating.
            return .string(
                String(unsafeUninitializedCapacity: 5) { buffer in
                    buffer[0] = UInt8(48 + h / 10)
                    buffer[1] = UInt8(48 + h % 10)
                    buffer[2] = UInt8(ascii: ":")
                    buffer[3] = UInt8(48 + m / 10)
                    buffer[4] = UInt8(48 + m % 10)
                    return 5
                })
        case .localDate:
            let date = local.date
            guard (0...9999).contains(date.year) else { return .null }
            return .string(
                String(unsafeUninitializedCapacity: 10) { buffer in
                    let y = date.year
                    buffer[0] = UInt8(48 + y / 1000)
                    buffer[1] = UInt8(48 + y / 100 % 10)
                    buffer[2] = UInt8(48 + y / 10 % 10)
                    buffer[3] = UInt8(48 + y % 10)
                    buffer[4] = UInt8(ascii: "-")
                    buffer[5] = UInt8(48 + date.month / 10)
                    buffer[6] = UInt8(48 + date.month % 10)
                    buffer[7] = UInt8(ascii: "-")
                    buffer[8] = UInt8(48 + date.day / 10)
                    buffer[9] = UInt8(48 + date.day % 10)
                    return 10
                })
        }
    }

    // MARK: Strings, byte for byte

    /// -1, 0 or 1: equal strings (Swift's `==`, Unicode canonical equivalence) are 0, others are in
    /// lexicographic order of their UTF-8 bytes.
    @inlinable
    static func stringCompare(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        var x = a.utf8.makeIterator()
        var y = b.utf8.makeIterator()
        while true {
            switch (x.next(), y.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let p?, let q?): if p != q { return p < q ? -1 : 1 }
            }
        }
    }

    @inlinable
    static func utf8Contains(_ haystack: String, _ needle: String) -> Bool {
        let h = haystack.utf8
        let n = needle.utf8
        guard let first = n.first else { return true }
        var start = h.startIndex
        while let i = h[start...].firstIndex(of: first) {
            if h[i...].starts(with: n) { return true }
            start = h.index(after: i)
        }
        return false
    }
}
