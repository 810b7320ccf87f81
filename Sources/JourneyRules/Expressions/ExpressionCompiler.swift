import JourneyCore

/// Compiles the journey condition language: `where`, `when`, `if`, trait-change conditions and
/// `entry.key`.
///
/// ```
/// event.properties.price >= 50 and user.country in ["CN", "SG"]
/// count("purchase", within: 30d) >= 3 and days_since(last("purchase")) >= 30
/// weekday() in ["sat", "sun"] or local_time() >= "09:30"
/// ```
///
/// ## Grammar
///
/// From loosest to tightest binding:
///
/// | level | operators | notes |
/// |---|---|---|
/// | 1 | `or`, `\|\|` | left-associative, short-circuit |
/// | 2 | `and`, `&&` | left-associative, short-circuit |
/// | 3 | `not`, `!` (prefix) | `not a == b` is `not (a == b)`; `not a and b` is `(not a) and b` |
/// | 4 | `==` `!=` `<` `<=` `>` `>=` `in` `not in` | do not chain: `a < b < c` is an error |
/// | 5 | `+` `-` | left-associative |
/// | 6 | `*` `/` `%` | left-associative |
/// | 7 | `-` (prefix) | |
///
/// Operands: parentheses; literals — numbers (`50`, `1.5`, `2e3`), strings in `"double"` or `'single'`
/// quotes with JSON escapes (`\n`, `\"`, `\'`, `\uXXXX`), `true`, `false`, `null`, lists `[a, b]`;
/// durations (`30d`, `1h30m`, `15m`, `500ms`: digits directly followed by units `w d h m s ms`), which
/// are allowed only as `within:`; paths — a root (`event`, `user`, `enrollment`, `journey`) followed by
/// at least one `.name`, `["any key"]` or list index `[0]` (`[-1]` is the last element); function calls
/// `name(arg, …, within: 30d)`. Any other bare name is an error with a suggestion
/// (``unknown name `usr`; did you mean `user`?``).
///
/// ## Functions
///
/// | function | result |
/// |---|---|
/// | `count("e")`, `count("e", within: 30d)` | how many `e` events, ever or in `(now - within, now]` |
/// | `sum("e", "prop")`, `sum("e", "prop", within: 90d)` | the sum of numeric property `prop` over them |
/// | `last("e")`, `first("e")` | when the user last/first did `e` (RFC 3339 text), or null |
/// | `days_since(t)`, `hours_since(t)`, `minutes_since(t)` | whole units from `t` to now, rounded down; null if `t` is no timestamp |
/// | `now()` | the evaluation instant (RFC 3339 text) |
/// | `date(t)` | `t` normalised to RFC 3339 UTC text with milliseconds, or null |
/// | `hour()`, `minute()` | the local hour (0–23) / minute in the user's zone |
/// | `weekday()` | `"mon"` … `"sun"` in the user's zone |
/// | `local_time()`, `local_date()` | `"HH:MM"` / `"YYYY-MM-DD"` in the user's zone |
/// | `exists(x)` | `x` is not null (an empty string exists) |
/// | `lower(s)`, `upper(s)` | case-mapped string, or null for non-strings |
/// | `len(x)` | characters of a string, elements of a list, members of an object; else null |
/// | `contains(h, n)` | `n in h` |
/// | `starts_with(s, p)` | `s` begins with `p` (both strings) |
/// | `coalesce(a, b, …)` | the first argument that is not null |
///
/// The event and property names of `count`, `sum`, `last` and `first` must be string literals, so the
/// history the rules need is known when they load (``Expression/historyNeeds``).
///
/// ## Semantics
///
/// - **Null-safe.** A missing path, or a step into something that is not an object or list, is `null`.
///   Arithmetic with a non-number (including null) gives null, as do division or `%` by zero and
///   results that are not finite. Functions given the wrong kind of value give null (or false).
/// - **Equality.** `==` is true when both sides are the same kind and the same value: numbers
///   numerically, strings as Swift's `==` has it (Unicode canonical equivalence, so a precomposed `é`
///   equals `e` + combining accent; case matters), lists element-wise, objects by the same keys with
///   equal values in any order. Different kinds are never equal (`1 == "1"` is false), so
///   `null == null` is true and `x == null` tests for a missing value. `!=` is exactly `not ==`:
///   `user.tier != "gold"` holds for a user without a tier.
/// - **Ordering.** `<` `<=` `>` `>=` compare two numbers numerically or two strings lexicographically by
///   UTF-8 bytes (strings that are `==` are equal). Anything else — a null, mixed kinds, booleans,
///   lists — is false (on both `<` and `>=`).
/// - **Membership.** `x in list` is true when some element `== x`; `s in string` is substring search
///   (by UTF-8 bytes, as is `starts_with`); `k in object` is true when the object has key `k`. Anything
///   else is false; `not in` is exactly `not (x in y)`, so `"vip" not in user.tags` holds when the user
///   has no tags.
/// - **Logic.** `and`/`or` short-circuit and yield booleans by truthiness (``Value/isTruthy``: null,
///   false, 0, "" and empty lists/objects are false); `not` likewise.
/// - **Time.** Timestamps are RFC 3339 strings (read with ``Timestamp/init(iso8601:)``) or numbers of
///   seconds since the epoch. `last`, `first`, `now` and `date` produce instants; a comparison with an
///   instant on either side compares both sides as instants (`date(user.signup_at) < now()`,
///   `last("purchase") >= "2025-01-01"`), so differing text formats and zones compare correctly.
///   `hour()`, `minute()`, `weekday()`, `local_time()`, `local_date()` read `scope.now` in `scope.zone`;
///   literals compared with them are checked (`"9:30"` is normalised to `"09:30"`; `"Sat"` is an error).
///
/// ## Checks at compile time
///
/// Unknown names and functions (with suggestions), wrong argument counts, named arguments other than
/// `within:` on `count`/`sum`, `within:` that is not a positive duration literal, history names that are
/// not string literals, roots not available in the context, and type errors when both sides' kinds are
/// known (`"a" > 3`, `true + 1`, `x in 5`, `1 == "1"`, `hour() == "9"`). Errors carry the 0-based UTF-8
/// column in the expression text.
public enum ExpressionCompiler {
    /// Compiles `text`, allowing paths under `allowedRoots` only.
    public static func compile(_ text: String, allowedRoots: Set<PathRoot>) -> Result<Expression, ExpressionError> {
        compile(text, allowedRoots: allowedRoots, unavailableReasons: [:])
    }

