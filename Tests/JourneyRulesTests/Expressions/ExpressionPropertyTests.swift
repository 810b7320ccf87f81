import JourneyCore
import Testing

@testable import JourneyRules

#if canImport(PropertyBased)
    import PropertyBased
#endif

/// Runs `body` on `count` random inputs: through swift-property-based when this test target can import
/// it, else on a fixed-seed stream (so the properties are checked either way).
private func forAll(
    count: Int = 300, _ a: ClosedRange<Int>, _ b: ClosedRange<Int>, _ body: @escaping @Sendable (Int, Int) -> Void
) async {
    #if canImport(PropertyBased)
        await propertyCheck(count: count, input: Gen.int(in: a), Gen.int(in: b)) { x, y in body(x, y) }
    #else
        var random = SplitMix(seed: 0x5EED)
        for _ in 0..<count { body(random.int(in: a), random.int(in: b)) }
    #endif
}

private func forAllSeeds(count: Int = 500, _ body: @escaping @Sendable (UInt64) -> Void) async {
    #if canImport(PropertyBased)
        await propertyCheck(count: count, input: Gen.uint64(in: 0...UInt64.max)) { seed in body(seed) }
    #else
        var random = SplitMix(seed: 0xA57)
        for _ in 0..<count { body(random.next()) }
    #endif
}

@Suite("Expression properties")
struct ExpressionPropertyTests {
    @Test func arithmeticAgreesWithSwift() async {
        await forAll(-1000...1000, -1000...1000) { a, b in
            var scope = TestScope()
            scope.user = ["a": .number(Double(a)), "b": .number(Double(b))]
            let x = Double(a)
            let y = Double(b)
            let cases: [(String, Double?)] = [
                ("user.a + user.b", x + y), ("user.a - user.b", x - y), ("user.a * user.b", x * y),
                ("user.a / user.b", b == 0 ? nil : x / y),
                ("user.a % user.b", b == 0 ? nil : Double(a % b)),
                ("-user.a", -x),
                // Literals (a negative one parses as unary minus) fold at compile time: same answers.
                ("\(a) + \(b)", x + y), ("\(a) * \(b) - \(b)", x * y - y), ("(\(a) - \(b)) * 2", (x - y) * 2),
                ("user.a + user.b * user.a", x + y * x), ("user.a - user.b - user.a", x - y - x),
            ]
            for (text, expected) in cases {
                let result = try? value(text, in: scope)
                #expect(result == (expected.map(Value.number) ?? .null), "\(text) with a=\(a), b=\(b)")
            }
        }
    }

    @Test func comparisonsAgreeWithSwift() async {
        await forAll(-50...50, -50...50) { a, b in
            var scope = TestScope()
            let x = Double(a) / 4
            let y = Double(b) / 4
            let s = String(a + 50)
            let t = String(b + 50)
            scope.user = ["a": .number(x), "b": .number(y), "s": .string(s), "t": .string(t)]
            let cases: [(String, Bool)] = [
                ("user.a < user.b", x < y), ("user.a <= user.b", x <= y), ("user.a > user.b", x > y),
                ("user.a >= user.b", x >= y), ("user.a == user.b", x == y), ("user.a != user.b", x != y),
                ("user.s < user.t", s < t), ("user.s >= user.t", s >= t), ("user.s == user.t", s == t),
                ("user.a in [user.b, 100]", x == y), ("user.a < user.b and user.s < user.t", x < y && s < t),
                ("user.a < user.b or not user.s < user.t", x < y || !(s < t)),
            ]
            for (text, expected) in cases {
                #expect((try? holds(text, in: scope)) == expected, "\(text) with a=\(x), b=\(y), s=\(s), t=\(t)")
            }
        }
    }

