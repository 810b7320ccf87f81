import JourneyCore
import JourneyTemplates
import Testing

@Suite("Message templates")
struct MessageTemplateTests {
    func compile(_ text: String?, html: String? = nil) throws(TemplateCompileError) -> MessageTemplate {
        try MessageTemplate(
            name: "welcome", text: text.map { TemplateSource(file: "templates/welcome.liquid", text: $0) },
            html: html.map { TemplateSource(file: "templates/welcome.html.liquid", text: $0) })
    }

    func errors(_ text: String?, html: String? = nil) -> [String] {
        do {
            _ = try compile(text, html: html)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func headersThenABlankLineThenTheBody() throws {
        let template = try compile(
            """
            Subject: Welcome, {{ user.first_name | default: "there" }}!
            Preheader: Your {{ user.tier }} perks inside
            From: Shop <news@shop.example>
            Reply-To: help@shop.example

            Hi {{ user.first_name }},
            welcome.
            """)
        let message = try template.render(Samples.context)
        #expect(
            message
                == RenderedMessage(
                    subject: "Welcome, Ada!", preheader: "Your gold perks inside", from: "Shop <news@shop.example>",
                    replyTo: "help@shop.example", text: "Hi Ada,\nwelcome.", html: nil))
        #expect(template.headers.map(\.header) == [.subject, .preheader, .from, .replyTo])
    }

    @Test func withoutAHeaderBlockTheWholeFileIsTheBody() throws {
        let message = try compile("🎉 Congratulations {{ user.first_name }}!\nNote: gold ships free.").render(Samples.context)
        #expect(message == RenderedMessage(text: "🎉 Congratulations Ada!\nNote: gold ships free."))
        // A first line that merely looks like `Word: …` is text when Word is no header.
        #expect(try compile("Reminder: your cart {{ enrollment.key }}").render(Samples.context).text == "Reminder: your cart c-42")
    }

    @Test func aSubjectOnlyTemplateHasAnEmptyBody() throws {
        let message = try compile("Subject: Renews on {{ user.renewal_date | date: \"%B %-d\" }}\n").render(Samples.context)
        #expect(message == RenderedMessage(subject: "Renews on March 15", text: ""))
    }

    @Test func crlfFilesAndHeaderNamesInAnyCase() throws {
        let message = try compile("subject: Hi\r\nREPLY-TO: a@b.example\r\n\r\nBody\r\n").render(Samples.context)
        #expect(message.subject == "Hi")
        #expect(message.replyTo == "a@b.example")
        #expect(message.text == "Body\r\n")
    }

    @Test func theHTMLPartIsEscapedByContext() throws {
        let template = try compile(
            "Subject: Your cart\n\nHi {{ user.first_name }}",
            html: "<p>Hi {{ user.first_name }}, <a href=\"{{ unsubscribe_url }}\">unsubscribe</a></p>\n")
        var context = Samples.context
        context.user = ["first_name": "<Ada>"]
        let message = try template.render(context)
        #expect(message.subject == "Your cart")
        #expect(message.text == "Hi <Ada>")
        #expect(message.html == "<p>Hi &lt;Ada&gt;, <a href=\"https://example.com/unsubscribe?u=u1&amp;c=email\">unsubscribe</a></p>\n")
    }

    @Test func anHTMLOnlyTemplateTakesItsHeadersFromTheHTMLFile() throws {
        let message = try compile(nil, html: "Subject: Hello {{ user.first_name }}\n\n<h1>Hi</h1>").render(Samples.context)
        #expect(message == RenderedMessage(subject: "Hello Ada", html: "<h1>Hi</h1>"))
    }

    @Test func headerProblemsAreErrorsAtTheirLine() {
        #expect(
            errors("Subjet: Hi\n\nBody") == [
                "templates/welcome.liquid:1:1: unknown header \"Subjet\" (known: Subject, Preheader, From, Reply-To); did you mean \"Subject\"?"
            ])
        #expect(
            errors("Subject: Hi\nBcc: all@example.com\n\nBody") == [
                "templates/welcome.liquid:2:1: unknown header \"Bcc\" (known: Subject, Preheader, From, Reply-To)"
            ])
        #expect(
            errors("Subject: Hi\nBody without a blank line") == [
                "templates/welcome.liquid:2:1: expected a header (`Subject: …`) or the blank line that ends the headers"
            ])
        #expect(errors("Subject: Hi\nSubject: Again\n\nx") == ["templates/welcome.liquid:2:1: Subject is set twice"])
        #expect(errors("Subject:   \n\nx") == ["templates/welcome.liquid:1:12: Subject has no value"])
        #expect(
            errors("Subject: Hi\n  folded\n\nx") == [
                "templates/welcome.liquid:2:1: a header value cannot continue on the next line"
            ])
    }

    @Test func liquidErrorsPointIntoTheRightFileLineAndColumn() {
        #expect(
            errors(
                "Subject: Hi {{ user.first_name | upcse }}\n\nLine 3\n{% if %}\n{% endif %}",
                html: "<p>\n{{ user.x | nope }}</p>") == [
                    "templates/welcome.html.liquid:2:13: unknown filter \"nope\"",
                    "templates/welcome.liquid:1:34: unknown filter \"upcse\"; did you mean \"upcase\"?",
                    "templates/welcome.liquid:4:7: expected a condition after `if`",
                ])
    }

    @Test func warningsOfEveryPartAreKept() throws {
        let template = try compile("Subject: Hi {{ usr.name }}\n\n{{ usr.x }}", html: "{{ enrollment.nope }}")
        #expect(
            template.warnings.map(\.description) == [
                "templates/welcome.html.liquid:1:4: warning: enrollment.nope is never set (enrollment has id, key, entered_at, trigger, variant)",
                "templates/welcome.liquid:1:16: warning: unknown variable \"usr\" renders as nothing; did you mean \"user\"?",
                "templates/welcome.liquid:3:4: warning: unknown variable \"usr\" renders as nothing; did you mean \"user\"?",
            ])
    }

    @Test func theContextOfATouchHasEverythingTheDocumentsPromise() throws {
        let at = Timestamp(iso8601: "2025-01-06T11:00:00Z")!
        let trigger = Event.track("cart_add", user: "u1", at: at - .hours(1), properties: ["cart_id": "c1"])
        var enrollment = Enrollment(seq: 1, journey: "cart", version: "v1", key: "c1", step: 0, enteredAt: at - .hours(1), trigger: trigger.jsonValue)
        enrollment.variant = "b"
        let touch = Touch(
            id: "tid", user: "u1", journey: "cart", version: "v1", enrollment: "u1#1", step: "remind", channel: "email",
            template: "cart_reminder", at: at)
        let context = TemplateContext(
            touch: touch, traits: ["first_name": "Ada"], event: trigger, enrollment: enrollment, zone: Samples.shanghai,
            unsubscribeURL: "https://x.example/u")
        let t = """
            {{ user.id }} {{ user.first_name }} | {{ event.name }} {{ event.properties.cart_id }} | \
            {{ enrollment.id }} {{ enrollment.key }} {{ enrollment.entered_at | date: "%H:%M" }} {{ enrollment.trigger.name }} {{ enrollment.variant }} | \
            {{ journey.id }} {{ journey.version }} | {{ touch.id }} {{ touch.channel }} {{ touch.step }} | {{ unsubscribe_url }} | {{ "now" | date: "%H:%M" }}
            """
        #expect(
            try LiquidTemplate(t).render(context)
                == "u1 Ada | cart_add c1 | u1#1 c1 18:00 cart_add b | cart v1 | tid email remind | https://x.example/u | 19:00")
    }
}
