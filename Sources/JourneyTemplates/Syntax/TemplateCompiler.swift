import JourneyCore

/// Turns template source into the compiled tree of ``Node``s, reporting every problem it can find in one
/// pass: a bad tag is reported and skipped, and compilation goes on to the next.
struct TemplateCompiler {
    struct Compiled {
        var nodes: [Node]
        var slotCount: Int
        var rootBindings: [RootBinding]
        /// Each slot's variable name, for reports of undefined values.
        var slotNames: [String]
    }

    let map: SourceMap
    let mode: TemplateMode
    private var bytes: [UInt8] { map.bytes }
    private var tokens: [TemplateToken] = []
    private var position = 0
    private(set) var diagnostics: [TemplateDiagnostic] = []
    private var html = HTMLContext()
    /// Names set by `assign` or `capture` anywhere in the template → their slot.
    private var variables: [String: Int] = [:]
    /// Slots some `assign` writes (or that start as a context root): what they hold may be data.
    private var untrustedSlots: Set<Int> = []
    private var slotCount = 0
    private var slotNames: [String] = []
    private var rootBindings: [RootBinding] = []
    /// The `for` loops around the tag being compiled, innermost last.
    private var loops: [(name: String, slot: Int)] = []
    private var blockDepth = 0
    /// The closing tags the blocks around the one being compiled wait for, innermost last.
    private var enclosing: [Set<String>] = []
    private var expressionDepth = 0
    private var abandoned = false

    static let maxBlockDepth = 64
    static let maxExpressionDepth = 16
    static let maxDiagnostics = 50

    static let knownTags = [
        "if", "elsif", "else", "endif", "unless", "endunless", "case", "when", "endcase", "for", "endfor", "break",
        "continue", "assign", "capture", "endcapture", "echo", "raw", "endraw", "comment", "endcomment",
    ]
    static let unsupportedTags: [String: String] = [
        "include": "templates cannot include other templates",
        "render": "templates cannot include other templates",
        "layout": "templates cannot include other templates",
        "section": "templates cannot include other templates",
        "tablerow": "use `for` with HTML table rows",
        "cycle": "use `forloop.index` with `modulo`",
        "increment": "use `assign` with `plus`",
        "decrement": "use `assign` with `minus`",
        "liquid": "write one tag per `{% … %}`",
        "ifchanged": "compare with a variable set by `assign`",
    ]