    @Test func printingAParsedTreeParsesBackToTheSameTree() async {
        await forAllSeeds { seed in
            var random = SplitMix(seed: seed)
            let tree = RandomSyntax.expression(&random, depth: 4)
            let text = ExpressionPrinter.print(tree)
            switch ExpressionParser.parse(text) {
            case .failure(let error):
                Issue.record("`\(text)` does not parse: \(error)")
            case .success(let reparsed):
                #expect(reparsed == tree, "`\(text)` reparses as `\(ExpressionPrinter.print(reparsed))`")
                #expect(ExpressionPrinter.print(reparsed) == text)
            }
        }
    }

    @Test func randomExpressionsThatCompileEvaluateConsistently() async {
        await forAllSeeds(count: 1000) { seed in
            var random = SplitMix(seed: seed)
            let text = ExpressionPrinter.print(RandomSyntax.expression(&random, depth: 3))
            guard case .success(let expression) = ExpressionCompiler.compile(text, allowedRoots: allRoots) else {
                return
            }
            let scope = RandomSyntax.scope
            let value = expression.evaluate(in: scope)
            #expect(expression.isTrue(in: scope) == value.isTruthy, "`\(text)` = \(value)")
            if let kind = expression.staticType, !value.isNull {
                #expect(kind.rawValue == ValueKind(of: value).rawValue, "`\(text)` = \(value), typed \(kind)")
            }
            if !expression.canBeNull { #expect(!value.isNull, "`\(text)` is null") }
        }
    }

    @Test func specialisedNodesAgreeWithTheGeneralOnes() async {
        await forAllSeeds(count: 2000) { seed in
            var random = SplitMix(seed: seed)
            let text = ExpressionPrinter.print(RandomSyntax.comparison(&random))
            let compile = { (specialize: Bool) in
                ExpressionCompiler.compile(
                    text, allowedRoots: allRoots, unavailableReasons: [:], specialize: specialize)
            }
            guard case .success(let fast) = compile(true), case .success(let general) = compile(false) else {
                return
            }
            let scope = RandomSyntax.scope
            #expect(fast.evaluate(in: scope) == general.evaluate(in: scope), "`\(text)`")
            #expect(fast.isTrue(in: scope) == general.isTrue(in: scope), "`\(text)`")
        }
    }
}

extension ValueKind {
    init(of value: Value) {
        switch value {
        case .null: self = .null
        case .bool: self = .boolean
        case .number: self = .number
        case .string: self = .string
        case .array: self = .list
        case .object: self = .object
        }
    }
}

/// Random syntax trees over the whole grammar (they need not type-check).
enum RandomSyntax {
    static let keys = ["a", "b", "c", "first name", "in", "not", "price", "9lives", "a-b", "é", ""]
    static let strings = ["", "gold", "x", "Ada", "it's", "say \"hi\"", "back\\slash", "tab\tnew\nline", "中文", "😀", "\u{1}"]
    static let functions = ["count", "sum", "days_since", "lower", "len", "coalesce", "exists", "hour", "e", "f"]

    static func expression(_ r: inout SplitMix, depth: Int) -> Syntax {
        let choice = depth <= 0 ? r.int(in: 0...5) : r.int(in: 0...11)
        let kind: Syntax.Kind
        switch choice {
        case 0: kind = .number(number(&r))
        case 1: kind = .string(strings.randomElement(using: &r)!)
        case 2: kind = r.int(in: 0...2) == 0 ? .null : .boolean(Bool.random(using: &r))
        case 3: kind = .duration(TimeSpan(milliseconds: Int64(r.int(in: 0...10_000_000_000))))
        case 4, 5: kind = .path(PathRoot.allCases.randomElement(using: &r)!, path(&r))
        case 6: kind = .list((0..<r.int(in: 0...3)).map { _ in expression(&r, depth: depth - 1) })
        case 7:
            kind = .unary(Bool.random(using: &r) ? .not : .negate, expression(&r, depth: depth - 1))
        case 8:
            var arguments = (0..<r.int(in: 0...3)).map { _ in
                Argument(label: nil, labelColumn: 0, value: expression(&r, depth: depth - 1))
            }
            if Bool.random(using: &r) {
                arguments.append(Argument(label: "within", labelColumn: 0, value: expression(&r, depth: 0)))
            }
            kind = .call(functions.randomElement(using: &r)!, arguments)
        default:
            kind = .binary(
                BinaryOperator.allCases.randomElement(using: &r)!, expression(&r, depth: depth - 1),
                expression(&r, depth: depth - 1))
        }
        return Syntax(kind, at: 0)
    }

