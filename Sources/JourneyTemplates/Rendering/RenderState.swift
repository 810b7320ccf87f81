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
}

/// Everything one render works on: the output bytes, the template variables, the loops in progress.
struct RenderState {
    var out: [UInt8]
    var slots: [Value]
    var loops: [LoopState] = []
    let context: TemplateContext
    var iterationsLeft: Int
    let maxBytes: Int
    /// Set when a limit was hit; the render unwinds and throws it.
    var failure: String?
    /// With strict variables: the paths output that rendered as nothing (nil: not collected).
    var undefined: [String]?
    var slotNames: [String] = []

    init(context: TemplateContext, slotCount: Int, limits: RenderLimits, out: [UInt8]) {
        self.out = out
        self.slots = slotCount == 0 ? [] : Array(repeating: .null, count: slotCount)
        self.context = context
        self.iterationsLeft = limits.maxIterations
        self.maxBytes = limits.maxOutputBytes
    }

    mutating func fail(_ message: String) {
        if failure == nil { failure = message }
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
        case .choose(let subject, let whens, let otherwise):
            let value = evaluate(subject)
            var matched = false
            for when in whens where when.values.contains(where: { matches(value, $0) }) {
                matched = true
                let flow = render(when.body)
                if flow != .normal { return flow }
            }
            if !matched { return render(otherwise) }
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

    private mutating func run(_ loop: ForLoop) -> Flow {
        // The items, without building a list for a range.
        enum Items {
            case values([Value])
            case numbers(ClosedRange<Int>)
            var count: Int {
                switch self {
                case .values(let v): return v.count
                case .numbers(let r): return r.count
                }
            }
        }
        var items: Items
        if case .range(let from, let to) = loop.collection {
            let a = FilterCall.clampedInt(evaluate(from).liquidNumber)
            let b = FilterCall.clampedInt(evaluate(to).liquidNumber)
            items = a <= b ? .numbers(a...b) : .values([])
        } else {
            switch evaluate(loop.collection) {
            case .array(let values): items = .values(values)
            case .object(let members): items = .values(members.map { .array([.string($0.key), $0.value]) })
            case .string(let s): items = .values(s.isEmpty ? [] : [.string(s)])
            default: items = .values([])
            }
        }
        let count = items.count
        let offset = loop.offset.map { max(FilterCall.clampedInt(evaluate($0).liquidNumber), 0) } ?? 0
        let limit = loop.limit.map { max(FilterCall.clampedInt(evaluate($0).liquidNumber), 0) } ?? count
        let start = min(offset, count)
        let end = start + min(limit, count - start)
        guard end > start else { return render(loop.otherwise) }
        let length = end - start

        loops.append(LoopState(index0: 0, length: length))
        defer { loops.removeLast() }
        for k in 0..<length {
            iterationsLeft -= 1
            if iterationsLeft < 0 { fail("more than the allowed loop iterations") }
            if out.count > maxBytes { fail("the output grew past \(maxBytes) bytes") }
            if failure != nil { return .breakLoop }
            let position = start + (loop.reversed ? length - 1 - k : k)
            switch items {
            case .values(let values): slots[loop.slot] = values[position]
            case .numbers(let range): slots[loop.slot] = .number(Double(range.lowerBound + position))
            }
            loops[loops.count - 1].index0 = k
            if render(loop.body) == .breakLoop { break }
        }
        return failure != nil ? .breakLoop : .normal
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
            case .whole:
                value = [
                    "index": .number(Double(loop.index0 + 1)), "index0": .number(Double(loop.index0)),
                    "rindex": .number(Double(loop.length - loop.index0)),
                    "rindex0": .number(Double(loop.length - loop.index0 - 1)), "first": .bool(loop.index0 == 0),
                    "last": .bool(loop.index0 == loop.length - 1), "length": .number(Double(loop.length)),
                ]
            }
            return follow(value, path)
        case .range(let from, let to):
            let a = FilterCall.clampedInt(evaluate(from).liquidNumber)
            let b = FilterCall.clampedInt(evaluate(to).liquidNumber)
            guard a <= b else { return .array([]) }
            guard b - a < iterationsLeft else {
                fail("a range of more than the allowed loop iterations")
                return .array([])
            }
            iterationsLeft -= b - a + 1
            return .array((a...b).map { .number(Double($0)) })
        case .blank, .empty:
            return .string("")
        }
    }

    @inline(__always)
    private mutating func follow(_ base: Value, _ path: [PathStep]) -> Value {
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
            return key == "size" ? .number(Double(members.count)) : .null
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
        case .compare(let a, let op, let b):
            if op == .equal || op == .notEqual {
                let special: Bool?
                switch (a, b) {
                case (_, .blank): special = evaluate(a).isLiquidBlank
                case (.blank, _): special = evaluate(b).isLiquidBlank
                case (_, .empty): special = evaluate(a).isLiquidEmpty
                case (.empty, _): special = evaluate(b).isLiquidEmpty
                default: special = nil
                }
                if let special { return op == .equal ? special : !special }
            }
            return LiquidComparison.holds(evaluate(a), op, evaluate(b))
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
