import JourneyCore
import JourneyTemplates
import Testing

/// Data cannot change what a message says around it: it cannot become template syntax, markup, a
/// script, another header, or a different link.
@Suite("Escaping and injection")
struct EscapingTests {
    func context(_ traits: Value) -> TemplateContext {
        var context = Samples.context
        context.user = traits
        return context
    }

    func message(_ text: String, html: String? = nil) throws -> MessageTemplate {
        try MessageTemplate(
            name: "t", text: TemplateSource(file: "templates/t.liquid", text: text),
            html: html.map { TemplateSource(file: "templates/t.html.liquid", text: $0) })
    }

    // MARK: - The injection cases

    @Test func templateSyntaxInDataIsOutputLiterally() throws {
        let evil = "{{ user.email }}{% if true %}x{% endif %}{%- raw -%}"
        let ctx = context(["first_name": .string(evil), "email": "secret@example.com"])
        #expect(try LiquidTemplate("Hi {{ user.first_name }}").render(ctx) == "Hi \(evil)")
        #expect(try LiquidTemplate("<p>{{ user.first_name }}</p>", mode: .html).render(ctx) == "<p>\(evil)</p>")
        #expect(try LiquidTemplate("{{ user.first_name }}", mode: .header).render(ctx) == evil)
        // Also through filters and captures, which never re-parse their results.
        #expect(try LiquidTemplate("{% capture c %}{{ user.first_name }}{% endcapture %}{{ c | append: '' }}").render(ctx) == evil)
    }

    @Test func crlfAndBccInASubjectYieldOneHeaderLine() throws {
        let attack = "Ada\r\nBcc: victim@example.com\r\n\r\n<html>spoofed body"
        let rendered = try message("Subject: Hi {{ user.first_name }}\nFrom: Shop <shop@example.com>\n\nbody")
            .render(context(["first_name": .string(attack)]))
        let subject = try #require(rendered.subject)
        #expect(subject == "Hi Ada Bcc: victim@example.com <html>spoofed body")
        #expect(!subject.contains("\r") && !subject.contains("\n"))
        // Written as a mail header, it is one line: nothing starts a `Bcc:` header.
        let headerBlock = "Subject: \(subject)\r\nFrom: \(rendered.from ?? "")\r\n"
        #expect(headerBlock.split(separator: "\r\n").count == 2)
        #expect(!headerBlock.split(separator: "\r\n").contains { $0.hasPrefix("Bcc:") })
    }

    @Test func everyLineBreakAndControlCharacterLeavesHeaders() throws {
        let breakers = ["\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}", "\t", "\u{0}", "\u{1B}", "\u{7F}"]
        for breaker in breakers {
            let value = "a\(breaker)Bcc: x@example.com"
            let subject = try LiquidTemplate("{{ user.x }}", mode: .header).render(context(["x": .string(value)]))
            // NUL is dropped as in every part; every other breaker becomes a space.
            #expect(subject == (breaker == "\u{0}" ? "aBcc: x@example.com" : "a Bcc: x@example.com"), "\(Array(breaker.unicodeScalars))")
        }
    }

    @Test func scriptInDataIsEscapedInHTML() throws {
        let ctx = context(["first_name": "<script>alert('x')</script>"])
        let html = try LiquidTemplate("<p>Hi {{ user.first_name }}</p>", mode: .html).render(ctx)
        #expect(html == "<p>Hi &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>")
        // A text part is plain text: no escaping there, and none needed.
        #expect(try LiquidTemplate("Hi {{ user.first_name }}").render(ctx) == "Hi <script>alert('x')</script>")
    }

    @Test func nulIsRemovedEverywhere() throws {
        let ctx = context(["x": "a\u{0}b"])
        for mode in [TemplateMode.text, .html, .header] {
            #expect(try LiquidTemplate("{{ user.x }}", mode: mode).render(ctx) == "ab", "\(mode)")
        }
        #expect(try LiquidTemplate("<a title=\"{{ user.x }}\" href=\"/p?q={{ user.x }}\">", mode: .html).render(ctx) == "<a title=\"ab\" href=\"/p?q=a%00b\">")
    }

    @Test func aHundredKiBValueRendersWhole() throws {
        let unit = "Grüße 🎉 <&> {{ x }} "
        let big = String(repeating: unit, count: 100 * 1024 / unit.utf8.count + 1)
        #expect(big.utf8.count >= 100 * 1024)
        let ctx = context(["bio": .string(big)])
        #expect(try LiquidTemplate("[{{ user.bio }}]").render(ctx) == "[\(big)]")
        let html = try LiquidTemplate("<p>{{ user.bio }}</p>", mode: .html).render(ctx)
        #expect(html.utf8.count > big.utf8.count && !html.dropFirst(3).dropLast(4).contains("<"))
        // Headers are cut at 998 bytes, on a character boundary.
        let subject = try LiquidTemplate("{{ user.bio }}", mode: .header).render(ctx)
        #expect(subject.utf8.count <= 998 && subject.utf8.count > 990)
        #expect(big.hasPrefix(subject.trimmingSuffixSpaces))
    }

    // MARK: - HTML contexts

