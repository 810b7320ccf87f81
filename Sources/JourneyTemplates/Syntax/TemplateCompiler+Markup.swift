import JourneyCore

// The markup inside `{{ … }}` and `{% … %}`: outputs, filters, conditions, expressions.
extension TemplateCompiler {
    /// Runs `body` over the lexemes of a tag's or output's markup; reports what it throws, or anything
    /// left over after it, and returns nil then.
    mutating func markup<T>(
        _ token: TemplateToken, _ body: (inout Cursor, inout TemplateCompiler) throws(SyntaxError) -> T?
    ) -> T? {
        do throws(SyntaxError) {
            var cursor = Cursor(lexemes: try MarkupScanner.scan(bytes, token.range))
            let result = try body(&cursor, &self)
            guard cursor.peek.kind == .end else {
                throw SyntaxError(cursor.peek.offset, "unexpected `\(cursor.peek.text)`\(Self.leftoverHint(token))")
            }
            return result
        } catch {
            report(error)
            return nil
        }
    }

    static func leftoverHint(_ token: TemplateToken) -> String {
        token.kind == .output ? ": expected `|` or `}}`" : ""
    }

    mutating func expectNoMarkup(_ token: TemplateToken) {
        _ = markup(token) { (_: inout Cursor, _: inout TemplateCompiler) throws(SyntaxError) -> Bool? in true }
    }