    /// Compiles `text`; a path under a root outside `allowedRoots` is refused with the reason given for that
    /// root in `unavailableReasons` (or a default one), as in "`event` is not available here: <reason>".
    public static func compile(
        _ text: String, allowedRoots: Set<PathRoot>, unavailableReasons: [PathRoot: String]
    ) -> Result<Expression, ExpressionError> {
        compile(text, allowedRoots: allowedRoots, unavailableReasons: unavailableReasons, specialize: true)
    }

    /// `specialize: false` lowers every comparison and membership test to its general node, for tests
    /// that check the specialised nodes against the general ones.
    static func compile(
        _ text: String, allowedRoots: Set<PathRoot>, unavailableReasons: [PathRoot: String], specialize: Bool
    ) -> Result<Expression, ExpressionError> {
        let syntax: Syntax
        switch ExpressionParser.parse(text) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): syntax = parsed
        }
        var checker = Checker(allowedRoots: allowedRoots, reasons: defaultReasons.merging(unavailableReasons) { $1 })
        checker.specialize = specialize
        do throws(ExpressionError) {
            let checked = try checker.check(syntax)
            let nonNull = checked.type.subtracting(.null)
            let staticType: ValueKind? = nonNull.isEmpty ? .null : nonNull.singleKind
            return .success(
                Expression(
                    source: text, node: checked.node, historyNeeds: checker.needs, roots: checker.roots,
                    userPaths: checker.userPaths, staticType: staticType, canBeNull: checked.type.contains(.null),
                    inputNodes: checker.inputs, clockReads: checker.clockReads
                )
            )
        } catch {
            return .failure(error)
        }
    }

    /// Why each root may be missing, as the usual contexts have it.
    public static let defaultReasons: [PathRoot: String] = [
        .event: "this condition is evaluated when a timer fires, not on an event",
        .enrollment: "this condition is evaluated before the user is enrolled",
        .journey: "this condition is not evaluated inside a journey",
        .user: "this condition is not evaluated for a user",
    ]
}

/// The kinds a value can have at run time, as far as the checker knows.
struct TypeSet: OptionSet, Hashable, Sendable {
    let rawValue: UInt8
    static let null = TypeSet(rawValue: 1)
    static let boolean = TypeSet(rawValue: 2)
    static let number = TypeSet(rawValue: 4)
    static let string = TypeSet(rawValue: 8)
    static let list = TypeSet(rawValue: 16)
    static let object = TypeSet(rawValue: 32)
    static let any: TypeSet = [.null, .boolean, .number, .string, .list, .object]

