import JourneyCore

/// How a template's output is escaped.
public enum TemplateMode: Sendable, Hashable {
    /// A plain-text body (email text part, SMS, chat): values are written as they are, minus NUL.
    case text
    /// An HTML body: every value is escaped for where it stands — HTML text and attribute values get
    /// entities; a URL attribute's start is checked (http, https, mailto, tel, sms, or relative) and its
    /// rest percent-encoded. Values cannot be output inside a tag, `<script>` or `on…=` attributes.
    case html
    /// One header line (`Subject`, …): rendered as text, then every control character (CR, LF, NUL, …)
    /// becomes a space, runs of spaces one, the ends are trimmed, and the line is cut at 998 bytes.
    case header
}

/// The names a template can start a path from.
public enum TemplateScope: Sendable, Hashable {
    /// A journey's message template: the roots of ``TemplateContext`` (`user`, `event`, `enrollment`,
    /// `journey`, `touch`, `unsubscribe_url`) and the template's own variables. Any other name is a
    /// warning at compile time (a slip like `usr.first_name`) and renders as nothing.
    case journey
    /// Standard Liquid: any top-level name, read from ``TemplateContext/variables`` when the render
    /// starts (`journeyd render --data`, the conformance suite); the roots still read their fields.
    case open
}

/// A Liquid template, compiled once and rendered many times, from any thread.
///
/// ```swift
/// let template = try LiquidTemplate("Hi {{ user.first_name | default: \"there\" }}!")
/// let text = try template.render(TemplateContext(user: ["first_name": "Ada"]))   // "Hi Ada!"
/// ```
///
/// Liquid as Shopify documents it (and the Golden Liquid suite pins it): outputs with filters;
/// `if`/`elsif`/`else`, `unless`, `case`/`when`, `for` (with `limit`, `offset`, `offset: continue`,
/// `reversed`, ranges, `forloop`, `else`, `break`, `continue`), `tablerow`, `cycle`, `increment`,
/// `decrement`, `ifchanged`, `assign`, `capture`, `echo`, `liquid`, `raw`, `comment`, `doc`, `{% # … %}`,
/// `render` and `include` (from ``TemplatePartials``, compiled in), and whitespace control with `-`.
/// Only `nil` and `false` are falsy; `and`/`or` group right to left; an undefined variable renders as
/// nothing; a block whose bodies hold only whitespace outputs nothing. Two differences are deliberate:
/// in HTML parts and headers, values are escaped for where they stand (see ``TemplateMode``), and data is
/// never parsed as a template: `{{` inside a value is output as it stands.
public final class LiquidTemplate: Sendable {
    public let mode: TemplateMode
    /// Problems that do not stop the template from rendering: unknown variables (which render as
    /// nothing), `forloop` outside a loop. `journeyd check` prints them.
    public let warnings: [TemplateDiagnostic]

    let nodes: [Node]
    let slotCount: Int
    let counterCount: Int
    let bindings: [SlotBinding]
    let slotNames: [String]
    /// The context roots it can read (all of them in an open scope): what a renderer must build.
    public let roots: TemplateContext.Roots
    /// The bytes of literal text: a first guess at the output's size.
    let sizeHint: Int

    /// Compiles `source`.
    ///
    /// - Parameters:
    ///   - file, line, column: where `source` starts, so that diagnostics point into the file it came from.
    ///   - scope: the names it may read (a journey's roots, or any, as standard Liquid).
    ///   - partials: where `render` and `include` find partials; they are compiled here, now.
    /// - Throws: every problem found, each at its file, line and column (a partial's in the partial).
    public init(
        _ source: String, mode: TemplateMode = .text, file: String = "", line: Int = 1, column: Int = 1,
        scope: TemplateScope = .journey, partials: TemplatePartials? = nil
    ) throws(TemplateCompileError) {
        var compiler = TemplateCompiler(
            source: source, mode: mode, file: file, line: line, column: column, scope: scope, partials: partials)
        let compiled = compiler.compile()
        // A partial used twice reports its problems once.
        var seen = Set<TemplateDiagnostic>()
        let diagnostics = compiler.diagnostics.filter { seen.insert($0).inserted }
        guard let compiled else { throw TemplateCompileError(diagnostics: diagnostics) }
        self.mode = mode
        self.warnings = diagnostics
        self.nodes = compiled.nodes
        self.slotCount = compiled.slotCount
        self.counterCount = compiled.counterCount
        self.bindings = compiled.bindings
        self.slotNames = compiled.slotNames
        self.roots = compiled.rootsRead
        self.sizeHint = Self.literalBytes(compiled.nodes)
    }

    private static func literalBytes(_ nodes: [Node]) -> Int {
        nodes.reduce(0) { total, node in
            if case .text(let bytes) = node { return total + bytes.count }
            return total + 16
        }
    }

    /// Renders the template for `context`.
    ///
    /// - Throws: ``TemplateRenderError`` only when the render would exceed `limits`.
    public func render(_ context: TemplateContext, limits: RenderLimits = RenderLimits()) throws(TemplateRenderError)
        -> String
    {
        var out: [UInt8] = []
        out.reserveCapacity(sizeHint + sizeHint / 2 + 16)
        try render(context, into: &out, limits: limits)
        let text = String(decoding: out, as: UTF8.self)
        return mode == .header ? Escaping.headerLine(text) : text
    }

    /// Renders like ``render(_:limits:)`` and also reports the variables that were output but held
    /// nothing (`user.first_nme`, `event.properties.sku`): Liquid's strict-variables check, for
    /// `journeyd test` and previews. Outputs with a `default` filter are not reported: they expect it.
    public func renderReportingUndefined(_ context: TemplateContext, limits: RenderLimits = RenderLimits())
        throws(TemplateRenderError) -> (output: String, undefined: [String])
    {
        var out: [UInt8] = []
        let undefined = try render(context, into: &out, limits: limits, collectingUndefined: true)
        let text = String(decoding: out, as: UTF8.self)
        return (mode == .header ? Escaping.headerLine(text) : text, undefined)
    }

    /// Renders into `buffer` (appending), for callers that reuse one buffer across renders. In
    /// ``TemplateMode/header`` the bytes are not yet made one line: use ``render(_:limits:)`` for headers.
    public func render(_ context: TemplateContext, into buffer: inout [UInt8], limits: RenderLimits = RenderLimits())
        throws(TemplateRenderError)
    {
        _ = try render(context, into: &buffer, limits: limits, collectingUndefined: false)
    }

    private func render(
        _ context: TemplateContext, into buffer: inout [UInt8], limits: RenderLimits, collectingUndefined: Bool
    ) throws(TemplateRenderError) -> [String] {
        var state = RenderState(context: context, slotCount: slotCount, counterCount: counterCount, limits: limits, out: [])
        if collectingUndefined {
            state.undefined = []
            state.slotNames = slotNames
        }
        swap(&state.out, &buffer)
        state.bind(bindings)
        _ = state.render(nodes)
        if state.failure == nil, state.out.count > limits.maxOutputBytes {
            state.fail("the output grew past \(limits.maxOutputBytes) bytes")
        }
        swap(&state.out, &buffer)
        if let failure = state.failure {
            let at = state.failurePoint
            throw TemplateRenderError(failure, file: at?.file ?? "", line: at?.line ?? 0, column: at?.column ?? 0)
        }
        return state.undefined ?? []
    }
}