    /// What random paths find: some keys exist, with values of every kind.
    static let scope: TestScope = {
        var scope = TestScope()
        scope.user = [
            "a": 3, "b": "x", "first name": "Ada", "in": [1, "x", 3], "c": nil, "price": 2.5, "not": ["a": 1],
            "é": "gold", "9lives": true,
        ]
        scope.event = ["a": 0, "b": ["x": true], "price": 3, "in": "tab\tnew\nline"]
        scope.enrollment = ["a": "gold", "b": 1]
        scope.history = [.init(event: "e", at: scope.now - .hours(5), properties: ["p": 2])]
        return scope
    }()

    /// `operand OP operand` or `operand [not] in operand`, with paths and constants likely on either side:
    /// the shapes the compiler specialises.
    static func comparison(_ r: inout SplitMix) -> Syntax {
        func operand(_ r: inout SplitMix) -> Syntax {
            switch r.int(in: 0...9) {
            case 0...3: return Syntax(.path(PathRoot.allCases.randomElement(using: &r)!, path(&r)), at: 0)
            case 4: return Syntax(.number(Double(r.int(in: 0...4))), at: 0)
            case 5: return Syntax(.string(["x", "gold", "Ada", "", "a"].randomElement(using: &r)!), at: 0)
            case 6:
                return Syntax(
                    .list((0..<r.int(in: 0...3)).map { _ in operand(&r) }), at: 0)
            case 7: return Syntax(.call("len", [Argument(label: nil, labelColumn: 0, value: operand(&r))]), at: 0)
            default: return expression(&r, depth: 1)
            }
        }
        func constant(_ r: inout SplitMix, kind: Int) -> Syntax {
            kind == 0
                ? Syntax(.number(Double(r.int(in: 0...4))), at: 0)
                : Syntax(.string(["x", "gold", "Ada", "", "a"].randomElement(using: &r)!), at: 0)
        }
        if r.int(in: 0...3) == 0 {
            // `path in [constants]`: all numbers, all strings, or mixed.
            let kind = r.int(in: 0...2)
            let items = (0..<r.int(in: 1...3)).map { _ in constant(&r, kind: kind == 2 ? r.int(in: 0...1) : kind) }
            let needle = Syntax(.path(PathRoot.allCases.randomElement(using: &r)!, path(&r)), at: 0)
            return Syntax(.binary(Bool.random(using: &r) ? .in : .notIn, needle, Syntax(.list(items), at: 0)), at: 0)
        }
        let comparisons: [BinaryOperator] = [.equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .in, .notIn]
        return Syntax(.binary(comparisons.randomElement(using: &r)!, operand(&r), operand(&r)), at: 0)
    }

    static func number(_ r: inout SplitMix) -> Double {
        switch r.int(in: 0...5) {
        case 5: return Double(r.int(in: 0...4))
        case 0: return Double(r.int(in: 0...1000))
        case 1: return Double(r.int(in: 0...100_000)) / 64
        case 2: return Double(r.int(in: 1...9)) * 1e-7
        case 3: return Double(r.int(in: 1...9)) * 1e20
        default: return Double.random(in: 0..<1e6, using: &r)
        }
    }

    static func path(_ r: inout SplitMix) -> [PathComponent] {
        var components: [PathComponent] = [.key(keys.randomElement(using: &r)!)]
        for _ in 0..<max(0, r.int(in: -3...3)) {
            components.append(
                Bool.random(using: &r) ? .key(keys.randomElement(using: &r)!) : .index(r.int(in: -3...12)))
        }
        return components
    }
}

extension SplitMix {
    mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
