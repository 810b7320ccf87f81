import JourneyCore

// `{% render %}` and `{% include %}`: partials found through ``TemplatePartials`` and compiled here, at
// load. A partial that is missing, or that leads back to a partial being compiled, is an error at the
// tag that names it.
extension TemplateCompiler {
    /// What follows a partial's name: `with`/`for` a value `as` a name, then `key: value` arguments.
    struct PartialArguments {
        var name: String
        var nameOffset: Int
        /// Nil when the name is in a variable (`include` only).
        var dynamicName: Expr?
        var binding: (value: Expr, isFor: Bool, alias: String?)?
        var keywords: [(key: String, value: Expr)] = []
    }

    mutating func parsePartialArguments(_ token: TemplateToken) -> PartialArguments? {
        markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> PartialArguments? in
            let nameLexeme = c.peek
            var arguments: PartialArguments
            if case .string(let name) = nameLexeme.kind {
                _ = c.next()
                arguments = PartialArguments(name: name, nameOffset: nameLexeme.offset)
            } else if token.name == "include", case .identifier = nameLexeme.kind {
                arguments = PartialArguments(name: "", nameOffset: nameLexeme.offset, dynamicName: try compiler.parseExpression(&c))
            } else {
                throw SyntaxError(nameLexeme.offset, "expected a partial's name in quotes after `\(token.name)`, found `\(nameLexeme.text)`")
            }
            let next = c.lexemes[min(c.index + 1, c.lexemes.count - 1)].kind
            if (c.isWord("with") || c.isWord("for")) && next != .colon {
                let isFor = c.next().text == "for"
                let value = try compiler.parseExpression(&c)
                var alias: String?
                if c.acceptWord("as") {
                    let aliasLexeme = c.next()
                    guard case .identifier(let name) = aliasLexeme.kind else {
                        throw SyntaxError(aliasLexeme.offset, "expected a variable name after `as`, found `\(aliasLexeme.text)`")
                    }
                    alias = name
                }
                arguments.binding = (value, isFor, alias)
            }
            while c.peek.kind != .end {
                _ = c.accept(.comma)
                let key = c.next()
                guard case .identifier(let name) = key.kind, c.accept(.colon) else {
                    throw SyntaxError(key.offset, "expected `name: value` arguments after the partial's name, found `\(key.text)`")
                }
                arguments.keywords.append((name, try compiler.parseExpression(&c)))
            }
            return arguments
        }
    }

    /// The source of partial `name`, or nil after reporting why there is none (missing, a cycle, too deep).
    mutating func partialSource(_ name: String, at offset: Int, tag: String) -> TemplateSource? {
        guard let partials else {
            report(SyntaxError(offset, "`\(tag)` needs partials, and none are available here"))
            return nil
        }
        if let first = partialStack.firstIndex(of: name) {
            let chain = (partialStack[first...] + [name]).map { "'\($0)'" }.joined(separator: " → ")
            report(SyntaxError(offset, "partial '\(name)' includes itself: \(chain)"))
            return nil
        }
        guard partialStack.count < Self.maxPartialDepth else {
            report(SyntaxError(offset, "partials are nested more than \(Self.maxPartialDepth) deep"))
            return nil
        }
        guard let source = partials.find(name, mode) else {
            report(
                SyntaxError(
                    offset,
                    "no partial '\(name)' (looked for \(partials.pattern.replacing("NAME", with: name)))\(Suggestions.didYouMean(name, in: partials.names()))"
                ))
            return nil
        }
        return source
    }

    /// `{% render 'name' … %}`: the partial compiled as a template of its own, which sees its arguments
    /// and the context's top-level variables, never the caller's variables.
    mutating func compileRender(_ token: TemplateToken) -> Node? {
        guard let arguments = parsePartialArguments(token),
            let source = partialSource(arguments.name, at: arguments.nameOffset, tag: "render")
        else { return nil }
        var sub = TemplateCompiler(
            source: source.text, mode: mode, file: source.file, line: 1, column: 1, scope: scope, partials: partials,
            partialStack: partialStack + [arguments.name])
        sub.html = html
        var slots: [(slot: Int, value: Expr)] = []
        for (key, value) in arguments.keywords { slots.append((sub.argumentSlot(key), value)) }
        var each: (slot: Int, items: Expr)?
        if let binding = arguments.binding {
            let slot = sub.argumentSlot(binding.alias ?? arguments.name)
            if binding.isFor {
                each = (slot, binding.value)
                sub.loops = [.render]
            } else {
                slots.append((slot, binding.value))
            }
        }
        let nodes = sub.compileSource()
        diagnostics += sub.diagnostics
        rootsRead.formUnion(sub.rootsRead)
        html = sub.html
        guard let nodes, !sub.hasErrors else { return nil }
        let partial = CompiledPartial(nodes: nodes, slotCount: sub.slotCount, counterCount: sub.counters.count, bindings: sub.bindings)
        return .render(RenderCall(partial: partial, arguments: slots, each: each))
    }

    /// A variable of a rendered partial set by its caller: it starts as what the caller passes.
    private mutating func argumentSlot(_ name: String) -> Int {
        let slot = variables[name] ?? newSlot(name)
        variables[name] = slot
        untrustedSlots.insert(slot)
        return slot
    }

    /// `{% include 'name' … %}`: the partial compiled into this template, sharing its variables (an
    /// `assign` in it is seen after it); its arguments are seen only inside it.
    mutating func compileInclude(_ token: TemplateToken) -> Node? {
        guard let arguments = parsePartialArguments(token) else { return nil }
        guard let nameExpr = arguments.dynamicName else {
            guard let source = partialSource(arguments.name, at: arguments.nameOffset, tag: "include") else { return nil }
            return includeCall(source, arguments, name: arguments.name).map(Node.include)
        }
        guard mode != .html else {
            report(SyntaxError(arguments.nameOffset, "in an HTML part, `include` takes a partial's name in quotes"))
            return nil
        }
        guard let partials else {
            report(SyntaxError(arguments.nameOffset, "`include` needs partials, and none are available here"))
            return nil
        }
        // The name is known only when rendering: every partial that could be meant is compiled in.
        var calls: [String: IncludeCall] = [:]
        for name in partials.names() where !partialStack.contains(name) {
            guard let source = partials.find(name, mode), let call = includeCall(source, arguments, name: name) else { continue }
            calls[name] = call
        }
        return .includeNamed(nameExpr, calls)
    }

    private mutating func includeCall(_ source: TemplateSource, _ arguments: PartialArguments, name: String) -> IncludeCall? {
        var call = IncludeCall(body: [], arguments: [], binding: nil)
        var scoped: [(name: String, slot: Int)] = []
        for (key, value) in arguments.keywords {
            let slot = newSlot(key)
            call.arguments.append((slot, value))
            scoped.append((key, slot))
        }
        if let binding = arguments.binding {
            let variable = binding.alias ?? name
            let slot = newSlot(variable)
            call.binding = (slot, binding.value)
            scoped.append((variable, slot))
        }
        for entry in scoped { untrustedSlots.insert(entry.slot) }

        let saved = (map, tokens, position, enclosing)
        map = SourceMap(bytes: Array(source.text.utf8), file: source.file, line: 1, column: 1)
        partialStack.append(name)
        enclosing = []
        locals += scoped
        let errorsBefore = diagnostics.filter { $0.severity == .error }.count
        let body = compileSource()
        locals.removeLast(scoped.count)
        partialStack.removeLast()
        (map, tokens, position, enclosing) = saved
        guard let body, diagnostics.filter({ $0.severity == .error }).count == errorsBefore else { return nil }
        call.body = body
        return call
    }
}
