import JourneyCore

/// Bounds on one render, so that no template and no data can make a render run away.
///
/// A render that hits a bound stops and throws ``TemplateRenderError``: a message is sent whole or not at all.
public struct RenderLimits: Sendable, Hashable {
    /// Bytes one part may produce; also the size any one value may grow to through filters.
    public var maxOutputBytes: Int
    /// `for` iterations (and range items) over the whole render.
    public var maxIterations: Int

    public init(maxOutputBytes: Int = 4 << 20, maxIterations: Int = 100_000) {
        self.maxOutputBytes = maxOutputBytes
        self.maxIterations = maxIterations
    }
}

enum Flow {
    case normal, breakLoop, continueLoop
}

struct LoopState {
    var index0: Int
    var length: Int
    /// `forloop.name`: the variable and the collection as written (`item-cart.items`).
    var name = ""
    /// `tablerow` only: cells per row.
    var cols = 0
}

/// The position of a `cycle` group: by its name's value, or by how its values are written.
enum CycleKey: Hashable {
    case anonymous(String)
    case named(Value)
}

/// Everything one render works on: the output bytes, the template variables, the loops in progress.
struct RenderState {
    var out: [UInt8]
    var slots: [Value]
    var loops: [LoopState] = []
    /// `increment` / `decrement` counters, by the number the compiler gave their name.
    var counters: [Int] = []
    var cycles: [CycleKey: Int] = [:]
    /// Where `for` loops stopped, by loop name, for `offset: continue`.
    var loopStops: [String: Int] = [:]
    /// The last output of an `ifchanged` block.
    var lastChanged: String?
    let context: TemplateContext
    var iterationsLeft: Int
    let maxBytes: Int
    /// Set when a limit was hit or a value did not fit (`divided_by: 0`); the render unwinds and throws it.
    var failure: String?
    var failurePoint: SourcePoint?
    /// With strict variables: the paths output that rendered as nothing (nil: not collected).
    var undefined: [String]?
    var slotNames: [String] = []

    init(context: TemplateContext, slotCount: Int, counterCount: Int = 0, limits: RenderLimits, out: [UInt8]) {
        self.out = out
        self.slots = slotCount == 0 ? [] : Array(repeating: .null, count: slotCount)
        if counterCount > 0 { self.counters = Array(repeating: 0, count: counterCount) }
        self.context = context
        self.iterationsLeft = limits.maxIterations
        self.maxBytes = limits.maxOutputBytes
    }

    /// Gives the slots that start as data their values.
    mutating func bind(_ bindings: [SlotBinding]) {
        for binding in bindings {
            switch binding.source {
            case .root(let root): slots[binding.slot] = context.value(of: root)
            case .global(let name): slots[binding.slot] = context.variables[name] ?? .null
            }
        }
    }

    mutating func fail(_ message: String, at point: SourcePoint? = nil) {
        if failure == nil {
            failure = message
            failurePoint = point
        }
    }

    // MARK: - Nodes

