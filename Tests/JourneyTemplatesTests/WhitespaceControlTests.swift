import JourneyTemplates
import Testing

@Suite("Whitespace control")
struct WhitespaceControlTests {
    @Test func dashesTrimWhitespaceAndNewlinesOnTheirSide() throws {
        #expect(try render("a  {{- \"b\" -}}  c") == "abc")
        #expect(try render("a  {{- \"b\" }}  c") == "ab  c")
        #expect(try render("a  {{ \"b\" -}}  c") == "a  bc")
        #expect(try render("x\n  {%- if true -%}\n  y\n  {%- endif -%}\n z") == "xyz")
    }

    @Test func withoutDashesTagsKeepTheirLines() throws {
        let t = """
            {% for t in user.tags %}
              - {{ t }}
            {% endfor %}
            """
        #expect(try render(t) == "\n  - vip\n\n  - early\n")
        let trimmed = """
            {%- for t in user.tags %}
              - {{ t }}
            {%- endfor %}
            """
        #expect(try render(trimmed) == "\n  - vip\n  - early")
    }

    @Test func rawAndCommentHonourDashes() throws {
        #expect(try render("a {%- raw -%} {{ x }} {%- endraw -%} b") == "a{{ x }}b")
        #expect(try render("a {%- comment -%} gone {%- endcomment -%} b") == "ab")
    }
}