    @Test func attributeValuesAreEscapedSoTheyCannotBeLeft() throws {
        let ctx = context(["x": "\" onmouseover=\"alert(1)", "w": "1 onload=alert(1)"])
        #expect(
            try LiquidTemplate("<b title=\"{{ user.x }}\">", mode: .html).render(ctx)
                == "<b title=\"&quot; onmouseover=&quot;alert(1)\">")
        #expect(try LiquidTemplate("<b title='{{ user.x }}'>", mode: .html).render(ctx) == "<b title='&quot; onmouseover=&quot;alert(1)'>")
        #expect(
            try LiquidTemplate("<td width={{ user.w }}>", mode: .html).render(ctx) == "<td width=1&#32;onload&#61;alert(1)>")
    }

    @Test func aURLFromDataMustHaveASafeScheme() throws {
        let cases: [(String, String)] = [
            ("javascript:alert(1)", "about:invalid"), ("JaVaScRiPt:alert(1)", "about:invalid"),
            ("java\nscript:alert(1)", "about:invalid"), ("  javascript:alert(1)", "about:invalid"),
            ("data:text/html;base64,PHNjcmlwdD4=", "about:invalid"), ("vbscript:x", "about:invalid"),
            ("https://example.com/a b?q=\"x\"&r=<y>", "https://example.com/a%20b?q=%22x%22&amp;r=%3Cy%3E"),
            ("mailto:ada@example.com", "mailto:ada@example.com"), ("/relative/path?x=1", "/relative/path?x=1"),
            ("https://例え.jp/ü", "https://%E4%BE%8B%E3%81%88.jp/%C3%BC"),
        ]
        for (url, expected) in cases {
            let html = try LiquidTemplate("<a href=\"{{ user.url }}\">x</a>", mode: .html).render(context(["url": .string(url)]))
            #expect(html == "<a href=\"\(expected)\">x</a>", "\(url)")
        }
        #expect(
            try LiquidTemplate("<img src={{ user.url }}>", mode: .html).render(context(["url": "javascript:x"]))
                == "<img src=about:invalid>")
    }

    @Test func dataLaterInAURLIsPercentEncoded() throws {
        let ctx = context(["email": "a+b@x.com&admin=1#frag", "id": "../../etc passwd"])
        let html = try LiquidTemplate(
            "<a href=\"https://shop.example/u/{{ user.id }}?e={{ user.email }}\">go</a>", mode: .html
        ).render(ctx)
        #expect(html == "<a href=\"https://shop.example/u/..%2F..%2Fetc%20passwd?e=a%2Bb%40x.com%26admin%3D1%23frag\">go</a>")
        // Already encoded with url_encode: not encoded twice.
        #expect(
            try LiquidTemplate("<a href=\"/s?q={{ user.email | url_encode }}\">", mode: .html).render(ctx)
                == "<a href=\"/s?q=a%2Bb%40x.com%26admin%3D1%23frag\">")
    }

    @Test func theUnsubscribeLinkStaysALink() throws {
        let html = try LiquidTemplate("<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>", mode: .html).render(Samples.context)
        #expect(html == "<a href=\"https://example.com/unsubscribe?u=u1&amp;c=email\">Unsubscribe</a>")
    }

    @Test func outputsWhereNoEscapingIsSafeAreRefused() throws {
        #expect(
            diagnostics("<a {{ user.attrs }}>", mode: .html) == [
                "1:4: a value cannot be output inside an HTML tag, only in text or in an attribute value (`title=\"{{ … }}\"`)"
            ])
        #expect(diagnostics("<{{ user.tag }}>", mode: .html).count == 1)
        #expect(
            diagnostics("<script>var n = \"{{ user.first_name }}\";</script>", mode: .html) == [
                "1:18: a value cannot be output inside <script>: no escaping makes data safe there"
            ])
        #expect(
            diagnostics("<a onclick=\"track('{{ user.id }}')\">", mode: .html) == [
                "1:20: a value cannot be output inside the event-handler attribute onclick=\"…\": no escaping makes data safe there"
            ])
        // After the script ends, text is text again; style and comments are escaped like text.
        #expect(
            try LiquidTemplate("<script>x()</script><style>p{}</style><!-- {{ user.x }} --><p>{{ user.x }}</p>", mode: .html)
                .render(context(["x": "<b>"])) == "<script>x()</script><style>p{}</style><!-- &lt;b&gt; --><p>&lt;b&gt;</p>")
    }

    @Test func capturedMarkupIsKeptAndItsValuesEscapedOnce() throws {
        let t = """
            {% capture button %}<a href="{{ unsubscribe_url }}">{{ user.x }}</a>{% endcapture %}<p>{{ button }}</p>
            """
        #expect(
            try LiquidTemplate(t, mode: .html).render(context(["x": "<i>"]))
                == "<p><a href=\"https://example.com/unsubscribe?u=u1&amp;c=email\">&lt;i&gt;</a></p>")
        // An assigned value is data, whatever it holds.
        #expect(
            try LiquidTemplate("{% assign b = user.x %}{{ b }}", mode: .html).render(context(["x": "<i>"])) == "&lt;i&gt;")
    }

    @Test func escapingFiltersAreNotAppliedTwice() throws {
        let ctx = context(["x": "a<b & c\nd"])
        #expect(try LiquidTemplate("{{ user.x | escape }}", mode: .html).render(ctx) == "a&lt;b &amp; c\nd")
        #expect(try LiquidTemplate("{{ user.x | newline_to_br }}", mode: .html).render(ctx) == "a&lt;b &amp; c<br />\nd")
        #expect(try LiquidTemplate("{{ user.x | upcase }}", mode: .html).render(ctx) == "A&lt;B &amp; C\nD")
    }

    @Test func literalTextIsNeverEscaped() throws {
        #expect(try LiquidTemplate("<p class=\"a\">Tom &amp; Jerry</p>", mode: .html).render(Samples.context) == "<p class=\"a\">Tom &amp; Jerry</p>")
    }
}

extension String {
    var trimmingSuffixSpaces: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