    init(source: String, mode: TemplateMode, file: String, line: Int, column: Int) {
        self.map = SourceMap(bytes: Array(source.utf8), file: file, line: line, column: column)
        self.mode = mode
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    mutating func compile() -> Compiled? {
        do throws(SyntaxError) {
            tokens = try TemplateLexer(bytes: bytes).tokenize()
        } catch {
            report(error)
            return nil
        }
        declareVariables()
        let (nodes, _) = parseBlock(opener: nil, until: [])
        guard !hasErrors else { return nil }
        return Compiled(nodes: nodes, slotCount: slotCount, rootBindings: rootBindings, slotNames: slotNames)
    }

    // MARK: - Diagnostics

    private mutating func report(_ error: SyntaxError, severity: TemplateDiagnostic.Severity = .error) {
        guard diagnostics.count < Self.maxDiagnostics else {
            abandoned = true
            return
        }
        diagnostics.append(map.diagnostic(at: error.offset, error.message, severity))
    }

    private mutating func warn(_ offset: Int, _ message: String) { report(SyntaxError(offset, message), severity: .warning) }

    // MARK: - Names

    /// Gives every name an `assign` or `capture` sets a slot before anything is compiled: Liquid variables
    /// are global and dynamic, so `{{ x }}` before `{% assign x %}` in a loop reads the last iteration's.
    private mutating func declareVariables() {
        for token in tokens where token.kind == .tag && (token.name == "assign" || token.name == "capture") {
            guard let lexemes = try? MarkupScanner.scan(bytes, token.range), let first = lexemes.first else { continue }
            let name: String
            switch first.kind {
            case .identifier(let s): name = s
            case .string(let s) where token.name == "capture": name = s
            default: continue
            }
            let slot: Int
            if let existing = variables[name] {
                slot = existing
            } else {
                slot = newSlot(name)
                variables[name] = slot
                if let root = TemplateContext.Root.byName[name] {
                    rootBindings.append(RootBinding(slot: slot, root: root))
                    untrustedSlots.insert(slot)
                }
            }
            if token.name == "assign" { untrustedSlots.insert(slot) }
        }
    }

    private mutating func newSlot(_ name: String) -> Int {
        slotCount += 1
        slotNames.append(name)
        return slotCount - 1
    }

    private mutating func resolve(_ name: String, _ path: [PathStep], at offset: Int) -> Expr {
        if let loop = loops.last(where: { $0.name == name }) { return .slot(loop.slot, path) }
        if name == "forloop" { return loopVariable(path, at: offset) }
        if let slot = variables[name] { return .slot(slot, path) }
        if let root = TemplateContext.Root.byName[name] {
            if let members = root.knownMembers, case .key(let member)? = path.first, !members.contains(member) {
                warn(
                    offset,
                    "\(name).\(member) is never set (\(name) has \(members.joined(separator: ", ")))\(Suggestions.didYouMean(member, in: members))"
                )
            }
            return .root(root, path)
        }
        var known = TemplateContext.Root.allCases.map(\.name) + variables.keys + loops.map(\.name)
        if !loops.isEmpty { known.append("forloop") }
        warn(offset, "unknown variable \"\(name)\" renders as nothing\(Suggestions.didYouMean(name, in: known))")
        return .literal(.null)
    }

    private mutating func loopVariable(_ path: [PathStep], at offset: Int) -> Expr {
        var rest = path[...]
        var depth = 0
        while case .key("parentloop")? = rest.first {
            depth += 1
            rest = rest.dropFirst()
        }
        guard depth < loops.count else {
            warn(offset, loops.isEmpty ? "forloop is only set inside a for loop" : "forloop.parentloop: there is no outer loop")
            return .literal(.null)
        }
        guard case .key(let name)? = rest.first else {
            return rest.isEmpty ? .loop(depth: depth, .whole, []) : .literal(.null)
        }
        guard let field = LoopField(rawValue: name), field != .whole else {
            let fields = LoopField.allCases.map(\.rawValue).filter { !$0.isEmpty } + ["parentloop"]
            warn(offset, "forloop has no \"\(name)\"\(Suggestions.didYouMean(name, in: fields))")
            return .literal(.null)
        }
        return .loop(depth: depth, field, Array(rest.dropFirst()))
    }

    // MARK: - Blocks

    /// Compiles tokens up to a tag named in `until` (returned) or the end of the source; reports an
    /// unclosed `opener` when the end comes first.
    private mutating func parseBlock(opener: TemplateToken?, until: Set<String>, closer: String = "")
        -> ([Node], TemplateToken?)
    {
        var nodes: [Node] = []
        if opener != nil { enclosing.append(until) }
        defer { if opener != nil { enclosing.removeLast() } }
        while position < tokens.count && !abandoned {
            let token = tokens[position]
            position += 1
            switch token.kind {
            case .text:
                let text = Array(bytes[token.range])
                if mode == .html { html.advance(text) }
                if case .text(let previous)? = nodes.last {
                    nodes[nodes.count - 1] = .text(previous + text)
                } else {
                    nodes.append(.text(text))
                }
            case .output:
                if let node = compileOutputToken(token) { nodes.append(node) }
            case .tag:
                if until.contains(token.name) { return (nodes, token) }
                if let opener, enclosing.dropLast().contains(where: { $0.contains(token.name) }) {
                    // It closes a block around this one: this one was left open.
                    report(
                        SyntaxError(
                            opener.start,
                            "`{% \(opener.name) %}` is not closed: expected `{% \(closer) %}` before `{% \(token.name) %}`"))
                    position -= 1
                    return (nodes, nil)
                }
                if let node = compileTag(token) { nodes.append(node) }
            }
        }
        if let opener, !abandoned {
            report(SyntaxError(opener.start, "`{% \(opener.name) %}` is not closed: expected `{% \(closer) %}`"))
        }
        return (nodes, nil)
    }

    private mutating func enterBlock(_ token: TemplateToken) -> Bool {
        guard blockDepth < Self.maxBlockDepth else {
            report(SyntaxError(token.start, "blocks are nested more than \(Self.maxBlockDepth) deep"))
            abandoned = true
            return false
        }
        blockDepth += 1
        return true
    }

    private mutating func compileTag(_ token: TemplateToken) -> Node? {
        switch token.name {
        case "if": return compileIf(token, negated: false)
        case "unless": return compileIf(token, negated: true)
        case "case": return compileCase(token)
        case "for": return compileFor(token)
        case "assign": return compileAssign(token)
        case "capture": return compileCapture(token)
        case "echo":
            return markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
                guard let output = try compiler.parseOutput(&c) else { return nil }
                return try compiler.place(output, at: token.start)
            }
        case "break", "continue":
            guard !loops.isEmpty else {
                report(SyntaxError(token.start, "`{% \(token.name) %}` is only allowed inside a for loop"))
                return nil
            }
            expectNoMarkup(token)
            return token.name == "break" ? .breakLoop : .continueLoop
        case "#":
            return nil
        case "":
            report(SyntaxError(token.start, "empty tag: expected a tag name after `{%`"))
            return nil
        case "else", "elsif", "when", "endif", "endunless", "endfor", "endcase", "endcapture", "endraw", "endcomment":
            report(SyntaxError(token.start, "unexpected `{% \(token.name) %}`\(Self.strayHint(token.name))"))
            return nil
        default:
            if let reason = Self.unsupportedTags[token.name] {
                report(SyntaxError(token.nameOffset, "the `\(token.name)` tag is not supported: \(reason)"))
            } else {
                report(
                    SyntaxError(
                        token.nameOffset,
                        "unknown tag \"\(token.name)\"\(Suggestions.didYouMean(token.name, in: Self.knownTags))"))
            }
            return nil
        }
    }