    mutating func compileOutputToken(_ token: TemplateToken) -> Node? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
            guard let output = try compiler.parseOutput(&c) else { return nil }
            return try compiler.place(output, at: token.start)
        }
    }

    /// Chooses the escaping of an output from where it stands.
    mutating func place(_ output: Output, at offset: Int) throws(SyntaxError) -> Node {
        var output = output
        switch mode {
        case .text, .header:
            output.escaper = .text
        case .html:
            let place: HTMLContext.Place
            switch html.placeOutput() {
            case .success(let p): place = p
            case .failure(let error): throw SyntaxError(offset, error.message)
            }
            enum Trust { case none, html, url }
            var trust = Trust.none
            if let last = output.filters.last {
                trust = last.producesHTML ? .html : (last.filter == .urlEncode ? .url : .none)
            } else if case .slot(let slot, let path) = output.expr, path.isEmpty, !untrustedSlots.contains(slot),
                !locals.contains(where: { $0.slot == slot })
            {
                // A `capture` renders template markup with its values already escaped.
                trust = .html
            }
            switch place {
            case .text: output.escaper = trust == .none ? .html : .text
            case .attribute(let quoted):
                output.escaper = !quoted ? .unquotedAttribute : (trust == .none ? .html : .text)
            case .urlStart(let quoted): output.escaper = trust == .url ? .text : .urlStart(quoted: quoted)
            case .urlPart(let quoted): output.escaper = trust == .url ? .text : .urlPart(quoted: quoted)
            }
        }
        return .output(output)
    }

    /// `expression | filter: args | …`, or nil for empty markup (`{{ }}` renders nothing).
    mutating func parseOutput(_ c: inout Cursor) throws(SyntaxError) -> Output? {
        guard c.peek.kind != .end else { return nil }
        var floatInput = false
        if case .number(_, let isFloat) = c.peek.kind { floatInput = isFloat }
        let expr = try parseExpression(&c)
        return Output(expr: expr, filters: try parseFilters(&c, floatInput: floatInput), escaper: .text)
    }

    mutating func parseFilters(_ c: inout Cursor, floatInput: Bool = false) throws(SyntaxError) -> [FilterCall] {
        var calls: [FilterCall] = []
        while c.accept(.pipe) {
            let nameLexeme = c.next()
            guard case .identifier(let name) = nameLexeme.kind else {
                throw SyntaxError(nameLexeme.offset, "expected a filter name after `|`, found `\(nameLexeme.text)`")
            }
            var args: [Expr] = []
            var keywords: [(name: String, value: Expr)] = []
            var firstArgument: Lexeme?
            if c.accept(.colon) {
                repeat {
                    if case .identifier(let keyword) = c.peek.kind, c.lexemes[c.index + 1].kind == .colon {
                        let at = c.next()
                        _ = c.next()
                        keywords.append((keyword, try parseExpression(&c)))
                        if let filter = Filter.byName[name], !filter.arity.keywords.contains(keyword) {
                            let known = filter.arity.keywords
                            throw SyntaxError(
                                at.offset,
                                known.isEmpty
                                    ? "`\(name)` takes no named option `\(keyword)`"
                                    : "`\(name)` has no option `\(keyword)`\(Suggestions.didYouMean(keyword, in: known))")
                        }
                    } else {
                        if firstArgument == nil { firstArgument = c.peek }
                        args.append(try parseExpression(&c))
                    }
                } while c.accept(.comma)
            }
            guard let filter = Filter.byName[name] else {
                if let alias = Filter.aliases[name] {
                    throw SyntaxError(nameLexeme.offset, "unknown filter \"\(name)\": use \"\(alias.rawValue)\"")
                }
                throw SyntaxError(
                    nameLexeme.offset,
                    "unknown filter \"\(name)\"\(Suggestions.didYouMean(name, in: Filter.allCases.map(\.rawValue)))")
            }
            let arity = filter.arity
            guard args.count >= arity.min, args.count <= arity.max else {
                let wanted =
                    arity.min == arity.max
                    ? (arity.min == 0 ? "no arguments" : arity.min == 1 ? "1 argument" : "\(arity.min) arguments")
                    : "\(arity.min) to \(arity.max) arguments"
                throw SyntaxError(nameLexeme.offset, "`\(name)` takes \(wanted), found \(args.count)")
            }
            var call = FilterCall(filter: filter, args: args, keywords: keywords, at: map.point(nameLexeme.offset))
            switch filter {
            case .date:
                if case .literal(.string(let format)) = args[0] { call.dateFormat = DateFormat(format) }
            case .dividedBy:
                if case .number(_, let isFloat)? = firstArgument?.kind { call.exactDivision = isFloat }
                // `9.0 | divided_by: 2`: a number written with a fraction divides exactly too.
                if calls.isEmpty, floatInput { call.exactDivision = true }
            case .newlineToBr:
                call.escapesInput = mode == .html
            default: break
            }
            calls.append(call)
        }
        return calls
    }

    mutating func parseCondition(_ token: TemplateToken) -> Condition? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Condition? in
            guard c.peek.kind != .end else {
                throw SyntaxError(c.peek.offset, "expected a condition after `\(token.name)`")
            }
            var parts = [try compiler.parseComparison(&c)]
            var conjunctions: [Bool] = []  // true: and
            while c.isWord("and") || c.isWord("or") {
                conjunctions.append(c.next().text == "and")
                parts.append(try compiler.parseComparison(&c))
            }
            // Liquid groups right to left: `a or b and c` is `a or (b and c)`, `a and b or c` is `a and (b or c)`.
            var condition = parts[parts.count - 1]
            for k in stride(from: conjunctions.count - 1, through: 0, by: -1) {
                condition = conjunctions[k] ? .and(parts[k], condition) : .or(parts[k], condition)
            }
            return condition
        }
    }

    mutating func parseComparison(_ c: inout Cursor) throws(SyntaxError) -> Condition {
        let left = try parseExpression(&c)
        let operatorAt = map.point(c.peek.offset)
        if case .comparison(let op) = c.peek.kind {
            _ = c.next()
            return .compare(left, op, try parseExpression(&c), operatorAt)
        }
        if c.acceptWord("contains") { return .compare(left, .contains, try parseExpression(&c), operatorAt) }
        return .value(left)
    }

    mutating func parseExpression(_ c: inout Cursor) throws(SyntaxError) -> Expr {
        expressionDepth += 1
        defer { expressionDepth -= 1 }
        let lexeme = c.next()
        guard expressionDepth <= Self.maxExpressionDepth else {
            throw SyntaxError(lexeme.offset, "expression nested too deeply")
        }
        switch lexeme.kind {
        case .string(let s): return .literal(.string(s))
        case .number(let d, _): return .literal(.number(d))
        case .leftBracket:
            // `{{ ['name with spaces'] }}`: a top-level variable named by a string, or by an expression.
            let key = try parseExpression(&c)
            guard c.accept(.rightBracket) else { throw SyntaxError(c.peek.offset, "expected `]`") }
            if case .literal(.string(let name)) = key { return resolve(name, try parsePath(&c), at: lexeme.offset) }
            guard scope == .open else {
                throw SyntaxError(lexeme.offset, "a variable's name in brackets must be written in quotes here")
            }
            return .named(key, try parsePath(&c))
        case .leftParen:
            let from = try parseExpression(&c)
            guard c.accept(.dotDot) else { throw SyntaxError(c.peek.offset, "expected `..` in a range like (1..5)") }
            let to = try parseExpression(&c)
            guard c.accept(.rightParen) else { throw SyntaxError(c.peek.offset, "expected `)` to close the range") }
            return .range(from, to)
        case .identifier(let name):
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "nil", "null": return .literal(.null)
            case "empty": return .empty
            case "blank": return .blank
            default: break
            }
            return resolve(name, try parsePath(&c), at: lexeme.offset)
        default:
            throw SyntaxError(lexeme.offset, "expected a value, found `\(lexeme.text)`")
        }
    }

    /// `.name`, `["name"]`, `[0]` and `[expression]` steps after a variable's name.
    mutating func parsePath(_ c: inout Cursor) throws(SyntaxError) -> [PathStep] {
        var path: [PathStep] = []
        while true {
            if c.accept(.dot) {
                let member = c.next()
                guard case .identifier(let key) = member.kind else {
                    throw SyntaxError(member.offset, "expected a name after `.`, found `\(member.text)`")
                }
                path.append(.key(key))
            } else if c.accept(.leftBracket) {
                let key = try parseExpression(&c)
                guard c.accept(.rightBracket) else { throw SyntaxError(c.peek.offset, "expected `]`") }
                switch key {
                case .literal(.string(let s)): path.append(.key(s))
                case .literal(.number(let d)):
                    path.append(d == d.rounded(.towardZero) && Swift.abs(d) < 1e15 ? .index(Int(d)) : .index(Int.max))
                default: path.append(.dynamic(key))
                }
            } else {
                break
            }
        }
        return path
    }
}

/// Reads lexemes one by one; past the end it keeps answering the end lexeme.
struct Cursor {
    let lexemes: [Lexeme]
    var index = 0

    var peek: Lexeme { lexemes[index] }

    mutating func next() -> Lexeme {
        let lexeme = lexemes[index]
        if index < lexemes.count - 1 { index += 1 }
        return lexeme
    }

    mutating func accept(_ kind: Lexeme.Kind) -> Bool {
        guard peek.kind == kind else { return false }
        _ = next()
        return true
    }

    func isWord(_ word: String) -> Bool {
        if case .identifier(let w) = peek.kind { return w == word }
        return false
    }

    mutating func acceptWord(_ word: String) -> Bool {
        guard isWord(word) else { return false }
        _ = next()
        return true
    }
}
