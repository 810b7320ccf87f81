import JourneyCore

/// The parsed form of a condition, before checking. Positions are kept for messages but are not part of
/// a node's identity: two trees are `==` when they have the same shape and literals, wherever they were
/// written (so that printing a tree and parsing it back gives an equal tree).
struct Syntax: Sendable, Equatable {
    indirect enum Kind: Sendable, Equatable {
        case number(Double)
        case string(String)
        case boolean(Bool)
        case null
        case duration(TimeSpan)
        case list([Syntax])
        /// A root and at least one component: `user.tier`, `event.properties["a b"]`, `user.tags[0]`.
        case path(PathRoot, [PathComponent])
        case unary(UnaryOperator, Syntax)
        case binary(BinaryOperator, Syntax, Syntax)
        case call(String, [Argument])
    }

    var kind: Kind
    /// The 0-based UTF-8 column where the node starts; for a binary operator, the operator's column.
    var column: Int
    /// Levels of nesting below and including this node (bounded by the parser, so that checking and
    /// evaluation, which recurse, cannot exhaust a thread's stack).
    let depth: Int

    init(_ kind: Kind, at column: Int) {
        self.kind = kind
        self.column = column
        switch kind {
        case .list(let elements): depth = 1 + (elements.map(\.depth).max() ?? 0)
        case .unary(_, let operand): depth = 1 + operand.depth
        case .binary(_, let left, let right): depth = 1 + max(left.depth, right.depth)
        case .call(_, let arguments): depth = 1 + (arguments.map(\.value.depth).max() ?? 0)
        default: depth = 1
        }
    }

    /// The deepest tree the parser accepts.
    static let maximumDepth = 200

    static func == (a: Syntax, b: Syntax) -> Bool { a.kind == b.kind }
}

enum PathComponent: Sendable, Equatable, Hashable {
    case key(String)
    /// A list position; negative counts from the end (`[-1]` is the last element).
    case index(Int)
}

struct Argument: Sendable, Equatable {
    /// `within` in `within: 30d`; nil for positional arguments.
    var label: String?
    var labelColumn: Int
    var value: Syntax

    static func == (a: Argument, b: Argument) -> Bool { a.label == b.label && a.value == b.value }
}

enum UnaryOperator: String, Sendable, Equatable {
    case not
    case negate = "-"
}

enum BinaryOperator: String, Sendable, Equatable, CaseIterable {
    case or, and
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case `in`, notIn = "not in"
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"

    /// Binding power: higher binds tighter.
    var precedence: Int {
        switch self {
        case .or: return Precedence.or
        case .and: return Precedence.and
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .in, .notIn: return Precedence.comparison
        case .add, .subtract: return Precedence.additive
        case .multiply, .divide, .remainder: return Precedence.multiplicative
        }
    }

    var isComparison: Bool { precedence == Precedence.comparison }
    var isArithmetic: Bool { precedence >= Precedence.additive }
    var isOrdering: Bool { self == .less || self == .lessEqual || self == .greater || self == .greaterEqual }
}

enum Precedence {
    static let or = 1
    static let and = 2
    /// The operand of `not` binds at this level: `not a == b` is `not (a == b)`, `not a and b` is
    /// `(not a) and b` (as in Python and SQL).
    static let not = 3
    /// Comparisons do not chain: `a < b < c` is an error.
    static let comparison = 4
    static let additive = 5
    static let multiplicative = 6
    static let unaryMinus = 7
}

/// A Pratt parser over the tokens of one expression.
struct ExpressionParser {
    private var tokens: [Token]
    private var position = 0
    private var nesting = 0