    static let kinds: [(TypeSet, ValueKind, String)] = [
        (.boolean, .boolean, "a boolean"), (.number, .number, "a number"), (.string, .string, "a string"),
        (.list, .list, "a list"), (.object, .object, "an object"), (.null, .null, "null"),
    ]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(of value: Value) {
        switch value {
        case .null: self = .null
        case .bool: self = .boolean
        case .number: self = .number
        case .string: self = .string
        case .array: self = .list
        case .object: self = .object
        }
    }

    var singleKind: ValueKind? {
        let matches = Self.kinds.filter { contains($0.0) }
        return matches.count == 1 ? matches[0].1 : nil
    }

    /// "a number", "a string or null", "any value".
    var phrase: String {
        if self == .any { return "any value" }
        return Self.kinds.filter { contains($0.0) }.map(\.2).joined(separator: " or ")
    }
}

enum Builtin: String, CaseIterable {
    case count, sum, last, first
    case daysSince = "days_since", hoursSince = "hours_since", minutesSince = "minutes_since"
    case now, date, hour, minute, weekday
    case localTime = "local_time", localDate = "local_date"
    case exists, lower, upper, len, contains
    case startsWith = "starts_with"
    case coalesce

    var positional: ClosedRange<Int> {
        switch self {
        case .now, .hour, .minute, .weekday, .localTime, .localDate: return 0...0
        case .count, .last, .first, .daysSince, .hoursSince, .minutesSince, .date, .exists, .lower, .upper, .len:
            return 1...1
        case .sum, .contains, .startsWith: return 2...2
        case .coalesce: return 2...Int.max
        }
    }

    var labels: [String] { self == .count || self == .sum ? ["within"] : [] }

    var usage: String {
        switch self {
        case .count: return "count(\"event\") or count(\"event\", within: 30d)"
        case .sum: return "sum(\"event\", \"property\") or sum(\"event\", \"property\", within: 30d)"
        case .last, .first: return "\(rawValue)(\"event\")"
        case .daysSince, .hoursSince, .minutesSince, .date: return "\(rawValue)(timestamp)"
        case .now, .hour, .minute, .weekday, .localTime, .localDate: return "\(rawValue)()"
        case .exists, .lower, .upper, .len: return "\(rawValue)(value)"
        case .contains: return "contains(list_or_string, value)"
        case .startsWith: return "starts_with(string, prefix)"
        case .coalesce: return "coalesce(a, b, …)"
        }
    }
}

/// How a string-valued expression's values look, so literals compared with it can be checked.
enum Flavor {
    case plain
    /// `now()`, `date(x)`, `last(e)`, `first(e)`: compared as instants.
    case instant
    /// `weekday()`: "mon" … "sun".
    case weekday
    /// `local_time()`: "HH:MM".
    case timeOfDay
    /// `local_date()`: "YYYY-MM-DD".
    case localDate
}

/// A checked subexpression: its evaluation form and what is known about its values.
struct Checked {
    var node: Node
    var type: TypeSet
    var flavor: Flavor = .plain
    /// Where it starts, for messages.
    var column: Int
    /// The elements, when this is a list literal.
    var elements: [Checked]? = nil

    var constant: Value? {
        if case .constant(let value) = node { return value }
        return nil
    }
}

/// A scope for folding constant subexpressions; pure nodes never ask it anything.
private struct NoScope: ExpressionScope {
    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value { .null }
    func count(event: String, within: TimeSpan?) -> Int { 0 }
    func sum(event: String, property: String, within: TimeSpan?) -> Double { 0 }
    func lastTime(event: String) -> Timestamp? { nil }
    func firstTime(event: String) -> Timestamp? { nil }
    var now: Timestamp { Timestamp(milliseconds: 0) }
    var zone: Zone { .utc }
}

/// Resolves names, checks kinds and arguments, collects what the expression reads, and lowers the syntax
/// tree into ``Node``s with constants folded.
struct Checker {
    let allowedRoots: Set<PathRoot>
    let reasons: [PathRoot: String]
    var needs: [HistoryNeed] = []
    var roots: Set<PathRoot> = []
    var userPaths: Set<String> = []
    var inputs: [(text: String, node: Node)] = []
    /// Whether to use the specialised comparison and membership nodes.
    var specialize = true
    var clockReads = 0

    init(allowedRoots: Set<PathRoot>, reasons: [PathRoot: String]) {
        self.allowedRoots = allowedRoots
        self.reasons = reasons
    }

    mutating func check(_ syntax: Syntax) throws(ExpressionError) -> Checked {
        var checked = try checkNode(syntax)
        // A folded constant's kind is known exactly (`1 + 2` is a number, never null).
        if let value = checked.constant { checked.type = TypeSet(of: value) }
        return checked
    }

