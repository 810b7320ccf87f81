import JourneyCore

/// The headers a message template may set, in the order they are listed here.
public enum MessageHeader: String, Sendable, CaseIterable {
    case subject = "Subject"
    /// The preview text mail clients show after the subject; the email adapter hides it in the HTML part.
    case preheader = "Preheader"
    case from = "From"
    case replyTo = "Reply-To"
}

/// One file of a message template: its path (for diagnostics) and its text.
public struct TemplateSource: Sendable, Hashable {
    public var file: String
    public var text: String
    public init(file: String, text: String) {
        self.file = file
        self.text = text
    }
}

/// A message template: `templates/NAME.liquid` (optionally with a header block) and an optional
/// `templates/NAME.html.liquid` HTML part, compiled once.
///
/// ```
/// Subject: Welcome, {{ user.first_name | default: "there" }}!
/// Preheader: Three things to try first
///
/// Hi {{ user.first_name | default: "there" }}, …
/// ```
///
/// A file starts with a header block when its first line is `Name: value` for a header of
/// ``MessageHeader`` (names match case-insensitively). The block ends at the first blank line; the body
/// follows. Without a header block the whole file is the body (chat and SMS templates). A first line
/// that looks like a misspelt header (`Subjet: …`) is an error, not a body. When a template has only an
/// HTML part, its header block is in that file.
///
/// Headers render as one line each (``TemplateMode/header``), the text body as text, the HTML body with
/// escaping by context (``TemplateMode/html``).
public struct MessageTemplate: Sendable {
    public var name: String
    public var headers: [(header: MessageHeader, template: LiquidTemplate)]
    public var text: LiquidTemplate?
    public var html: LiquidTemplate?
    /// Warnings of every part, in file and line order.
    public var warnings: [TemplateDiagnostic]

    /// Compiles the parts of a template; at least one of `text` and `html` must be given. `render` and
    /// `include` in any part find their partials in `partials`, compiled here with that part's escaping.
    ///
    /// - Throws: every error of every part (warnings included), sorted by file, line and column.
    public init(
        name: String, text: TemplateSource?, html: TemplateSource?, partials: TemplatePartials? = nil,
        scope: TemplateScope = .journey
    ) throws(TemplateCompileError) {
        precondition(text != nil || html != nil, "a message template needs a text or an HTML part")
        var diagnostics: [TemplateDiagnostic] = []
        var headers: [(header: MessageHeader, template: LiquidTemplate)] = []
        var bodies: [TemplateMode: LiquidTemplate] = [:]

        func compile(_ source: String, _ mode: TemplateMode, _ file: String, _ line: Int, _ column: Int) -> LiquidTemplate? {
            do {
                let template = try LiquidTemplate(
                    source, mode: mode, file: file, line: line, column: column, scope: scope, partials: partials)
                diagnostics += template.warnings
                return template
            } catch {
                diagnostics += error.diagnostics
                return nil
            }
        }

        for (source, mode) in [(text, TemplateMode.text), (html, .html)] {
            guard let source else { continue }
            let isPrimary = mode == .text || text == nil
            var body = HeaderBlock.Body(text: source.text, line: 1)
            if isPrimary {
                let block = HeaderBlock(source)
                diagnostics += block.diagnostics
                for field in block.fields {
                    if let template = compile(field.value, .header, source.file, field.line, field.column) {
                        headers.append((field.header, template))
                    }
                }
                body = block.body
            } else if body.text.hasPrefix("\u{FEFF}") {
                body.text.removeFirst()
            }
            if let template = compile(body.text, mode, source.file, body.line, 1) { bodies[mode] = template }
        }
        diagnostics.sort { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
        guard !diagnostics.contains(where: { $0.severity == .error }) else {
            throw TemplateCompileError(diagnostics: diagnostics)
        }
        self.name = name
        self.headers = headers.sorted {
            MessageHeader.allCases.firstIndex(of: $0.header)! < MessageHeader.allCases.firstIndex(of: $1.header)!
        }
        self.text = bodies[.text]
        self.html = bodies[.html]
        self.warnings = diagnostics
    }

    /// The context roots its parts can read: what a renderer must build.
    public var roots: TemplateContext.Roots {
        headers.reduce(into: (text?.roots ?? []).union(html?.roots ?? [])) { $0.formUnion($1.template.roots) }
    }

    public func template(for header: MessageHeader) -> LiquidTemplate? {
        headers.first { $0.header == header }?.template
    }

    /// Renders every part for one touch.
    ///
    /// - Throws: ``TemplateRenderError`` only when a part would exceed `limits`.
    public func render(_ context: TemplateContext, limits: RenderLimits = RenderLimits()) throws(TemplateRenderError)
        -> RenderedMessage
    {
        try render(context, limits: limits, collectingUndefined: false).message
    }

    /// Renders every part and reports the variables output that held nothing, in every part (see
    /// ``LiquidTemplate/renderReportingUndefined(_:limits:)``).
    public func renderReportingUndefined(_ context: TemplateContext, limits: RenderLimits = RenderLimits())
        throws(TemplateRenderError) -> (message: RenderedMessage, undefined: [String])
    {
        try render(context, limits: limits, collectingUndefined: true)
    }

    private func render(_ context: TemplateContext, limits: RenderLimits, collectingUndefined: Bool)
        throws(TemplateRenderError) -> (message: RenderedMessage, undefined: [String])
    {
        var undefined: [String] = []
        func part(_ template: LiquidTemplate) throws(TemplateRenderError) -> String {
            guard collectingUndefined else { return try template.render(context, limits: limits) }
            let (output, missing) = try template.renderReportingUndefined(context, limits: limits)
            for name in missing where !undefined.contains(name) { undefined.append(name) }
            return output
        }
        var message = RenderedMessage()
        for (header, template) in headers {
            let value = try part(template)
            switch header {
            case .subject: message.subject = value
            case .preheader: message.preheader = value
            case .from: message.from = value
            case .replyTo: message.replyTo = value
            }
        }
        if let text { message.text = try part(text) }
        if let html { message.html = try part(html) }
        return (message, undefined)
    }
}

/// A rendered message, ready for a channel adapter. Header values are single lines (no CR, LF or other
/// control characters, at most 998 bytes), not yet MIME-encoded or folded: that is the email adapter's job.
public struct RenderedMessage: Sendable, Hashable {
    public var subject: String?
    public var preheader: String?
    public var from: String?
    public var replyTo: String?
    /// The text body; nil when the template has only an HTML part.
    public var text: String?
    /// The HTML body; nil when the template has no HTML part.
    public var html: String?

    public init(
        subject: String? = nil, preheader: String? = nil, from: String? = nil, replyTo: String? = nil,
        text: String? = nil, html: String? = nil
    ) {
        self.subject = subject
        self.preheader = preheader
        self.from = from
        self.replyTo = replyTo
        self.text = text
        self.html = html
    }
}