    static func parse(_ text: String) -> Result<Syntax, ExpressionError> {
        switch ExpressionLexer.tokenize(text) {
        case .failure(let error): return .failure(error)
        case .success(let tokens):
            var parser = ExpressionParser(tokens: tokens)
            do throws(ExpressionError) {
                return .success(try parser.parseAll())
            } catch {
                return .failure(error)
            }
        }
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    private var current: Token { tokens[position] }
    private var following: Token { tokens[min(position + 1, tokens.count - 1)] }
    private mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    private mutating func parseAll() throws(ExpressionError) -> Syntax {
        if current.kind == .end { throw ExpressionError(column: 0, message: "empty expression") }
        let syntax = try expression(0)
        guard current.kind == .end else {
            if case .symbol(.rightParen) = current.kind {
                throw ExpressionError(column: current.column, message: "unmatched `)`")
            }
            throw ExpressionError(
                column: current.column,
                message: "unexpected \(describe(current)); expected an operator such as `and`, `==` or `+`"
            )
        }
        return syntax
    }

    /// The binary operator at the current token, and how many tokens it spans.
    private func infixOperator() -> (BinaryOperator, width: Int)? {
        switch current.kind {
        case .keyword(.or), .symbol(.orOr): return (.or, 1)
        case .keyword(.and), .symbol(.andAnd): return (.and, 1)
        case .keyword(.in): return (.in, 1)
        case .keyword(.not): return following.kind == .keyword(.in) ? (.notIn, 2) : nil
        case .symbol(let symbol):
            switch symbol {
            case .equal: return (.equal, 1)
            case .notEqual: return (.notEqual, 1)
            case .less: return (.less, 1)
            case .lessEqual: return (.lessEqual, 1)
            case .greater: return (.greater, 1)
            case .greaterEqual: return (.greaterEqual, 1)
            case .plus: return (.add, 1)
            case .minus: return (.subtract, 1)
            case .star: return (.multiply, 1)
            case .slash: return (.divide, 1)
            case .percent: return (.remainder, 1)
            default: return nil
            }
        default: return nil
        }
    }

    private mutating func expression(_ minimum: Int) throws(ExpressionError) -> Syntax {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Syntax.maximumDepth { throw tooDeep(at: current.column) }
        var left = try prefix()
        var previousWasComparison = false
        while let (op, width) = infixOperator(), op.precedence >= minimum {
            let column = current.column
            if op.isComparison && previousWasComparison {
                throw ExpressionError(
                    column: column,
                    message: "comparisons cannot be chained; join them with `and`, as in `a < b and b < c`"
                )
            }
            for _ in 0..<width { advance() }
            // All binary operators are left-associative; comparisons additionally refuse to chain.
            let right = try expression(op.precedence + 1)
            left = Syntax(.binary(op, left, right), at: column)
            if left.depth > Syntax.maximumDepth { throw tooDeep(at: column) }
            previousWasComparison = op.isComparison
        }
        if case .keyword(.not) = current.kind, following.kind != .keyword(.in) {
            throw ExpressionError(column: current.column, message: "unexpected `not`; did you mean `not in`?")
        }
        return left
    }

    private mutating func prefix() throws(ExpressionError) -> Syntax {
        let token = current
        switch token.kind {
        case .number(let n):
            advance()
            return Syntax(.number(n), at: token.column)
        case .string(let s):
            advance()
            return Syntax(.string(s), at: token.column)
        case .duration(let span):
            advance()
            return Syntax(.duration(span), at: token.column)
        case .keyword(.true):
            advance()
            return Syntax(.boolean(true), at: token.column)
        case .keyword(.false):
            advance()
            return Syntax(.boolean(false), at: token.column)
        case .keyword(.null):
            advance()
            return Syntax(.null, at: token.column)
        case .keyword(.not), .symbol(.bang):
            advance()
            let operand = try expression(Precedence.not)
            return Syntax(.unary(.not, operand), at: token.column)
        case .symbol(.minus):
            advance()
            let operand = try expression(Precedence.unaryMinus)
            return Syntax(.unary(.negate, operand), at: token.column)
        case .symbol(.leftParen):
            advance()
            let inner = try expression(0)
            guard case .symbol(.rightParen) = current.kind else {
                throw ExpressionError(
                    column: current.column,
                    message: "expected `)` to close the `(` at column \(token.column), found \(describe(current))"
                )
            }
            advance()
            return inner
        case .symbol(.leftBracket):
            advance()
            var elements: [Syntax] = []
            while true {
                if case .symbol(.rightBracket) = current.kind { break }
                elements.append(try expression(0))
                if case .symbol(.comma) = current.kind {
                    advance()
                    continue
                }
                guard case .symbol(.rightBracket) = current.kind else {
                    throw ExpressionError(
                        column: current.column,
                        message: "expected `,` or `]` in the list, found \(describe(current))"
                    )
                }
            }
            advance()
            return Syntax(.list(elements), at: token.column)
        case .identifier(let name):
            advance()
            if case .symbol(.leftParen) = current.kind { return try call(name, at: token.column) }
            if let root = PathRoot(rawValue: name) { return try path(root, at: token) }
            throw ExpressionError(column: token.column, message: Names.unknownName(name))
        case .end:
            throw ExpressionError(column: token.column, message: "unexpected end of expression; expected a value")
        default:
            throw ExpressionError(column: token.column, message: "expected a value, found \(describe(token))")
        }
    }

    private mutating func call(_ name: String, at column: Int) throws(ExpressionError) -> Syntax {
        advance()  // (
        var arguments: [Argument] = []
        while true {
            if case .symbol(.rightParen) = current.kind { break }
            var label: String? = nil
            let labelColumn = current.column
            if case .identifier(let word) = current.kind, case .symbol(.colon) = following.kind {
                label = word
                advance()
                advance()
            }
            let value = try expression(0)
            arguments.append(Argument(label: label, labelColumn: labelColumn, value: value))
            if case .symbol(.comma) = current.kind {
                advance()
                continue
            }
            guard case .symbol(.rightParen) = current.kind else {
                throw ExpressionError(
                    column: current.column,
                    message: "expected `,` or `)` in the arguments of `\(name)`, found \(describe(current))"
                )
            }
        }
        advance()
        return Syntax(.call(name, arguments), at: column)
    }

    private mutating func path(_ root: PathRoot, at rootToken: Token) throws(ExpressionError) -> Syntax {
        var components: [PathComponent] = []
        loop: while true {
            switch current.kind {
            case .symbol(.dot):
                advance()
                switch current.kind {
                case .identifier(let key): components.append(.key(key))
                case .keyword(let keyword): components.append(.key(keyword.rawValue))
                default:
                    throw ExpressionError(
                        column: current.column,
                        message: "expected a name after `.`; write other keys as `[\"key\"]`"
                    )
                }
                advance()
            case .symbol(.leftBracket):
                let open = current.column
                advance()
                var negative = false
                if case .symbol(.minus) = current.kind {
                    negative = true
                    advance()
                }
                switch current.kind {
                case .string(let key) where !negative: components.append(.key(key))
                case .number(let n) where n == n.rounded(.towardZero) && n < 1e15:
                    components.append(.index(negative ? -Int(n) : Int(n)))
                default:
                    throw ExpressionError(
                        column: current.column,
                        message: "a path index must be a string or a whole number, like `[\"key\"]` or `[0]`"
                    )
                }
                advance()
                guard case .symbol(.rightBracket) = current.kind else {
                    throw ExpressionError(
                        column: current.column,
                        message: "expected `]` to close the `[` at column \(open), found \(describe(current))"
                    )
                }
                advance()
            default:
                break loop
            }
        }
        guard !components.isEmpty else {
            throw ExpressionError(
                column: rootToken.column,
                message: "`\(root.rawValue)` needs a path, such as `\(root.rawValue).\(Names.example(root))`"
            )
        }
        if case .index = components[0] {
            throw ExpressionError(
                column: rootToken.end,
                message: "`\(root.rawValue)` is not a list; start with a key, such as `\(root.rawValue).\(Names.example(root))`"
            )
        }
        return Syntax(.path(root, components), at: rootToken.column)
    }

    private func tooDeep(at column: Int) -> ExpressionError {
        ExpressionError(
            column: column,
            message: "expression is nested too deeply (more than \(Syntax.maximumDepth) levels); split it up")
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .number(let n): return "number `\(ExpressionPrinter.number(n))`"
        case .string: return "a string"
        case .duration(let span): return "duration `\(span)`"
        case .identifier(let name): return "`\(name)`"
        case .keyword(let keyword): return "`\(keyword.rawValue)`"
        case .symbol(let symbol): return "`\(symbol.rawValue)`"
        case .end: return "the end of the expression"
        }
    }
}

