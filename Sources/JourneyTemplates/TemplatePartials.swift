/// Where `{% render 'name' %}` and `{% include 'name' %}` find their partials, by name, when a
/// template is compiled: partials are compiled into the template at load, never read at render time.
///
/// In a rule directory a partial named `footer` is the file `templates/_footer.liquid` (the leading
/// underscore keeps it from being a message template of its own), or `templates/footer.liquid`; an HTML
/// part looks for `_footer.html.liquid` first. See ``directory(_:shownAs:)``.
public struct TemplatePartials: Sendable {
    /// The source of a partial for a part of the given mode, or nil when there is none.
    let find: @Sendable (_ name: String, _ mode: TemplateMode) -> TemplateSource?
    /// Every partial's name, for `{% include name %}` with the name in a variable and for suggestions.
    let names: @Sendable () -> [String]
    /// Where partials are looked for, for messages: `templates/_NAME.liquid`.
    let pattern: String

    public init(
        pattern: String, names: @escaping @Sendable () -> [String],
        find: @escaping @Sendable (_ name: String, _ mode: TemplateMode) -> TemplateSource?
    ) {
        self.pattern = pattern
        self.names = names
        self.find = find
    }

    /// Partials held in memory, by name (each name is also its file name in diagnostics).
    public init(_ sources: [String: String]) {
        let sorted = sources.keys.sorted()
        self.init(pattern: "a partial named NAME", names: { sorted }) { name, _ in
            sources[name].map { TemplateSource(file: name, text: $0) }
        }
    }
}