    private mutating func checkNode(_ syntax: Syntax) throws(ExpressionError) -> Checked {
        let column = syntax.column
        switch syntax.kind {
        case .number(let n): return Checked(node: .constant(.number(n)), type: .number, column: column)
        case .string(let s): return Checked(node: .constant(.string(s)), type: .string, column: column)
        case .boolean(let b): return Checked(node: .constant(.bool(b)), type: .boolean, column: column)
        case .null: return Checked(node: .constant(.null), type: .null, column: column)
        case .duration(let span):
            throw ExpressionError(
                column: column,
                message: "a duration such as `\(span)` can only be the `within:` of `count` or `sum`"
            )
        case .list(let elements):
            var checked: [Checked] = []
            for element in elements { checked.append(try check(element)) }
            let values = checked.compactMap(\.constant)
            let node: Node = values.count == checked.count ? .constant(.array(values)) : .list(checked.map(\.node))
            return Checked(node: node, type: .list, column: column, elements: checked)
        case .path(let root, let components):
            return try path(root, components, syntax)
        case .unary(.not, let operand):
            let checked = try check(operand)
            return Checked(node: fold(.not(checked.node), checked), type: .boolean, column: column)
        case .unary(.negate, let operand):
            let checked = try check(operand)
            try arithmeticOperand(checked, "-")
            return Checked(node: fold(.negate(checked.node), checked), type: [.number, .null], column: column)
        case .binary(let op, let leftSyntax, let rightSyntax):
            let left = try check(leftSyntax)
            let right = try check(rightSyntax)
            return try binary(op, left, right, operatorColumn: column)
        case .call(let name, let arguments):
            return try call(name, arguments, syntax)
        }
    }

    // MARK: Paths

    private mutating func path(_ root: PathRoot, _ components: [PathComponent], _ syntax: Syntax)
        throws(ExpressionError) -> Checked
    {
        guard allowedRoots.contains(root) else {
            let reason = reasons[root].map { ": " + $0 } ?? ""
            throw ExpressionError(column: syntax.column, message: "`\(root.rawValue)` is not available here\(reason)")
        }
        roots.insert(root)
        var keys: [String] = []
        var steps: [PathStep] = []
        for component in components {
            switch component {
            case .key(let key) where steps.isEmpty: keys.append(key)
            case .key(let key): steps.append(.key(key))
            case .index(let index): steps.append(.index(index))
            }
        }
        if root == .user, let first = keys.first { userPaths.insert(first) }
        let node: Node = steps.isEmpty ? .path(root, keys) : .pathSteps(root, keys, steps)
        recordInput(syntax, node)
        return Checked(node: node, type: .any, column: syntax.column)
    }

    private mutating func recordInput(_ syntax: Syntax, _ node: Node) {
        let text = ExpressionPrinter.print(syntax)
        if !inputs.contains(where: { $0.text == text }) { inputs.append((text, node)) }
    }

    // MARK: Operators

    private func fold(_ node: Node, _ operands: Checked...) -> Node {
        operands.allSatisfy { $0.constant != nil } ? .constant(node.evaluate(NoScope())) : node
    }

    private func binary(_ op: BinaryOperator, _ left: Checked, _ right: Checked, operatorColumn: Int)
        throws(ExpressionError) -> Checked
    {
        switch op {
        case .and:
            return Checked(node: fold(.and(left.node, right.node), left, right), type: .boolean, column: left.column)
        case .or:
            return Checked(node: fold(.or(left.node, right.node), left, right), type: .boolean, column: left.column)
        case .add, .subtract, .multiply, .divide, .remainder:
            try arithmeticOperand(left, op.rawValue)
            try arithmeticOperand(right, op.rawValue)
            let arithmetic: Arithmetic
            switch op {
            case .add: arithmetic = .add
            case .subtract: arithmetic = .subtract
            case .multiply: arithmetic = .multiply
            case .divide: arithmetic = .divide
            default: arithmetic = .remainder
            }
            return Checked(
                node: fold(.arithmetic(arithmetic, left.node, right.node), left, right), type: [.number, .null],
                column: left.column
            )
        case .equal, .notEqual:
            return try equality(left, right, negated: op == .notEqual, symbol: op.rawValue, column: operatorColumn)
        case .less, .lessEqual, .greater, .greaterEqual:
            let comparison: Comparison
            switch op {
            case .less: comparison = .less
            case .lessEqual: comparison = .lessEqual
            case .greater: comparison = .greater
            default: comparison = .greaterEqual
            }
            return try ordering(comparison, left, right, symbol: op.rawValue, column: operatorColumn)
        case .in, .notIn:
            return try membership(left, in: right, negated: op == .notIn, column: operatorColumn)
        }
    }

