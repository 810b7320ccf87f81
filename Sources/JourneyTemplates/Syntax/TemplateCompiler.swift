import JourneyCore

/// Turns template source into the compiled tree of ``Node``s, reporting every problem it can find in one
/// pass: a bad tag is reported and skipped, and compilation goes on to the next.
///
/// Partials are compiled here too, from the ``TemplatePartials`` given: `{% include %}` into this
/// template (it shares the template's variables), `{% render %}` as a template of its own (a nested
/// compiler). A partial that leads back to itself, or that cannot be found, is an error at the tag.
struct TemplateCompiler {
    struct Compiled {
        var nodes: [Node]
        var slotCount: Int
        var bindings: [SlotBinding]
        /// Each slot's variable name, for reports of undefined values.
        var slotNames: [String]
        var counterCount: Int
        var rootsRead: TemplateContext.Roots
    }

    enum LoopKind {
        case `for`, table
        /// The loop of `{% render … for items %}`: its partial's `forloop`, never a `parentloop`.
        case render
    }

    /// The source being compiled: the template's, or an included partial's while it is compiled in.
    var map: SourceMap
    let mode: TemplateMode
    let scope: TemplateScope
    let partials: TemplatePartials?
    /// The partials being compiled around this point, outermost first: a name met again is a cycle.
    var partialStack: [String]
    var bytes: [UInt8] { map.bytes }
    var tokens: [TemplateToken] = []
    var position = 0
    var diagnostics: [TemplateDiagnostic] = []
    var html = HTMLContext()
    /// Every name a template variable has → its slot: set by `assign`, `capture`, `increment`, and in an
    /// open scope every other top-level name too.
    var variables: [String: Int] = [:]
    /// Names set by `assign` or `capture` (they hide a counter of the same name).
    var assignedNames: Set<String> = []
    /// Names seen before `variables` in the blocks around the tag being compiled, innermost last: `for`
    /// variables and the arguments of an `include`.
    var locals: [(name: String, slot: Int)] = []
    /// Slots some `assign` writes (or that start as data): what they hold may be data.
    var untrustedSlots: Set<Int> = []
    var slotCount = 0
    var slotNames: [String] = []
    var bindings: [SlotBinding] = []
    /// The context roots this template (and the partials compiled into it or rendered from it) can read:
    /// a renderer builds only those (``TemplateContext/init(touch:traits:event:enrollment:zone:unsubscribeURL:reading:)``).
    /// Every root name is resolved in ``variableSlot(_:)`` or ``resolve(_:_:at:)``, which note it here.
    var rootsRead: TemplateContext.Roots = []
    var counters: [String: Int] = [:]
    /// Whether some `for` of this source says `offset: continue`: loops then note where they stop.
    var continuesLoops = false
    /// The `for` and `tablerow` loops around the tag being compiled, innermost last.
    var loops: [LoopKind] = []
    var blockDepth = 0
    /// The closing tags the blocks around the one being compiled wait for, innermost last.
    var enclosing: [Set<String>] = []
    var expressionDepth = 0
    var abandoned = false

    static let maxBlockDepth = 64
    static let maxExpressionDepth = 16
    static let maxDiagnostics = 50
    /// Partials within partials: deeper is refused (a cycle is reported before this is reached).
    static let maxPartialDepth = 16

    static let knownTags = [
        "if", "elsif", "else", "endif", "unless", "endunless", "case", "when", "endcase", "for", "endfor", "break",
        "continue", "assign", "capture", "endcapture", "echo", "raw", "endraw", "comment", "endcomment", "doc", "enddoc",
        "liquid", "cycle", "increment", "decrement", "tablerow", "endtablerow", "ifchanged", "endifchanged", "render",
        "include",
    ]
    static let unsupportedTags: [String: String] = [
        "layout": "a message template is the whole message; share parts with `render`",
        "section": "a message template is the whole message; share parts with `render`",
    ]