    mutating func render(_ nodes: [Node]) -> Flow {
        for node in nodes {
            let flow = render(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    mutating func render(_ node: Node) -> Flow {
        switch node {
        case .text(let bytes):
            out.append(contentsOf: bytes)
        case .output(let output):
            let value = evaluate(output)
            if undefined != nil, case .null = value { noteUndefined(output) }
            write(value, output.escaper)
        case .branches(let branches, let otherwise):
            for (condition, body) in branches where test(condition) { return render(body) }
            return render(otherwise)
        case .choose(let subject, let whens):
            let value = evaluate(subject)
            var matched = false
            for when in whens {
                guard let values = when.values else {
                    if matched { continue }
                    let flow = render(when.body)
                    if flow != .normal { return flow }
                    continue
                }
                for candidate in values where matches(value, candidate) {
                    matched = true
                    let flow = render(when.body)
                    if flow != .normal { return flow }
                }
            }
        case .loop(let loop):
            return run(loop)
        case .assign(let slot, let output):
            slots[slot] = evaluate(output)
        case .capture(let slot, let body):
            let mark = out.count
            let flow = render(body)
            slots[slot] = .string(String(decoding: out[mark...], as: UTF8.self))
            out.removeSubrange(mark...)
            return flow
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case .render(let call):
            renderPartial(call)
        case .include(let call):
            return include(call)
        case .includeNamed(let name, let calls):
            guard case .string(let key) = evaluate(name), let call = calls[key] else { return .normal }
            return include(call)
        case .cycle(let cycle):
            self.cycle(cycle)
        case .counter(let counter, let slot, let increment):
            var value = counters[counter]
            if !increment { value -= 1 }
            ValueFormatting.writeNumber(Double(value), into: &out)
            if increment { value += 1 }
            counters[counter] = value
            if let slot { slots[slot] = .number(Double(value)) }
        case .tablerow(let loop):
            return tablerow(loop)
        case .ifchanged(let body):
            let mark = out.count
            let flow = render(body)
            let text = String(decoding: out[mark...], as: UTF8.self)
            if text == lastChanged {
                out.removeSubrange(mark...)
            } else {
                lastChanged = text
            }
            return flow
        }
        return .normal
    }

    private mutating func matches(_ value: Value, _ candidate: Expr) -> Bool {
        switch candidate {
        case .blank: return value.isLiquidBlank
        case .empty: return value.isLiquidEmpty
        default: return LiquidComparison.equal(value, evaluate(candidate))
        }
    }

    /// Records an output path that found nothing — unless it asked for a `default`, which says that
    /// nothing was foreseen.
    private mutating func noteUndefined(_ output: Output) {
        if output.filters.contains(where: { $0.filter == .default }) { return }
        let name: String
        let path: [PathStep]
        switch output.expr {
        case .root(let root, let p): (name, path) = (root.name, p)
        case .slot(let slot, let p): (name, path) = (slotNames[slot], p)
        default: return
        }
        var text = name
        for step in path {
            switch step {
            case .key(let key): text += "." + key
            case .index(let i): text += "[\(i)]"
            case .dynamic: text += "[…]"
            }
        }
        if !undefined!.contains(text) { undefined!.append(text) }
    }

    // MARK: - Values

    mutating func evaluate(_ output: Output) -> Value {
        var value = evaluate(output.expr)
        for filter in output.filters { value = filter.apply(value, &self) }
        return value
    }

    mutating func evaluate(_ expr: Expr) -> Value {
        switch expr {
        case .literal(let value): return value
        case .root(let root, let path): return follow(context.value(of: root), path)
        case .slot(let slot, let path): return follow(slots[slot], path)
        case .loop(let depth, let field, let path):
            let loop = loops[loops.count - 1 - depth]
            let value: Value
            switch field {
            case .index: value = .number(Double(loop.index0 + 1))
            case .index0: value = .number(Double(loop.index0))
            case .rindex: value = .number(Double(loop.length - loop.index0))
            case .rindex0: value = .number(Double(loop.length - loop.index0 - 1))
            case .first: value = .bool(loop.index0 == 0)
            case .last: value = .bool(loop.index0 == loop.length - 1)
            case .length: value = .number(Double(loop.length))
            case .name: value = .string(loop.name)
            case .col: value = .number(Double(loop.index0 % max(loop.cols, 1) + 1))
            case .col0: value = .number(Double(loop.index0 % max(loop.cols, 1)))
            case .colFirst: value = .bool(loop.index0 % max(loop.cols, 1) == 0)
            case .colLast: value = .bool(loop.index0 % max(loop.cols, 1) == loop.cols - 1)
            case .row: value = .number(Double(loop.index0 / max(loop.cols, 1) + 1))
            case .whole:
                var members: [Value.Member] = [
                    .init("index", .number(Double(loop.index0 + 1))), .init("index0", .number(Double(loop.index0))),
                    .init("rindex", .number(Double(loop.length - loop.index0))),
                    .init("rindex0", .number(Double(loop.length - loop.index0 - 1))),
                    .init("first", .bool(loop.index0 == 0)), .init("last", .bool(loop.index0 == loop.length - 1)),
                    .init("length", .number(Double(loop.length))), .init("name", .string(loop.name)),
                ]
                if loop.cols > 0 {
                    let cols = loop.cols
                    members += [
                        .init("col", .number(Double(loop.index0 % cols + 1))), .init("col0", .number(Double(loop.index0 % cols))),
                        .init("col_first", .bool(loop.index0 % cols == 0)), .init("col_last", .bool(loop.index0 % cols == cols - 1)),
                        .init("row", .number(Double(loop.index0 / cols + 1))),
                    ]
                }
                value = .object(members)
            }
            return follow(value, path)
        case .range(let from, let to):
            let a = FilterCall.clampedInt(evaluate(from).liquidRangeBound)
            let b = FilterCall.clampedInt(evaluate(to).liquidRangeBound)
            guard a <= b else { return .array([]) }
            guard b - a < iterationsLeft else {
                fail("a range of more than the allowed loop iterations")
                return .array([])
            }
            iterationsLeft -= b - a + 1
            return .array((a...b).map { .number(Double($0)) })
        case .blank, .empty:
            return .string("")
        case .named(let name, let path):
            guard case .string(let key) = evaluate(name) else { return .null }
            return follow(context.variables[key] ?? .null, path)
        }
    }

    @inline(__always)
    mutating func follow(_ base: Value, _ path: [PathStep]) -> Value {
        var value = base
        for step in path {
            switch step {
            case .key(let key): value = Self.member(value, key)
            case .index(let i): value = Self.item(value, i)
            case .dynamic(let expr):
                switch evaluate(expr) {
                case .number(let d):
                    value = Self.item(value, d == d.rounded(.towardZero) && Swift.abs(d) < 1e15 ? Int(d) : Int.max)
                case .string(let key): value = Self.member(value, key)
                default: return .null
                }
            }
            if case .null = value { return .null }
        }
        return value
    }

    private static func member(_ value: Value, _ key: String) -> Value {
        switch value {
        case .object(let members):
            for member in members where member.key == key { return member.value }
            switch key {
            case "size": return .number(Double(members.count))
            // Ruby's Hash#first: the first member as a [name, value] pair.
            case "first": return members.first.map { .array([.string($0.key), $0.value]) } ?? .null
            default: return .null
            }
        case .array(let items):
            switch key {
            case "size": return .number(Double(items.count))
            case "first": return items.first ?? .null
            case "last": return items.last ?? .null
            default: return .null
            }
        case .string(let s):
            return key == "size" ? .number(Double(s.count)) : .null
        default:
            return .null
        }
    }

    private static func item(_ value: Value, _ i: Int) -> Value {
        guard case .array(let items) = value else { return .null }
        let index = i < 0 ? items.count + i : i
        return index >= 0 && index < items.count ? items[index] : .null
    }

    mutating func test(_ condition: Condition) -> Bool {
        switch condition {
        case .value(let expr): return evaluate(expr).liquidTruthy
        case .compare(let a, let op, let b, let point):
            if op == .equal || op == .notEqual {
                let special: Bool?
                switch (a, b) {
                case (.blank, .blank), (.empty, .empty): special = true
                case (.blank, .empty), (.empty, .blank): special = false
                case (_, .blank): special = evaluate(a).isLiquidBlank
                case (.blank, _): special = evaluate(b).isLiquidBlank
                case (_, .empty): special = evaluate(a).isLiquidEmpty
                case (.empty, _): special = evaluate(b).isLiquidEmpty
                default: special = nil
                }
                if let special { return op == .equal ? special : !special }
            }
            if op != .contains, op != .equal, op != .notEqual {
                switch (a, b) {
                // `blank` and `empty` are not ordered: `blank < 1` is false.
                case (.blank, _), (.empty, _), (_, .blank), (_, .empty): return false
                default: break
                }
            }
            let (x, y) = (evaluate(a), evaluate(b))
            switch (op, x, y) {
            case (.less, .string, .number), (.less, .number, .string), (.greater, .string, .number),
                (.greater, .number, .string), (.lessEqual, .string, .number), (.lessEqual, .number, .string),
                (.greaterEqual, .string, .number), (.greaterEqual, .number, .string):
                fail("cannot compare \(x.typeName) \(x.jsonText) with \(y.typeName) \(y.jsonText) by `\(op.rawValue)`", at: point)
                return false
            default:
                return LiquidComparison.holds(x, op, y)
            }
        case .and(let x, let y): return test(x) && test(y)
        case .or(let x, let y): return test(x) || test(y)
        case .not(let x): return !test(x)
        }
    }

    // MARK: - Output

    mutating func write(_ value: Value, _ escaper: Escaper) {
        switch value {
        case .null: return
        case .string(let s): escaper.write(s, into: &out)
        case .number(let d):
            switch escaper {
            case .text, .html, .unquotedAttribute: ValueFormatting.writeNumber(d, into: &out)
            default: escaper.write(value.liquidText, into: &out)
            }
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .array, .object: escaper.write(value.liquidText, into: &out)
        }
    }
}
