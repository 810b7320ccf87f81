import JourneyCore
import JourneyRules
import JourneyTemplates
import Testing

@Suite("Template loading")
struct TemplateLoadingTests {
    @Test func aTextAndAnHTMLFileMakeOneCompiledTemplate() throws {
        var files = LoaderFixtures.journey("journey: j\ntrigger: { event: e }\nsteps:\n  - send: email\n    template: t\n", templates: [])
        files["templates/t.liquid"] = "Subject: Hi {{ user.first_name }}\n\nText for {{ user.first_name }}\n"
        files["templates/t.html.liquid"] = "<p>HTML for {{ user.first_name }}</p>\n"
        let template = try #require(try LoaderFixtures.load(files).templates["t"])
        #expect(template.file == "templates/t.liquid")
        #expect(template.htmlFile == "templates/t.html.liquid")
        let message = try template.message.render(TemplateContext(user: ["first_name": "<Ada>"]))
        #expect(message == RenderedMessage(subject: "Hi <Ada>", text: "Text for <Ada>\n", html: "<p>HTML for &lt;Ada&gt;</p>\n"))
    }

    @Test func templateErrorsAreDiagnosticsAndTheNameStaysKnown() throws {
        var files = LoaderFixtures.journey("journey: j\ntrigger: { event: e }\nsteps:\n  - send: email\n    template: t\n", templates: [])
        files["templates/t.liquid"] = "Hello\n{{ user.first_name | bogus }}\n"
        let (rules, lines) = try LoaderFixtures.report(files)
        #expect(rules == nil)
        // No "unknown template" for the step that names it: the template exists, it is just broken.
        #expect(lines == ["templates/t.liquid:2:22: unknown filter \"bogus\""])
    }

    @Test func templateWarningsDoNotStopALoad() throws {
        var files = LoaderFixtures.journey("journey: j\ntrigger: { event: e }\nsteps:\n  - send: email\n    template: t\n", templates: [])
        files["templates/t.liquid"] = "Hi {{ usr.first_name }}"
        let (rules, lines) = try LoaderFixtures.report(files)
        #expect(rules != nil)
        #expect(lines == ["templates/t.liquid:1:7: warning: unknown variable \"usr\" renders as nothing; did you mean \"user\"?"])
    }

    @Test func twoHTMLPartsAreADuplicate() throws {
        var files = LoaderFixtures.journey("journey: j\ntrigger: { event: e }\nsteps:\n  - send: email\n    template: t\n", templates: [])
        files["templates/t.html"] = "<p>a</p>"
        files["templates/t.html.liquid"] = "<p>b</p>"
        let (_, lines) = try LoaderFixtures.report(files)
        #expect(
            lines == [
                "templates/t.html.liquid: template \"t\" is defined twice (also templates/t.html); a template's name is its file name up to the first dot"
            ])
    }
}