    init(
        source: String, mode: TemplateMode, file: String, line: Int, column: Int, scope: TemplateScope = .journey,
        partials: TemplatePartials? = nil, partialStack: [String] = []
    ) {
        self.map = SourceMap(bytes: Array(source.utf8), file: file, line: line, column: column)
        self.mode = mode
        self.scope = scope
        self.partials = partials
        self.partialStack = partialStack
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    mutating func compile() -> Compiled? {
        guard let nodes = compileSource() else { return nil }
        guard !hasErrors else { return nil }
        return Compiled(
            nodes: nodes, slotCount: slotCount, bindings: bindings, slotNames: slotNames, counterCount: counters.count,
            rootsRead: scope == .open ? .all : rootsRead)
    }

    /// Compiles the current source (``map``) from its first token to its end.
    mutating func compileSource() -> [Node]? {
        do throws(SyntaxError) {
            tokens = try TemplateLexer(bytes: bytes).tokenize()
        } catch {
            report(error)
            return nil
        }
        position = 0
        declareVariables()
        return parseBlock(opener: nil, until: []).0
    }

    // MARK: - Diagnostics

    mutating func report(_ error: SyntaxError, severity: TemplateDiagnostic.Severity = .error) {
        guard diagnostics.count < Self.maxDiagnostics else {
            abandoned = true
            return
        }
        diagnostics.append(map.diagnostic(at: error.offset, error.message, severity))
    }

    mutating func warn(_ offset: Int, _ message: String) { report(SyntaxError(offset, message), severity: .warning) }

    // MARK: - Names

    /// Gives every name an `assign`, `capture`, `increment` or `decrement` sets a slot before anything is
    /// compiled: Liquid variables are global and dynamic, so `{{ x }}` before `{% assign x %}` in a loop
    /// reads the last iteration's.
    mutating func declareVariables() {
        let setters: Set<String> = ["assign", "capture", "increment", "decrement"]
        for token in tokens where token.kind == .tag && token.name == "for" {
            if let lexemes = try? MarkupScanner.scan(bytes, token.range),
                lexemes.contains(where: { $0.kind == .identifier("continue") })
            {
                continuesLoops = true
            }
        }
        for token in tokens where token.kind == .tag && setters.contains(token.name) {
            guard let lexemes = try? MarkupScanner.scan(bytes, token.range), let first = lexemes.first else { continue }
            let name: String
            switch first.kind {
            case .identifier(let s): name = s
            case .string(let s) where token.name == "capture": name = s
            default: continue
            }
            let slot = variableSlot(name)
            if token.name == "assign" || token.name == "capture" { assignedNames.insert(name) }
            if token.name == "assign" { untrustedSlots.insert(slot) }
        }
    }

    /// The slot of a top-level name, made on first use; it starts as the data of that name when the
    /// name is a context root, or (in an open scope) any top-level variable.
    mutating func variableSlot(_ name: String) -> Int {
        if let existing = variables[name] { return existing }
        let slot = newSlot(name)
        variables[name] = slot
        if let root = TemplateContext.Root.byName[name] {
            rootsRead.insert(.init(root))
            bindings.append(SlotBinding(slot: slot, source: .root(root)))
            untrustedSlots.insert(slot)
        } else if scope == .open {
            bindings.append(SlotBinding(slot: slot, source: .global(name)))
            untrustedSlots.insert(slot)
        }
        return slot
    }

    mutating func newSlot(_ name: String) -> Int {
        slotCount += 1
        slotNames.append(name)
        return slotCount - 1
    }

    mutating func resolve(_ name: String, _ path: [PathStep], at offset: Int) -> Expr {
        if let local = locals.last(where: { $0.name == name }) { return .slot(local.slot, path) }
        if name == "forloop" { return loopVariable(path, kind: .for, at: offset) }
        if name == "tablerowloop" { return loopVariable(path, kind: .table, at: offset) }
        if let slot = variables[name] { return .slot(slot, path) }
        if let root = TemplateContext.Root.byName[name] {
            if scope == .journey, let members = root.knownMembers, case .key(let member)? = path.first,
                !members.contains(member)
            {
                warn(
                    offset,
                    "\(name).\(member) is never set (\(name) has \(members.joined(separator: ", ")))\(Suggestions.didYouMean(member, in: members))"
                )
            }
            rootsRead.insert(.init(root))
            return .root(root, path)
        }
        if scope == .open { return .slot(variableSlot(name), path) }
        var known = TemplateContext.Root.allCases.map(\.name) + variables.keys + locals.map(\.name)
        if loops.contains(.for) { known.append("forloop") }
        warn(offset, "unknown variable \"\(name)\" renders as nothing\(Suggestions.didYouMean(name, in: known))")
        return .literal(.null)
    }

    /// `forloop…` or `tablerowloop…`: the innermost loop of that kind, or `parentloop`s out from it.
    mutating func loopVariable(_ path: [PathStep], kind: LoopKind, at offset: Int) -> Expr {
        let word = kind == .for ? "forloop" : "tablerowloop"
        var rest = path[...]
        var outward = 0
        while kind == .for, case .key("parentloop")? = rest.first {
            outward += 1
            rest = rest.dropFirst()
        }
        // The loops of this kind, innermost first, as depths from the innermost loop of any kind; a
        // render's loop answers only as the innermost.
        var depths: [Int] = []
        for index in loops.indices.reversed() {
            if loops[index] == kind || (kind == .for && loops[index] == .render && depths.isEmpty) {
                depths.append(loops.count - 1 - index)
            }
            if loops[index] == .render { break }
        }
        guard outward < depths.count else {
            if depths.isEmpty {
                warn(offset, "\(word) is only set inside a \(kind == .for ? "for" : "tablerow") loop")
            } else if outward > 0 && partialStack.isEmpty {
                warn(offset, "forloop.parentloop: there is no outer loop")
            }
            return .literal(.null)
        }
        let depth = depths[outward]
        guard case .key(let name)? = rest.first else {
            return rest.isEmpty ? .loop(depth: depth, .whole, []) : .literal(.null)
        }
        guard let field = LoopField(rawValue: name), field != .whole, kind == .table || !field.isTableOnly else {
            let fields = LoopField.allCases.filter { kind == .table || !$0.isTableOnly }.map(\.rawValue).filter { !$0.isEmpty }
                + (kind == .for ? ["parentloop"] : [])
            warn(offset, "\(word) has no \"\(name)\"\(Suggestions.didYouMean(name, in: fields))")
            return .literal(.null)
        }
        return .loop(depth: depth, field, Array(rest.dropFirst()))
    }

    // MARK: - Blocks

    /// Compiles tokens up to a tag named in `until` (returned) or the end of the source; reports an
    /// unclosed `opener` when the end comes first.
    mutating func parseBlock(opener: TemplateToken?, until: Set<String>, closer: String = "")
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
                    let before =
                        token.name == TemplateLexer.liquidEnd ? "the end of the `liquid` tag" : "`{% \(token.name) %}`"
                    report(
                        SyntaxError(opener.start, "`{% \(opener.name) %}` is not closed: expected `{% \(closer) %}` before \(before)"))
                    position -= 1
                    return (nodes, nil)
                }
                nodes += compileTag(token)
            }
        }
        if let opener, !abandoned {
            report(SyntaxError(opener.start, "`{% \(opener.name) %}` is not closed: expected `{% \(closer) %}`"))
        }
        return (nodes, nil)
    }

    mutating func enterBlock(_ token: TemplateToken) -> Bool {
        guard blockDepth < Self.maxBlockDepth else {
            report(SyntaxError(token.start, "blocks are nested more than \(Self.maxBlockDepth) deep"))
            abandoned = true
            return false
        }
        blockDepth += 1
        return true
    }

    /// The nodes of one tag (a `liquid` tag gives many, most tags one, comments none).
    mutating func compileTag(_ token: TemplateToken) -> [Node] {
        switch token.name {
        case "if": return compileIf(token, negated: false).map { [$0] } ?? []
        case "unless": return compileIf(token, negated: true).map { [$0] } ?? []
        case "case": return compileCase(token).map { [$0] } ?? []
        case "for": return compileFor(token, kind: .for).map { [$0] } ?? []
        case "tablerow": return compileFor(token, kind: .table).map { [$0] } ?? []
        case "assign": return compileAssign(token).map { [$0] } ?? []
        case "capture": return compileCapture(token).map { [$0] } ?? []
        case "ifchanged": return compileIfChanged(token).map { [$0] } ?? []
        case "liquid": return compileLiquid(token)
        case "cycle": return compileCycle(token).map { [$0] } ?? []
        case "increment", "decrement": return compileCounter(token).map { [$0] } ?? []
        case "render": return compileRender(token).map { [$0] } ?? []
        case "include": return compileInclude(token).map { [$0] } ?? []
        case "echo":
            let node = markup(token) { (c: inout Cursor, compiler: inout TemplateCompiler) throws(SyntaxError) -> Node? in
                guard let output = try compiler.parseOutput(&c) else { return nil }
                return try compiler.place(output, at: token.start)
            }
            return node.map { [$0] } ?? []
        case "break", "continue":
            guard !loops.isEmpty else {
                report(SyntaxError(token.start, "`{% \(token.name) %}` is only allowed inside a for loop"))
                return []
            }
            expectNoMarkup(token)
            return [token.name == "break" ? .breakLoop : .continueLoop]
        case "#":
            return []
        case "":
            report(SyntaxError(token.start, "empty tag: expected a tag name after `{%`"))
            return []
        case "else", "elsif", "when", "endif", "endunless", "endfor", "endcase", "endcapture", "endraw", "endcomment",
            "enddoc", "endtablerow", "endifchanged", TemplateLexer.liquidEnd:
            report(SyntaxError(token.start, "unexpected `{% \(token.name) %}`\(Self.strayHint(token.name))"))
            return []
        default:
            if let reason = Self.unsupportedTags[token.name] {
                report(SyntaxError(token.nameOffset, "the `\(token.name)` tag is not supported: \(reason)"))
            } else {
                report(
                    SyntaxError(
                        token.nameOffset,
                        "unknown tag \"\(token.name)\"\(Suggestions.didYouMean(token.name, in: Self.knownTags))"))
            }
            return []
        }
    }

    static func strayHint(_ name: String) -> String {
        switch name {
        case "else": return " outside an if, unless, case or for block"
        case "elsif": return " outside an if or unless block"
        case "when": return " outside a case block"
        default:
            let opener = name.dropFirst(3)
            return ": no `{% \(opener) %}` is open here"
        }
    }

    /// A block's bodies as Liquid renders them: when every body is blank (whitespace, `assign`,
    /// `capture`, comments, blank blocks), none of their whitespace is output.
    static func suppressingBlank(_ node: Node) -> Node {
        guard node.isBlank else { return node }
        return Node.droppingWhitespace([node]).first ?? node
    }
}