    private static func strayHint(_ name: String) -> String {
        switch name {
        case "else": return " outside an if, unless, case or for block"
        case "elsif": return " outside an if or unless block"
        case "when": return " outside a case block"
        default:
            let opener = name.dropFirst(3)
            return ": no `{% \(opener) %}` is open here"
        }
    }

    private mutating func compileIf(_ token: TemplateToken, negated: Bool) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        let closer = negated ? "endunless" : "endif"
        var condition = parseCondition(token) ?? .value(.literal(.bool(false)))
        if negated { condition = .not(condition) }
        var branches: [(Condition, [Node])] = []
        while true {
            let (body, end) = parseBlock(opener: token, until: ["elsif", "else", closer], closer: closer)
            branches.append((condition, body))
            guard let end else { return nil }
            switch end.name {
            case "elsif":
                condition = parseCondition(end) ?? .value(.literal(.bool(false)))
            case "else":
                expectNoMarkup(end)
                let (otherwise, last) = parseBlock(opener: token, until: [closer], closer: closer)
                guard let last else { return nil }
                expectNoMarkup(last)
                return .branches(branches, otherwise: otherwise)
            default:
                expectNoMarkup(end)
                return .branches(branches, otherwise: [])
            }
        }
    }

    private mutating func compileCase(_ token: TemplateToken) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        let subject =
            markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Expr? in
                try compiler.parseExpression(&c)
            } ?? .literal(.null)
        var whens: [When] = []
        // What stands between `case` and the first `when` is never rendered, as in Liquid.
        var (_, end) = parseBlock(opener: token, until: ["when", "else", "endcase"], closer: "endcase")
        while let tag = end {
            switch tag.name {
            case "when":
                let values =
                    markup(tag) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> [Expr]? in
                        var values = [try compiler.parseExpression(&c)]
                        while c.accept(.comma) || c.acceptWord("or") { values.append(try compiler.parseExpression(&c)) }
                        return values
                    } ?? []
                let (body, next) = parseBlock(opener: token, until: ["when", "else", "endcase"], closer: "endcase")
                whens.append(When(values: values, body: body))
                end = next
            case "else":
                expectNoMarkup(tag)
                let (otherwise, last) = parseBlock(opener: token, until: ["endcase"], closer: "endcase")
                guard let last else { return nil }
                expectNoMarkup(last)
                return .choose(subject, whens, otherwise: otherwise)
            default:
                expectNoMarkup(tag)
                return .choose(subject, whens, otherwise: [])
            }
        }
        return nil
    }

    private mutating func compileFor(_ token: TemplateToken) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        struct Header {
            var name: String
            var collection: Expr
            var limit: Expr?
            var offset: Expr?
            var reversed = false
        }
        let header = markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Header? in
            let nameLexeme = c.next()
            guard case .identifier(let name) = nameLexeme.kind else {
                throw SyntaxError(nameLexeme.offset, "expected a variable name after `for`, found `\(nameLexeme.text)`")
            }
            guard c.acceptWord("in") else {
                throw SyntaxError(c.peek.offset, "expected `in` after `for \(name)`, found `\(c.peek.text)`")
            }
            var header = Header(name: name, collection: try compiler.parseExpression(&c))
            while c.peek.kind != .end {
                let word = c.next()
                switch word.kind {
                case .identifier("reversed"): header.reversed = true
                case .identifier("limit"), .identifier("offset"):
                    guard c.accept(.colon) else { throw SyntaxError(c.peek.offset, "expected `:` after `\(word.text)`") }
                    if word.text == "offset", c.isWord("continue") {
                        throw SyntaxError(c.peek.offset, "`offset: continue` is not supported")
                    }
                    let value = try compiler.parseExpression(&c)
                    if word.text == "limit" { header.limit = value } else { header.offset = value }
                case .comma: continue
                default:
                    throw SyntaxError(
                        word.offset, "unexpected `\(word.text)` in `for`: expected `reversed`, `limit: n` or `offset: n`")
                }
            }
            return header
        }
        let slot = newSlot(header?.name ?? "")
        loops.append((header?.name ?? "", slot))
        let (body, end) = parseBlock(opener: token, until: ["else", "endfor"], closer: "endfor")
        loops.removeLast()
        guard let end else { return nil }
        var otherwise: [Node] = []
        expectNoMarkup(end)
        if end.name == "else" {
            let (elseBody, last) = parseBlock(opener: token, until: ["endfor"], closer: "endfor")
            guard let last else { return nil }
            expectNoMarkup(last)
            otherwise = elseBody
        }
        guard let header else { return nil }
        return .loop(
            ForLoop(
                slot: slot, collection: header.collection, limit: header.limit, offset: header.offset,
                reversed: header.reversed, body: body, otherwise: otherwise))
    }

    private mutating func compileAssign(_ token: TemplateToken) -> Node? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
            let target = c.next()
            guard case .identifier(let name) = target.kind, let slot = compiler.variables[name] else {
                throw SyntaxError(target.offset, "expected a variable name after `assign`, found `\(target.text)`")
            }
            guard c.accept(.equals) else {
                throw SyntaxError(c.peek.offset, "expected `=` after `assign \(name)`, found `\(c.peek.text)`")
            }
            guard let output = try compiler.parseOutput(&c) else {
                throw SyntaxError(c.peek.offset, "expected a value after `assign \(name) =`")
            }
            return .assign(slot, output)
        }
    }

    private mutating func compileCapture(_ token: TemplateToken) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        let slot = markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Int? in
            let target = c.next()
            switch target.kind {
            case .identifier(let name), .string(let name):
                guard let slot = compiler.variables[name] else { break }
                return slot
            default: break
            }
            throw SyntaxError(target.offset, "expected a variable name after `capture`, found `\(target.text)`")
        }
        let (body, end) = parseBlock(opener: token, until: ["endcapture"], closer: "endcapture")
        guard let end else { return nil }
        expectNoMarkup(end)
        guard let slot else { return nil }
        return .capture(slot, body)
    }

    // MARK: - Markup

    /// Runs `body` over the lexemes of a tag's or output's markup; reports what it throws, or anything
    /// left over after it, and returns nil then.
    private mutating func markup<T>(
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

    private static func leftoverHint(_ token: TemplateToken) -> String {
        token.kind == .output ? ": expected `|` or `}}`" : ""
    }

    private mutating func expectNoMarkup(_ token: TemplateToken) {
        _ = markup(token) { (_: inout Cursor, _: inout TemplateCompiler) throws(SyntaxError) -> Bool? in true }
    }

    private mutating func compileOutputToken(_ token: TemplateToken) -> Node? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
            guard let output = try compiler.parseOutput(&c) else { return nil }
            return try compiler.place(output, at: token.start)
        }
    }

    /// Chooses the escaping of an output from where it stands.
    private mutating func place(_ output: Output, at offset: Int) throws(SyntaxError) -> Node {
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
                !loops.contains(where: { $0.slot == slot })
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
        let expr = try parseExpression(&c)
        return Output(expr: expr, filters: try parseFilters(&c), escaper: .text)
    }

    mutating func parseFilters(_ c: inout Cursor) throws(SyntaxError) -> [FilterCall] {
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
            var call = FilterCall(filter: filter, args: args, keywords: keywords)
            switch filter {
            case .date:
                if case .literal(.string(let format)) = args[0] { call.dateFormat = DateFormat(format) }
            case .dividedBy:
                if case .number(_, let isFloat)? = firstArgument?.kind { call.exactDivision = isFloat }
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
        if case .comparison(let op) = c.peek.kind {
            _ = c.next()
            return .compare(left, op, try parseExpression(&c))
        }
        if c.acceptWord("contains") { return .compare(left, .contains, try parseExpression(&c)) }
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
            return resolve(name, path, at: lexeme.offset)
        default:
            throw SyntaxError(lexeme.offset, "expected a value, found `\(lexeme.text)`")
        }
    }
}

/// A template variable that starts as a context root (a template that `assign`s `user`).
struct RootBinding: Sendable {
    var slot: Int
    var root: TemplateContext.Root
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
