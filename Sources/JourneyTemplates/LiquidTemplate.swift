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

/// A Liquid template, compiled once and rendered many times, from any thread.
///
/// ```swift
/// let template = try LiquidTemplate("Hi {{ user.first_name | default: \"there\" }}!")
/// let text = try template.render(TemplateContext(user: ["first_name": "Ada"]))   // "Hi Ada!"
/// ```
///
/// Liquid as Shopify documents it: outputs with filters; `if`/`elsif`/`else`, `unless`, `case`/`when`,
/// `for` (with `limit`, `offset`, `reversed`, ranges, `forloop`, `else`, `break`, `continue`), `assign`,
/// `capture`, `echo`, `raw`, `comment`, `{% # … %}`, and whitespace control with `-`. Only `nil` and
/// `false` are falsy; `and`/`or` group right to left; an undefined variable renders as nothing. Data is
/// never parsed as a template: `{{` inside a value is output as it stands.
public final class LiquidTemplate: Sendable {
    public let mode: TemplateMode
    /// Problems that do not stop the template from rendering: unknown variables (which render as
    /// nothing), `forloop` outside a loop. `journeyd check` prints them.
    public let warnings: [TemplateDiagnostic]

    let nodes: [Node]
    let slotCount: Int
    let rootBindings: [RootBinding]
    let slotNames: [String]
    /// The bytes of literal text: a first guess at the output's size.
    let sizeHint: Int

    /// Compiles `source`.
    ///
    /// - Parameters:
    ///   - file, line, column: where `source` starts, so that diagnostics point into the file it came from.
    /// - Throws: every problem found, each at its line and column.
    public init(
        _ source: String, mode: TemplateMode = .text, file: String = "", line: Int = 1, column: Int = 1
    ) throws(TemplateCompileError) {
        var compiler = TemplateCompiler(source: source, mode: mode, file: file, line: line, column: column)
        guard let compiled = compiler.compile() else { throw TemplateCompileError(diagnostics: compiler.diagnostics) }
        self.mode = mode
        self.warnings = compiler.diagnostics
        self.nodes = compiled.nodes
        self.slotCount = compiled.slotCount
        self.rootBindings = compiled.rootBindings
        self.slotNames = compiled.slotNames
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
        var state = RenderState(context: context, slotCount: slotCount, limits: limits, out: [])
        if collectingUndefined {
            state.undefined = []
            state.slotNames = slotNames
        }
        swap(&state.out, &buffer)
        for binding in rootBindings { state.slots[binding.slot] = context.value(of: binding.root) }
        _ = state.render(nodes)
        if state.failure == nil, state.out.count > limits.maxOutputBytes {
            state.fail("the output grew past \(limits.maxOutputBytes) bytes")
        }
        swap(&state.out, &buffer)
        if let failure = state.failure { throw TemplateRenderError(failure) }
        return state.undefined ?? []
    }
}