    private func arithmeticOperand(_ operand: Checked, _ symbol: String) throws(ExpressionError) {
        if operand.type == .null {
            throw ExpressionError(column: operand.column, message: "arithmetic with `null` is always null")
        }
        let kinds = operand.type.subtracting(.null)
        if !kinds.isEmpty && !kinds.contains(.number) {
            let hint = kinds == .string && symbol == "+" ? " (strings cannot be joined)" : ""
            throw ExpressionError(
                column: operand.column, message: "`\(symbol)` needs numbers, but this is \(kinds.phrase)\(hint)")
        }
    }

    private func equality(_ left: Checked, _ right: Checked, negated: Bool, symbol: String, column: Int)
        throws(ExpressionError) -> Checked
    {
        var left = left
        var right = right
        if left.flavor == .instant || right.flavor == .instant {
            left = try instantOperand(left, symbol: symbol)
            right = try instantOperand(right, symbol: symbol)
            return Checked(
                node: fold(.compareInstants(negated ? .notEqual : .equal, left.node, right.node), left, right),
                type: .boolean,
                column: left.column)
        }
        left = try literal(left, comparedWith: right)
        right = try literal(right, comparedWith: left)
        if left.type.isDisjoint(with: right.type) {
            throw ExpressionError(
                column: column,
                message: "`\(symbol)` between \(left.type.phrase) and \(right.type.phrase) is always "
                    + (negated ? "true" : "false")
            )
        }
        return Checked(
            node: fold(comparisonNode(negated ? .notEqual : .equal, left, right), left, right), type: .boolean,
            column: left.column)
    }

    private func ordering(_ comparison: Comparison, _ left: Checked, _ right: Checked, symbol: String, column: Int)
        throws(ExpressionError) -> Checked
    {
        if left.type == .null || right.type == .null {
            throw ExpressionError(
                column: column, message: "`\(symbol)` with null is always false; use `== null` or `exists(…)`")
        }
        var left = left
        var right = right
        if left.flavor == .instant || right.flavor == .instant {
            left = try instantOperand(left, symbol: symbol)
            right = try instantOperand(right, symbol: symbol)
            return Checked(
                node: fold(.compareInstants(comparison, left.node, right.node), left, right), type: .boolean,
                column: left.column)
        }
        if left.flavor == .weekday || right.flavor == .weekday {
            throw ExpressionError(
                column: column,
                message: "weekdays do not order as text; list them instead, as in `weekday() in [\"sat\", \"sun\"]`")
        }
        left = try literal(left, comparedWith: right)
        right = try literal(right, comparedWith: left)
        let orderable: TypeSet = [.number, .string]
        for operand in [left, right] {
            let kinds = operand.type.subtracting(.null)
            if !kinds.isEmpty && kinds.isDisjoint(with: orderable) {
                throw ExpressionError(
                    column: operand.column, message: "`\(symbol)` compares numbers or strings, not \(kinds.phrase)")
            }
        }
        if left.type.intersection(orderable).isDisjoint(with: right.type.intersection(orderable)) {
            throw ExpressionError(
                column: column,
                message: "`\(symbol)` between \(left.type.phrase) and \(right.type.phrase) is always false")
        }
        return Checked(
            node: fold(comparisonNode(comparison, left, right), left, right), type: .boolean, column: left.column)
    }

    /// A comparison node, with a constant operand moved to the right and `path OP constant` fused.
    private func comparisonNode(_ comparison: Comparison, _ left: Checked, _ right: Checked) -> Node {
        guard specialize else { return .compare(comparison, left.node, right.node) }
        func withConstant(_ comparison: Comparison, _ node: Node, _ constant: Value) -> Node {
            switch (node, constant) {
            case (.path(let root, let keys), .number(let n)): return .compareFieldNumber(comparison, root, keys, n)
            case (.path(let root, let keys), .string(let s)): return .compareFieldString(comparison, root, keys, s)
            case (.path(let root, let keys), _): return .compareField(comparison, root, keys, constant)
            case (_, .number(let n)): return .compareNumber(comparison, node, n)
            default: break
            }
            return .compareConstant(comparison, node, constant)
        }
        if let constant = right.constant { return withConstant(comparison, left.node, constant) }
        if let constant = left.constant { return withConstant(comparison.swapped, right.node, constant) }
        return .compare(comparison, left.node, right.node)
    }

