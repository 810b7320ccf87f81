import JourneyCore
import JourneyRules

/// A plain-value ``ExpressionScope``: roots are `Value`s, history is a list of dated events.
struct TestScope: ExpressionScope {
    struct Occurrence {
        var event: String
        var at: Timestamp
        var properties: Value = .emptyObject
    }

    var user: Value = .emptyObject
    var event: Value = .emptyObject
    var enrollment: Value = .emptyObject
    var journey: Value = .emptyObject
    var history: [Occurrence] = []
    var now: Timestamp = TestScope.instant("2025-06-15T12:00:00Z")
    var zone: Zone = .utc

    static func instant(_ text: String) -> Timestamp {
        guard let t = Timestamp(iso8601: text) else { fatalError("bad timestamp in test: \(text)") }
        return t
    }

    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value {
        let base: Value
        switch root {
        case .user: base = user
        case .event: base = event
        case .enrollment: base = enrollment
        case .journey: base = journey
        }
        return base.value(at: path) ?? .null
    }

    private func occurrences(_ name: String, within: TimeSpan?) -> [Occurrence] {
        history.filter { o in
            o.event == name && o.at <= now && (within.map { o.at > now - $0 } ?? true)
        }
    }

    func count(event: String, within: TimeSpan?) -> Int { occurrences(event, within: within).count }

    func sum(event: String, property: String, within: TimeSpan?) -> Double {
        occurrences(event, within: within).reduce(0) { $0 + ($1.properties[property]?.numberValue ?? 0) }
    }

    func lastTime(event: String) -> Timestamp? { occurrences(event, within: nil).map(\.at).max() }
    func firstTime(event: String) -> Timestamp? { occurrences(event, within: nil).map(\.at).min() }
}

let allRoots = Set(PathRoot.allCases)

/// Compiles `text` (all roots allowed unless said otherwise) or records why not.
func compiled(_ text: String, roots: Set<PathRoot> = allRoots) throws -> Expression {
    try ExpressionCompiler.compile(text, allowedRoots: roots).get()
}

/// The value of `text` in `scope`; a compile error is thrown.
func value(_ text: String, in scope: TestScope = TestScope()) throws -> Value {
    try compiled(text).evaluate(in: scope)
}

/// Whether `text` holds in `scope`, checked to agree with the truthiness of its value.
func holds(_ text: String, in scope: TestScope = TestScope()) throws -> Bool {
    let expression = try compiled(text)
    let result = expression.isTrue(in: scope)
    guard result == expression.evaluate(in: scope).isTruthy else {
        throw Disagreement(text: text)
    }
    return result
}

struct Disagreement: Error, CustomStringConvertible {
    var text: String
    var description: String { "isTrue and evaluate disagree on `\(text)`" }
}

/// The compile error for `text`, or nil when it compiles.
func compileError(_ text: String, roots: Set<PathRoot> = allRoots) -> ExpressionError? {
    switch ExpressionCompiler.compile(text, allowedRoots: roots) {
    case .success: return nil
    case .failure(let error): return error
    }
}
