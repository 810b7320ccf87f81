import JourneyCore

// The compiled form of a template: a tree of nodes whose variable paths are split and whose names are
// resolved at compile time — context roots to a ``TemplateContext/Root``, template variables (`assign`,
// `capture`, `for`) to a slot number — so a render never parses and never looks a name up by text.

/// A compiled expression.
indirect enum Expr: Sendable {
    case literal(Value)
    /// `user.first_name`: a context root and the path under it.
    case root(TemplateContext.Root, [PathStep])
    /// A template variable (`assign`, `capture`, a `for` variable) and the path under it.
    case slot(Int, [PathStep])
    /// `forloop.index`: the loop `depth` levels out from the innermost (`forloop.parentloop` is 1).
    case loop(depth: Int, LoopField, [PathStep])
    /// `(1..n)`.
    case range(Expr, Expr)
    /// The special values `blank` and `empty`, which only mean something in comparisons.
    case blank
    case empty
}

/// One step of a path: `.name`, `["name"]`, `[0]`, `[expression]`.
enum PathStep: Sendable {
    /// A member; on a value without that member `size`, `first` and `last` still answer, as in Liquid.
    case key(String)
    case index(Int)
    case dynamic(Expr)
}

enum LoopField: String, Sendable, CaseIterable {
    case index, index0, rindex, rindex0, first, last, length
    /// `forloop` itself, as an object.
    case whole = ""
}

/// A condition of `if`, `elsif`, `unless`: comparisons joined by `and`/`or`, grouped right to left.
indirect enum Condition: Sendable {
    case value(Expr)
    case compare(Expr, Comparison, Expr)
    case and(Condition, Condition)
    case or(Condition, Condition)
    case not(Condition)
}

/// An expression through its filters, with the escaping its place in the output calls for.
struct Output: Sendable {
    var expr: Expr
    var filters: [FilterCall]
    var escaper: Escaper
}

struct ForLoop: Sendable {
    var slot: Int
    var collection: Expr
    var limit: Expr?
    var offset: Expr?
    var reversed: Bool
    var body: [Node]
    var otherwise: [Node]
}

struct When: Sendable {
    var values: [Expr]
    var body: [Node]
}

indirect enum Node: Sendable {
    case text([UInt8])
    case output(Output)
    /// `if`/`elsif`/`else` and `unless`: the first branch whose condition holds, else `otherwise`.
    case branches([(Condition, [Node])], otherwise: [Node])
    /// `case`/`when`: every `when` that matches renders (as in Liquid); `otherwise` when none did.
    case choose(Expr, [When], otherwise: [Node])
    case loop(ForLoop)
    case assign(Int, Output)
    case capture(Int, [Node])
    case breakLoop
    case continueLoop
}