    private func membership(
        _ needle: Checked, in haystack: Checked, negated: Bool, column: Int, asContains: Bool = false
    ) throws(ExpressionError) -> Checked {
        let containers: TypeSet = [.list, .string, .object]
        let kinds = haystack.type.subtracting(.null)
        if kinds.isEmpty || kinds.isDisjoint(with: containers) {
            let place = asContains ? "`contains` needs a list, a string or an object first" :
                "`in` needs a list, a string or an object on the right"
            throw ExpressionError(column: haystack.column, message: "\(place), not \(haystack.type.phrase)")
        }
        if kinds == .string && !needle.type.contains(.string) {
            throw ExpressionError(
                column: needle.column, message: "only a string can be in a string, not \(needle.type.phrase)")
        }
        if kinds == .object && !needle.type.contains(.string) {
            throw ExpressionError(
                column: needle.column, message: "objects have string keys; \(needle.type.phrase) is never one")
        }
        if var elements = haystack.elements {
            var elementTypes: TypeSet = []
            for i in elements.indices {
                elements[i] = try literal(elements[i], comparedWith: needle)
                elementTypes.formUnion(elements[i].type)
            }
            if !elements.isEmpty && needle.type.isDisjoint(with: elementTypes) {
                throw ExpressionError(
                    column: column,
                    message: "\(needle.type.phrase) is never in a list of \(elementTypes.phrase): this is always "
                        + (negated ? "true" : "false"))
            }
            let values = elements.compactMap(\.constant)
            let node: Node
            if !specialize {
                node = .member(needle.node, haystack.node, negated: negated)
            } else if values.count == elements.count {
                if case .path(let root, let keys) = needle.node {
                    let strings = values.compactMap(\.stringValue)
                    let numbers = values.compactMap(\.numberValue)
                    if strings.count == values.count {
                        node = .fieldInStrings(root, keys, strings, negated: negated)
                    } else if numbers.count == values.count {
                        node = .fieldInNumbers(root, keys, numbers, negated: negated)
                    } else {
                        node = .fieldInConstants(root, keys, values, negated: negated)
                    }
                } else {
                    node = .memberOfConstants(needle.node, values, negated: negated)
                }
            } else {
                node = .memberOfNodes(needle.node, elements.map(\.node), negated: negated)
            }
            return Checked(
                node: needle.constant != nil ? fold(node, needle, haystack) : node, type: .boolean,
                column: needle.column)
        }
        var node = Node.member(needle.node, haystack.node, negated: negated)
        if specialize, let constant = needle.constant, case .path(let root, let keys) = haystack.node {
            node = .constantInField(constant, root, keys, negated: negated)
        }
        return Checked(node: fold(node, needle, haystack), type: .boolean, column: needle.column)
    }

    /// An operand of a comparison with an instant: constants become instants (or errors).
    private func instantOperand(_ operand: Checked, symbol: String) throws(ExpressionError) -> Checked {
        let kinds = operand.type.subtracting(.null)
        if !kinds.isEmpty && kinds.isDisjoint(with: [.string, .number]) {
            throw ExpressionError(
                column: operand.column, message: "`\(symbol)` compares a time with \(kinds.phrase)")
        }
        guard let value = operand.constant, !value.isNull else { return operand }
        guard let instant = Node.instant(from: value) else {
            throw ExpressionError(
                column: operand.column,
                message: "\(value.jsonText) is not a timestamp; write RFC 3339, "
                    + "such as \"2025-01-31\" or \"2025-01-31T09:00:00+08:00\"")
        }
        var result = operand
        result.node = .instant(instant)
        result.flavor = .instant
        return result
    }

    /// A string literal compared with `weekday()`, `local_time()` or `local_date()`, checked and normalised.
    private func literal(_ operand: Checked, comparedWith other: Checked) throws(ExpressionError) -> Checked {
        guard case .string(let text)? = operand.constant else { return operand }
        var result = operand
        switch other.flavor {
        case .plain, .instant:
            break
        case .weekday:
            guard Node.weekdayNames.contains(text) else {
                let hint = Names.suggest(text, among: Node.weekdayNames)
                    ?? Node.weekdayNames.first { text.lowercased().hasPrefix($0) }
                throw ExpressionError(
                    column: operand.column,
                    message: "weekday() gives \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or \"sun\", "
                        + "never \(ExpressionPrinter.string(text))" + (hint.map { "; did you mean \"\($0)\"?" } ?? ""))
            }
        case .timeOfDay:
            guard let time = TimeOfDay(parsing: text) else {
                throw ExpressionError(
                    column: operand.column,
                    message: "\(ExpressionPrinter.string(text)) is not a time of day; local_time() gives \"HH:MM\", "
                        + "such as \"09:30\"")
            }
            result.node = .constant(.string(time.description))
        case .localDate:
            guard text.utf8.count == 10, Timestamp(iso8601: text) != nil else {
                throw ExpressionError(
                    column: operand.column,
                    message: "\(ExpressionPrinter.string(text)) is not a date; local_date() gives \"YYYY-MM-DD\"")
            }
        }
        return result
    }

