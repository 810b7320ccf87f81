import JourneyTemplates
import Testing

@Suite("Compile errors")
struct CompileErrorTests {
    @Test func unknownFilterIsReportedAtItsNameWithASuggestion() {
        #expect(diagnostics("Hi {{ user.first_name | upcse }}") == ["1:25: unknown filter \"upcse\"; did you mean \"upcase\"?"])
        #expect(diagnostics("{{ x | upper }}").first?.hasSuffix("unknown filter \"upper\": use \"upcase\"") == true)
    }

    @Test func positionsCountLinesAndUnicodeColumns() {
        let source = "Line one\n🎉 Héllo {{ user.first_name | nope }}\n"
        #expect(diagnostics(source) == ["2:30: unknown filter \"nope\""])
    }

    @Test func diagnosticsCarryTheFileAndItsOrigin() throws {
        do {
            _ = try LiquidTemplate("{{ user |\n | b }}", file: "templates/x.liquid", line: 3, column: 10)
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.description) == ["templates/x.liquid:4:2: expected a filter name after `|`, found `|`"])
            #expect(error.diagnostics.first?.line == 4)
            #expect(error.diagnostics.first?.file == "templates/x.liquid")
        }
        #expect(diagnostics("ab {{ x | zz }}").first?.hasPrefix("1:11:") == true)
    }

    @Test func unknownTagsAreErrorsWithSuggestions() {
        #expect(diagnostics("{% iff x %}{% endif %}") == [
            "1:4: unknown tag \"iff\"; did you mean \"if\"?", "1:12: unexpected `{% endif %}`: no `{% if %}` is open here",
        ])
        #expect(diagnostics("{% layout 'email' %}") == [
            "1:4: the `layout` tag is not supported: a message template is the whole message; share parts with `render`"
        ])
        #expect(diagnostics("{% include 'header' %}") == ["1:12: `include` needs partials, and none are available here"])
    }

    @Test func unclosedBlocksPointAtTheirOpeningTag() {
        #expect(diagnostics("a\n{% if x %}b") == ["2:1: `{% if %}` is not closed: expected `{% endif %}`"])
        #expect(
            diagnostics("{% for i in (1..2) %}{% if i %}{% endfor %}") == [
                "1:22: `{% if %}` is not closed: expected `{% endif %}` before `{% endfor %}`"
            ])
        #expect(diagnostics("{% raw %}x") == ["1:1: `{% raw %}` is not closed: expected `{% endraw %}`"])
        #expect(diagnostics("{% comment %}x") == ["1:1: `{% comment %}` is not closed: expected `{% endcomment %}`"])
        #expect(diagnostics("Hi {{ user.first_name") == ["1:4: `{{` is not closed: expected `}}`"])
    }

    @Test func strayBlockTagsAreErrors() {
        #expect(diagnostics("{% else %}") == ["1:1: unexpected `{% else %}` outside an if, unless, case or for block"])
        #expect(diagnostics("{% endfor %}") == ["1:1: unexpected `{% endfor %}`: no `{% for %}` is open here"])
        #expect(diagnostics("{% break %}") == ["1:1: `{% break %}` is only allowed inside a for loop"])
    }

    @Test func badMarkupIsReportedWhereItStarts() {
        #expect(diagnostics("{{ user.first_name extra }}") == ["1:20: unexpected `extra`: expected `|` or `}}`"])
        #expect(diagnostics("{% if %}x{% endif %}") == ["1:7: expected a condition after `if`"])
        #expect(diagnostics("{% assign = 3 %}") == ["1:11: expected a variable name after `assign`, found `=`"])
        #expect(diagnostics("{% for x of list %}{% endfor %}") == ["1:10: expected `in` after `for x`, found `of`"])
        #expect(diagnostics("{{ 'unterminated }}") == ["1:4: unterminated string: expected a closing '"])
        #expect(diagnostics("{{ a | truncate: 1, 2, 3 }}") == ["1:8: `truncate` takes 0 to 2 arguments, found 3"])
        #expect(diagnostics("{{ a | replace }}") == ["1:8: `replace` takes 1 to 2 arguments, found 0"])
        #expect(diagnostics("{{ a | default: 1, allow_flase: true }}") == [
            "1:20: `default` has no option `allow_flase`; did you mean \"allow_false\"?"
        ])
        #expect(diagnostics("{{ user. }}") == ["1:10: expected a name after `.`, found `end of tag`"])
        #expect(diagnostics("{{ a @ b }}") == ["1:6: unexpected character `@`"])
    }

    @Test func everyErrorInATemplateIsReported() {
        let found = diagnostics("{{ a | nope }}\n{% frobnicate %}\n{% if %}{% endif %}\n{{ b | upcase }}")
        #expect(found == [
            "1:8: unknown filter \"nope\"", "2:4: unknown tag \"frobnicate\"", "3:7: expected a condition after `if`",
        ])
    }

    @Test func unknownVariablesAreWarningsThatRenderAsNothing() throws {
        let template = try LiquidTemplate("Hi {{ usr.first_name }}{{ enrollment.keys }}{% for i in (1..2) %}{{ forloop.idx }}{% endfor %}")
        #expect(template.warnings.map(\.description) == [
            "1:7: warning: unknown variable \"usr\" renders as nothing; did you mean \"user\"?",
            "1:27: warning: enrollment.keys is never set (enrollment has id, key, entered_at, trigger, variant); did you mean \"key\"?",
            "1:69: warning: forloop has no \"idx\"; did you mean \"index\"?",
        ])
        #expect(try template.render(Samples.context) == "Hi ")
        #expect(try LiquidTemplate("{% assign later = 1 %}{{ later }}{% capture c %}{% endcapture %}{{ c }}").warnings.isEmpty)
    }

    @Test func deepNestingIsRefusedNotOverflowed() {
        let deep = String(repeating: "{% if true %}", count: 200) + "x" + String(repeating: "{% endif %}", count: 200)
        #expect(diagnostics(deep).first == "1:833: blocks are nested more than 64 deep")
        let brackets = "{{ a" + String(repeating: "[b", count: 100) + String(repeating: "]", count: 100) + " }}"
        #expect(diagnostics(brackets).first?.contains("nested too deeply") == true)
    }
}
