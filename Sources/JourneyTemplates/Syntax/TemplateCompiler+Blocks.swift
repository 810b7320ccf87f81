import JourneyCore

// The block tags: `if`/`unless`, `case`, `for`/`tablerow`, `capture`, `ifchanged`, `liquid`.
extension TemplateCompiler {
    mutating func compileIf(_ token: TemplateToken, negated: Bool) -> Node? {
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
                // Liquid ignores what follows `else`, and any `elsif`/`else` after the first `else`.
                var (otherwise, last) = parseBlock(opener: token, until: ["elsif", "else", closer], closer: closer)
                while let extra = last, extra.name != closer {
                    (_, last) = parseBlock(opener: token, until: ["elsif", "else", closer], closer: closer)
                    _ = extra
                }
                guard let last else { return nil }
                expectNoMarkup(last)
                return Self.suppressingBlank(.branches(branches, otherwise: otherwise))
            default:
                expectNoMarkup(end)
                return Self.suppressingBlank(.branches(branches, otherwise: []))
            }
        }
    }

    mutating func compileCase(_ token: TemplateToken) -> Node? {
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
                // An `else` renders when no `when` before it matched; `when`s may follow it (as in Liquid).
                let (body, next) = parseBlock(opener: token, until: ["when", "else", "endcase"], closer: "endcase")
                whens.append(When(values: nil, body: body))
                end = next
            default:
                expectNoMarkup(tag)
                return Self.suppressingBlank(.choose(subject, whens))
            }
        }
        return nil
    }

    /// `for` and `tablerow`: `NAME in COLLECTION` with `limit:`, `offset:` (`continue` too, for `for`),
    /// `reversed` (for `for`), `cols:` (for `tablerow`).
    mutating func compileFor(_ token: TemplateToken, kind: LoopKind) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        let closer = kind == .for ? "endfor" : "endtablerow"
        let header = markup(token) {
            (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> (name: String, loop: ForLoop)? in
            let nameLexeme = c.next()
            guard case .identifier(let name) = nameLexeme.kind else {
                throw SyntaxError(nameLexeme.offset, "expected a variable name after `\(token.name)`, found `\(nameLexeme.text)`")
            }
            guard c.acceptWord("in") else {
                throw SyntaxError(c.peek.offset, "expected `in` after `\(token.name) \(name)`, found `\(c.peek.text)`")
            }
            let collectionStart = c.peek.offset
            var loop = ForLoop(slot: 0, collection: try compiler.parseExpression(&c), reversed: false, body: [], otherwise: [])
            loop.at = compiler.map.point(token.start)
            let collectionText = String(decoding: compiler.bytes[collectionStart..<c.peek.offset], as: UTF8.self)
            loop.name = name + "-" + collectionText.filter { !$0.isWhitespace }
            while c.peek.kind != .end {
                let word = c.next()
                let option: String
                switch word.kind {
                case .identifier("reversed") where kind == .for:
                    loop.reversed = true
                    continue
                case .comma: continue
                case .identifier("limit"), .identifier("offset"): option = word.text
                case .identifier("cols") where kind == .table: option = word.text
                default:
                    let options = kind == .for ? "`reversed`, `limit: n` or `offset: n`" : "`cols: n`, `limit: n` or `offset: n`"
                    throw SyntaxError(word.offset, "unexpected `\(word.text)` in `\(token.name)`: expected \(options)")
                }
                guard c.accept(.colon) else { throw SyntaxError(c.peek.offset, "expected `:` after `\(option)`") }
                if option == "offset", kind == .for, c.acceptWord("continue") {
                    loop.continues = true
                    continue
                }
                let value = try compiler.parseExpression(&c)
                switch option {
                case "limit": loop.limit = value
                case "offset": loop.offset = value
                default: loop.cols = value
                }
            }
            return (name, loop)
        }
        let name = header?.name ?? ""
        let slot = newSlot(name)
        locals.append((name, slot))
        loops.append(kind)
        let (body, end) = parseBlock(opener: token, until: kind == .for ? ["else", closer] : [closer], closer: closer)
        loops.removeLast()
        locals.removeLast()
        guard let end else { return nil }
        var otherwise: [Node] = []
        expectNoMarkup(end)
        if end.name == "else" {
            let (elseBody, last) = parseBlock(opener: token, until: [closer], closer: closer)
            guard let last else { return nil }
            expectNoMarkup(last)
            otherwise = elseBody
        }
        guard var loop = header?.loop else { return nil }
        loop.slot = slot
        loop.recordsStop = continuesLoops
        loop.body = body
        loop.otherwise = otherwise
        return kind == .for ? Self.suppressingBlank(.loop(loop)) : .tablerow(loop)
    }

    mutating func compileAssign(_ token: TemplateToken) -> Node? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
            let target = c.next()
            let slot: Int
            switch target.kind {
            case .identifier(let name) where !name.hasSuffix("?"): slot = compiler.variableSlot(name)
            // `{% assign 123 = … %}` is accepted by Liquid; nothing can read it back.
            case .number: slot = compiler.newSlot(target.text)
            default: throw SyntaxError(target.offset, "expected a variable name after `assign`, found `\(target.text)`")
            }
            let name = target.text
            guard c.accept(.equals) else {
                throw SyntaxError(c.peek.offset, "expected `=` after `assign \(name)`, found `\(c.peek.text)`")
            }
            guard let output = try compiler.parseOutput(&c) else {
                throw SyntaxError(c.peek.offset, "expected a value after `assign \(name) =`")
            }
            return .assign(slot, output)
        }
    }

    mutating func compileCapture(_ token: TemplateToken) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        let slot = markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Int? in
            let target = c.next()
            switch target.kind {
            case .identifier(let name), .string(let name): return compiler.variableSlot(name)
            // `{% capture 123 %}` is accepted by Liquid; nothing can read it back.
            case .number: return compiler.newSlot(target.text)
            default: break
            }
            throw SyntaxError(target.offset, "expected a variable name after `capture`, found `\(target.text)`")
        }
        let (body, end) = parseBlock(opener: token, until: ["endcapture"], closer: "endcapture")
        guard let end else { return nil }
        expectNoMarkup(end)
        guard let slot else { return nil }
        return .capture(slot, body.allSatisfy(\.isBlank) ? Node.droppingWhitespace(body) : body)
    }

    mutating func compileIfChanged(_ token: TemplateToken) -> Node? {
        guard enterBlock(token) else { return nil }
        defer { blockDepth -= 1 }
        expectNoMarkup(token)
        let (body, end) = parseBlock(opener: token, until: ["endifchanged"], closer: "endifchanged")
        guard let end else { return nil }
        expectNoMarkup(end)
        return Self.suppressingBlank(.ifchanged(body))
    }

    /// The lines of a `{% liquid %}` tag, which the lexer made tags of: compiled like a block, so that
    /// a block opened in it must close in it.
    mutating func compileLiquid(_ token: TemplateToken) -> [Node] {
        guard enterBlock(token) else { return [] }
        defer { blockDepth -= 1 }
        let (body, _) = parseBlock(opener: token, until: [TemplateLexer.liquidEnd], closer: "end of the liquid tag")
        return body
    }

    /// `{% cycle 'a', 'b' %}` or `{% cycle group: 'a', 'b' %}`.
    mutating func compileCycle(_ token: TemplateToken) -> Node? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
            guard c.peek.kind != .end else { throw SyntaxError(c.peek.offset, "expected values after `cycle`") }
            var group: Cycle.Group?
            var first = try compiler.parseExpression(&c)
            if c.accept(.colon) {
                group = .named(first)
                first = try compiler.parseExpression(&c)
            }
            var values = [first]
            while c.accept(.comma) { values.append(try compiler.parseExpression(&c)) }
            if group == nil {
                // Unnamed cycles are one group when their values are written alike, as in Liquid.
                let start = token.range.lowerBound
                group = .anonymous(String(decoding: compiler.bytes[start..<c.peek.offset], as: UTF8.self).trimmingSpaces)
            }
            let escaper = try compiler.place(Output(expr: .literal(.null), filters: [], escaper: .text), at: token.start)
            guard case .output(let placed) = escaper else { return nil }
            return .cycle(Cycle(group: group!, values: values, escaper: placed.escaper))
        }
    }

    /// `{% increment name %}` and `{% decrement name %}`.
    mutating func compileCounter(_ token: TemplateToken) -> Node? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
            let target = c.next()
            guard case .identifier(let name) = target.kind else {
                throw SyntaxError(target.offset, "expected a counter name after `\(token.name)`, found `\(target.text)`")
            }
            let counter = compiler.counters[name] ?? compiler.counters.count
            compiler.counters[name] = counter
            let slot = compiler.assignedNames.contains(name) ? nil : compiler.variableSlot(name)
            return .counter(counter, slot: slot, increment: token.name == "increment")
        }
    }
}

extension String {
    /// Without leading and trailing ASCII whitespace.
    var trimmingSpaces: String {
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !TemplateLexer.isSpace($0) }),
            let last = bytes.lastIndex(where: { !TemplateLexer.isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