    // MARK: Functions

    private mutating func call(_ name: String, _ arguments: [Argument], _ syntax: Syntax)
        throws(ExpressionError) -> Checked
    {
        let column = syntax.column
        guard let builtin = Builtin(rawValue: name) else {
            var message = "unknown function `\(name)`"
            if let suggestion = Names.suggest(name, among: Builtin.allCases.map(\.rawValue)) {
                message += "; did you mean `\(suggestion)`?"
            } else if PathRoot(rawValue: name) != nil {
                message = "`\(name)` is not a function; write a path such as `\(name).\(Names.example(PathRoot(rawValue: name)!))`"
            }
            throw ExpressionError(column: column, message: message)
        }
        // Arguments: positional first, then the labels the function takes, each once.
        var positional: [Syntax] = []
        var labeled: [String: Argument] = [:]
        for argument in arguments {
            guard let label = argument.label else {
                if let first = labeled.values.first {
                    throw ExpressionError(
                        column: argument.value.column,
                        message: "positional arguments come before `\(first.label!):`")
                }
                positional.append(argument.value)
                continue
            }
            guard builtin.labels.contains(label) else {
                var message =
                    builtin.labels.isEmpty
                    ? "`\(name)` takes no named arguments; usage: \(builtin.usage)"
                    : "`\(name)` has no argument `\(label):`; usage: \(builtin.usage)"
                if let suggestion = Names.suggest(label, among: builtin.labels) {
                    message = "`\(name)` has no argument `\(label):`; did you mean `\(suggestion):`?"
                }
                throw ExpressionError(column: argument.labelColumn, message: message)
            }
            guard labeled[label] == nil else {
                throw ExpressionError(column: argument.labelColumn, message: "`\(label):` is given twice")
            }
            labeled[label] = argument
        }
        if !builtin.positional.contains(positional.count) {
            let expected: String
            switch builtin.positional.lowerBound {
            case 0: expected = "takes no arguments"
            case _ where builtin.positional.upperBound == Int.max:
                expected = "takes at least \(builtin.positional.lowerBound) arguments"
            case 1: expected = "takes 1 argument"
            case let n: expected = "takes \(n) arguments"
            }
            let where_ = positional.count > builtin.positional.upperBound
                ? positional[builtin.positional.upperBound].column : column
            throw ExpressionError(
                column: where_,
                message: "`\(name)` \(expected), got \(positional.count); usage: \(builtin.usage)")
        }
        var within: TimeSpan? = nil
        if let argument = labeled["within"] {
            guard case .duration(let span) = argument.value.kind else {
                throw ExpressionError(
                    column: argument.value.column, message: "`within:` must be a duration, such as `30d` or `12h`")
            }
            guard span.milliseconds > 0 else {
                throw ExpressionError(column: argument.value.column, message: "`within:` must be longer than 0")
            }
            within = span
        }

        switch builtin {
        case .count, .sum, .last, .first:
            let event = try literalName(positional[0], of: builtin, what: "event")
            var node: Node
            var type: TypeSet = .number
            var flavor = Flavor.plain
            switch builtin {
            case .count:
                node = .count(event: event, within: within)
                addNeed(HistoryNeed(event: event, within: within))
            case .sum:
                let property = try literalName(positional[1], of: builtin, what: "property")
                node = .sum(event: event, property: property, within: within)
                addNeed(HistoryNeed(event: event, property: property, within: within))
            case .last:
                node = .last(event: event)
                (type, flavor) = ([.string, .null], .instant)
                addNeed(HistoryNeed(event: event))
            default:
                node = .first(event: event)
                (type, flavor) = ([.string, .null], .instant)
                addNeed(HistoryNeed(event: event))
            }
            recordInput(syntax, node)
            return Checked(node: node, type: type, flavor: flavor, column: column)

        case .daysSince, .hoursSince, .minutesSince:
            let operand = try instantArgument(try check(positional[0]), of: builtin)
            let unit: Int64 = builtin == .daysSince ? 86_400_000 : builtin == .hoursSince ? 3_600_000 : 60_000
            let node = Node.since(operand.node, unit: unit)
            recordInput(syntax, node)
            return Checked(node: node, type: [.number, .null], column: column)

        case .date:
            let operand = try instantArgument(try check(positional[0]), of: builtin)
            let node = fold(.date(operand.node), operand)
            return Checked(node: node, type: [.string, .null], flavor: .instant, column: column)

        case .now:
            recordInput(syntax, .now)
            return Checked(node: .now, type: .string, flavor: .instant, column: column)

        case .hour, .minute, .weekday, .localTime, .localDate:
            let clock: Clock
            var type: TypeSet = .string
            var flavor = Flavor.plain
            switch builtin {
            case .hour: (clock, type) = (.hour, .number)
            case .minute: (clock, type) = (.minute, .number)
            case .weekday: (clock, flavor) = (.weekday, .weekday)
            case .localTime: (clock, flavor) = (.localTime, .timeOfDay)
            default: (clock, flavor) = (.localDate, .localDate)
            }
            recordInput(syntax, .clock(clock))
            clockReads += 1
            return Checked(node: .clock(clock), type: type, flavor: flavor, column: column)

        case .exists:
            let operand = try check(positional[0])
            return Checked(node: fold(.exists(operand.node), operand), type: .boolean, column: column)

        case .lower, .upper:
            let operand = try check(positional[0])
            try argument(operand, of: builtin, accepts: .string)
            let node: Node = builtin == .lower ? .lower(operand.node) : .upper(operand.node)
            return Checked(node: fold(node, operand), type: [.string, .null], column: column)

        case .len:
            let operand = try check(positional[0])
            try argument(operand, of: builtin, accepts: [.string, .list, .object])
            return Checked(node: fold(.length(operand.node), operand), type: [.number, .null], column: column)

        case .contains:
            let haystack = try check(positional[0])
            let needle = try check(positional[1])
            var result = try membership(needle, in: haystack, negated: false, column: column, asContains: true)
            result.column = column
            return result

        case .startsWith:
            let string = try check(positional[0])
            let prefix = try check(positional[1])
            try argument(string, of: builtin, accepts: .string)
            try argument(prefix, of: builtin, accepts: .string)
            return Checked(
                node: fold(.startsWith(string.node, prefix.node), string, prefix), type: .boolean, column: column)

        case .coalesce:
            var operands: [Checked] = []
            for argument in positional { operands.append(try check(argument)) }
            var type: TypeSet = []
            for operand in operands { type.formUnion(operand.type.subtracting(.null)) }
            if operands.last!.type.contains(.null) { type.insert(.null) }
            let flavors = Set(operands.map(\.flavor))
            // A null literal never wins and a non-null literal always does.
            var kept: [Node] = []
            for operand in operands {
                if operand.constant?.isNull == true { continue }
                kept.append(operand.node)
                if operand.constant != nil { break }
            }
            let node: Node = kept.count == 1 ? kept[0] : kept.isEmpty ? .constant(.null) : .coalesce(kept)
            return Checked(
                node: node, type: type, flavor: flavors.count == 1 ? operands[0].flavor : .plain, column: column)
        }
    }

