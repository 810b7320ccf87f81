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