/// Names, suggestions and wording shared by the parser and the checker.
enum Names {
    static func example(_ root: PathRoot) -> String {
        switch root {
        case .event: return "properties.price"
        case .user: return "tier"
        case .enrollment: return "entered_at"
        case .journey: return "id"
        }
    }

    static func unknownName(_ name: String) -> String {
        if Builtin(rawValue: name) != nil {
            return "`\(name)` is a function; call it as `\(name)(…)`"
        }
        switch name {
        case "properties", "traits", "context", "timestamp", "name":
            return "unknown name `\(name)`; did you mean `event.\(name)`?"
        case "profile": return "unknown name `\(name)`; did you mean `user`?"
        case "True", "TRUE": return "unknown name `\(name)`; did you mean `true`?"
        case "False", "FALSE": return "unknown name `\(name)`; did you mean `false`?"
        case "nil", "None", "NULL", "Null", "undefined": return "unknown name `\(name)`; did you mean `null`?"
        case "AND", "And": return "unknown name `\(name)`; did you mean `and`?"
        case "OR", "Or": return "unknown name `\(name)`; did you mean `or`?"
        case "NOT", "Not": return "unknown name `\(name)`; did you mean `not`?"
        default: break
        }
        let candidates = PathRoot.allCases.map(\.rawValue) + ["true", "false", "null"]
        if let suggestion = suggest(name, among: candidates) {
            return "unknown name `\(name)`; did you mean `\(suggestion)`?"
        }
        return "unknown name `\(name)`; paths start with `event.`, `user.`, `enrollment.` or `journey.`, "
            + "and strings need quotes"
    }

    /// The closest candidate within a small edit distance (case-insensitive), if any.
    static func suggest(_ name: String, among candidates: [String]) -> String? {
        let lowered = Array(name.lowercased().utf8)
        var best: (String, Int)? = nil
        for candidate in candidates {
            let distance = editDistance(lowered, Array(candidate.utf8))
            let limit = max(1, min(2, candidate.utf8.count / 3))
            if distance <= limit, distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var row = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            row[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    row[j] = min(row[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, row) = (previous, row, previous2)
        }
        return previous[b.count]
    }
}