    private mutating func addNeed(_ need: HistoryNeed) {
        if !needs.contains(need) { needs.append(need) }
    }

    private func literalName(_ syntax: Syntax, of builtin: Builtin, what: String) throws(ExpressionError) -> String {
        guard case .string(let name) = syntax.kind, !name.isEmpty else {
            let example = builtin == .sum ? "sum(\"purchase\", \"price\")" : "\(builtin.rawValue)(\"purchase\")"
            throw ExpressionError(
                column: syntax.column,
                message: "the \(what) name must be a quoted string, as in `\(example)`, so that the history it "
                    + "needs is known when rules load")
        }
        return name
    }

    private func argument(_ operand: Checked, of builtin: Builtin, accepts: TypeSet) throws(ExpressionError) {
        let kinds = operand.type.subtracting(.null)
        if operand.type == .null || (!kinds.isEmpty && kinds.isDisjoint(with: accepts)) {
            throw ExpressionError(
                column: operand.column,
                message: "`\(builtin.rawValue)` needs \(accepts.phrase), not \(operand.type.phrase)")
        }
    }

    /// The timestamp argument of `days_since` and friends: a time, text or a number of epoch seconds.
    private func instantArgument(_ operand: Checked, of builtin: Builtin) throws(ExpressionError) -> Checked {
        try argument(operand, of: builtin, accepts: [.string, .number])
        return try instantOperand(operand, symbol: builtin.rawValue)
    }
}
