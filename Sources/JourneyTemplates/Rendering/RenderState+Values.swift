import JourneyCore

/// Evaluating expressions and conditions: paths, literals, ranges, filters, comparisons.
extension RenderState {
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
}
