import JourneyCore

// The compiled form of a template: a tree of nodes whose variable paths are split and whose names are
// resolved at compile time — context roots to a ``TemplateContext/Root``, template variables (`assign`,
// `capture`, `for`, and in an open scope every other name) to a slot number — so a render never parses
// and looks a name up by text at most once, when it starts.

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
    /// `{{ [name] }}`: the top-level variable whose name is the value of an expression, and a path.
    case named(Expr, [PathStep])
}

/// Where a piece of markup stands in its file (a partial's in the partial), for render errors.
struct SourcePoint: Sendable, Hashable {
    var file: String
    var line: Int
    var column: Int
}

/// One step of a path: `.name`, `["name"]`, `[0]`, `[expression]`.
enum PathStep: Sendable {
    /// A member; on a value without that member `size`, `first` and `last` still answer, as in Liquid.
    case key(String)
    case index(Int)
    case dynamic(Expr)
}

enum LoopField: String, Sendable, CaseIterable {
    case index, index0, rindex, rindex0, first, last, length, name
    /// `tablerowloop` only: the column (1-based, 0-based), whether it is the row's first or last, the row.
    case col, col0, colFirst = "col_first", colLast = "col_last", row
    /// `forloop` itself, as an object.
    case whole = ""

    var isTableOnly: Bool {
        switch self {
        case .col, .col0, .colFirst, .colLast, .row: return true
        default: return false
        }
    }
}

/// Where a slot's value comes from when a render starts (every other slot starts as nil).
struct SlotBinding: Sendable {
    enum Source: Sendable {
        /// A context root (a template that `assign`s `user`).
        case root(TemplateContext.Root)
        /// A top-level variable of ``TemplateContext/variables`` (open scope only).
        case global(String)
    }

    var slot: Int
    var source: Source
}

/// A condition of `if`, `elsif`, `unless`: comparisons joined by `and`/`or`, grouped right to left.
indirect enum Condition: Sendable {
    case value(Expr)
    /// Ordering text against a number is a render error, reported at the point.
    case compare(Expr, Comparison, Expr, SourcePoint)
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
    /// Where the tag is, for errors in `limit:` and `offset:`.
    var at = SourcePoint(file: "", line: 0, column: 0)
    /// `offset: continue`: start where the last loop of the same name stopped.
    var continues = false
    /// The loop's name for `offset: continue` (`item-collection.path`).
    var name = ""
    /// Whether the loop notes where it stopped under ``name``: only templates with `offset: continue` do.
    var recordsStop = false
    var reversed: Bool
    var body: [Node]
    var otherwise: [Node]
    /// `tablerow` only: how many cells a row has (nil: all in one row).
    var cols: Expr? = nil
}

/// A compiled partial of `{% render %}`: a template of its own, with its own variables.
final class CompiledPartial: Sendable {
    let nodes: [Node]
    let slotCount: Int
    let counterCount: Int
    let bindings: [SlotBinding]

    init(nodes: [Node], slotCount: Int, counterCount: Int, bindings: [SlotBinding]) {
        self.nodes = nodes
        self.slotCount = slotCount
        self.counterCount = counterCount
        self.bindings = bindings
    }
}

/// `{% render 'name', key: value, … %}`, `with value as name`, `for items as name`.
struct RenderCall: Sendable {
    var partial: CompiledPartial
    /// The partial's slots set from the caller's values (keyword arguments, and `with`).
    var arguments: [(slot: Int, value: Expr)]
    /// `for`: the slot that takes each item, and the items.
    var each: (slot: Int, items: Expr)?
}

/// `{% include 'name', key: value %}`: the partial compiled into the including template, sharing its
/// variables; the keyword arguments and the `with`/`for` value are seen only inside it.
struct IncludeCall: Sendable {
    var body: [Node]
    var arguments: [(slot: Int, value: Expr)]
    /// `with` / `for`: the slot that takes the value (each item, when it is a list), and the value.
    var binding: (slot: Int, value: Expr)?
}

/// `{% cycle 'a', 'b' %}` and `{% cycle group: 'a', 'b' %}`.
struct Cycle: Sendable {
    enum Group: Sendable {
        /// No group name: cycles with the same values written the same way share a position.
        case anonymous(String)
        case named(Expr)
    }

    var group: Group
    var values: [Expr]
    /// How a value is written where the tag stands (HTML parts).
    var escaper: Escaper = .text
}

/// A `when` of a `case` (nil values: an `else`, which renders when no `when` before it matched).
struct When: Sendable {
    var values: [Expr]?
    var body: [Node]
}

indirect enum Node: Sendable {
    case text([UInt8])
    case output(Output)
    /// `if`/`elsif`/`else` and `unless`: the first branch whose condition holds, else `otherwise`.
    case branches([(Condition, [Node])], otherwise: [Node])
    /// `case`/`when`/`else`, in order: a `when` renders once per value that matches, an `else` when no
    /// `when` before it matched (as in Liquid).
    case choose(Expr, [When])
    case loop(ForLoop)
    case assign(Int, Output)
    case capture(Int, [Node])
    case breakLoop
    case continueLoop
    case render(RenderCall)
    case include(IncludeCall)
    /// `{% include name %}` with the name in a variable: every partial that could be meant, by name.
    case includeNamed(Expr, [String: IncludeCall])
    case cycle(Cycle)
    /// `increment` (outputs, then adds one) and `decrement` (subtracts one, then outputs): a counter, and
    /// the slot that reads it by name (nil when the name is also assigned, which hides the counter).
    case counter(Int, slot: Int?, increment: Bool)
    case tablerow(ForLoop)
    /// `ifchanged`: the body's output, when it differs from the last `ifchanged` output.
    case ifchanged([Node])

    /// Liquid's "blank" node: one that outputs nothing, or only whitespace. A block tag whose bodies
    /// are all blank outputs nothing at all (its whitespace is dropped), as in Shopify's Liquid.
    var isBlank: Bool {
        switch self {
        case .text(let bytes): return bytes.allSatisfy(TemplateLexer.isSpace)
        case .assign, .capture, .breakLoop, .continueLoop: return true
        case .branches(let branches, let otherwise):
            return branches.allSatisfy { $0.1.allSatisfy(\.isBlank) } && otherwise.allSatisfy(\.isBlank)
        case .choose(_, let whens):
            return whens.allSatisfy { $0.body.allSatisfy(\.isBlank) }
        case .loop(let loop): return loop.body.allSatisfy(\.isBlank) && loop.otherwise.allSatisfy(\.isBlank)
        case .ifchanged(let body): return body.allSatisfy(\.isBlank)
        case .output, .render, .include, .includeNamed, .cycle, .counter, .tablerow: return false
        }
    }

    /// `nodes` without their whitespace text, in this node and the blocks below it.
    static func droppingWhitespace(_ nodes: [Node]) -> [Node] {
        nodes.compactMap { node in
            switch node {
            case .text: return nil
            case .branches(let branches, let otherwise):
                return .branches(branches.map { ($0.0, droppingWhitespace($0.1)) }, otherwise: droppingWhitespace(otherwise))
            case .choose(let subject, let whens):
                return .choose(subject, whens.map { When(values: $0.values, body: droppingWhitespace($0.body)) })
            case .loop(var loop):
                loop.body = droppingWhitespace(loop.body)
                loop.otherwise = droppingWhitespace(loop.otherwise)
                return .loop(loop)
            case .ifchanged(let body): return .ifchanged(droppingWhitespace(body))
            default: return node
            }
        }
    }
}
