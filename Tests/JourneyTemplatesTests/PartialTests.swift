import Foundation
import JourneyCore
import JourneyTemplates
import Testing

/// `{% render %}` and `{% include %}`: partials compiled at load, escaped by context like the
/// template around them, errors at the partial's `file:line:col`.
@Suite("Partials")
struct PartialTests {
    static let partials = TemplatePartials([
        "greeting": "Hi {{ user.first_name | default: name }}",
        "link": #"<a href="{{ url }}">{{ label }}</a>"#,
        "counter": "{% assign seen = seen | plus: 1 %}",
        "leaks": "{{ secret }}",
        "loop": "{{ forloop.index }}:{{ item.name }} ",
    ])

    func compile(_ source: String, mode: TemplateMode = .text, partials: TemplatePartials = Self.partials)
        throws(TemplateCompileError) -> LiquidTemplate
    {
        try LiquidTemplate(source, mode: mode, file: "templates/t.liquid", partials: partials)
    }

    @Test func renderSeesTheRootsAndItsArgumentsButNotTheTemplatesVariables() throws {
        let template = try compile(
            "{% assign secret = 'x' %}{% render 'greeting', name: 'friend' %}|{% render 'leaks' %}|"
                + "{% for item in event.properties.items %}{% render 'loop', item: item %}{% endfor %}|"
                + "{% render 'loop' for event.properties.items as item %}")
        #expect(try template.render(Samples.context) == "Hi Ada||:Red shoes :Wool hat :Socks |1:Red shoes 2:Wool hat 3:Socks ")
        var anonymous = Samples.context
        anonymous.user = [:]
        #expect(try template.render(anonymous).hasPrefix("Hi friend|"))
    }

    @Test func includeSharesTheTemplatesVariables() throws {
        let template = try compile("{% assign seen = 0 %}{% include 'counter' %}{% include 'counter' %}{{ seen }}")
        #expect(try template.render(Samples.context) == "2")
    }

    @Test func valuesInAnHTMLPartialAreEscapedForWhereTheyStand() throws {
        let template = try compile(
            #"<p>{% render 'link', url: user.site, label: user.first_name %}</p>"#, mode: .html)
        var context = Samples.context
        context.user = ["site": "javascript:alert(1)", "first_name": "<b>Ada</b>"]
        #expect(try template.render(context) == #"<p><a href="about:invalid">&lt;b&gt;Ada&lt;/b&gt;</a></p>"#)
    }

    @Test func dataIsNeverParsedAsATemplate() throws {
        let template = try compile("{% render 'greeting', name: user.first_name %}")
        var context = Samples.context
        context.user = ["first_name": "{% render 'leaks' %}{{ 1 | plus: 1 }}"]
        #expect(try template.render(context) == "Hi {% render 'leaks' %}{{ 1 | plus: 1 }}")
    }

    @Test func aMissingPartialIsAnErrorAtItsNameWithASuggestion() {
        do {
            _ = try compile("x\n  {% render 'greting' %}")
            Issue.record("compiled")
        } catch {
            #expect(error.errors.map(\.description) == [
                "templates/t.liquid:2:13: no partial 'greting' (looked for a partial named greting); did you mean \"greeting\"?"
            ])
        }
    }

    @Test func aPartialThatLeadsBackToItselfIsAnErrorInThePartial() {
        let cyclic = TemplatePartials(["a": "A{% include 'b' %}", "b": "B{% render 'a' %}"])
        do {
            _ = try compile("{% render 'a' %}", partials: cyclic)
            Issue.record("compiled")
        } catch {
            #expect(error.errors.map(\.description) == ["b:1:12: partial 'a' includes itself: 'a' → 'b' → 'a'"])
        }
    }

    @Test func errorsInAPartialPointIntoThePartialOnce() {
        let broken = TemplatePartials(["footer": "ok\n{{ x | upcse }}"])
        do {
            _ = try compile("{% render 'footer' %}{% render 'footer' %}", partials: broken)
            Issue.record("compiled")
        } catch {
            #expect(error.errors.map(\.description) == ["footer:2:8: unknown filter \"upcse\"; did you mean \"upcase\"?"])
        }
    }

    @Test func aFolderGivesUnderscoredPartialsFirstAndHTMLOnesToHTMLParts() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("partials-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/emails", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, text) in [
            ("_footer.liquid", "text footer"), ("_footer.html.liquid", "<p>html footer</p>"), ("footer.liquid", "not me"),
            ("sign.liquid", "plain sign"), ("emails/_note.liquid", "note"),
        ] {
            try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        }
        let partials = TemplatePartials.directory(folder, shownAs: "templates")
        let source = "{% render 'footer' %} {% render 'sign' %} {% render 'emails/note' %}"
        #expect(try compile(source, partials: partials).render(Samples.context) == "text footer plain sign note")
        #expect(try compile(source, mode: .html, partials: partials).render(Samples.context) == "<p>html footer</p> plain sign note")
        #expect(throws: TemplateCompileError.self) { try compile("{% render '../etc/passwd' %}", partials: partials) }
    }

    @Test func withoutPartialsTheTagsSayWhy() {
        #expect(diagnostics("{% render 'footer' %}") == ["1:11: `render` needs partials, and none are available here"])
    }
}
