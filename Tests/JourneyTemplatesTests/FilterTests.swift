import JourneyCore
import JourneyTemplates
import Testing

@Suite("Filters")
struct FilterTests {
    /// (template, expected output) with the sample context.
    static let cases: [(String, String)] = [
        // default
        ("{{ user.nickname | default: \"there\" }}", "there"),
        ("{{ user.first_name | default: \"there\" }}", "Ada"),
        ("{{ \"\" | default: \"empty\" }}", "empty"),
        ("{{ user.vip | default: \"no\" }}", "no"),
        ("{{ user.vip | default: \"no\", allow_false: true }}", "false"),
        ("{{ 0 | default: 5 }}", "0"),
        ("{{ user.missing_list | default: user.tags | join: \"+\" }}", "vip+early"),
        // case
        ("{{ \"hello World\" | upcase }}", "HELLO WORLD"),
        ("{{ \"Hello World\" | downcase }}", "hello world"),
        ("{{ \"hELLO wORLD\" | capitalize }}", "Hello world"),
        ("{{ \"élan\" | capitalize }}", "Élan"),
        // truncation
        ("{{ \"Ground control to Major Tom.\" | truncate: 20 }}", "Ground control to..."),
        ("{{ \"Ground control to Major Tom.\" | truncate: 25, \", and so on\" }}", "Ground control, and so on"),
        ("{{ \"Ground control to Major Tom.\" | truncate: 20, \"\" }}", "Ground control to Ma"),
        ("{{ \"short\" | truncate: 20 }}", "short"),
        ("{{ \"Ground control to Major Tom.\" | truncatewords: 3 }}", "Ground control to..."),
        ("{{ \"Ground control to Major Tom.\" | truncatewords: 3, \"--\" }}", "Ground control to--"),
        ("{{ \"two words\" | truncatewords: 3 }}", "two words"),
        // whitespace and markup
        ("[{{ \"  a b  \" | strip }}][{{ \"  a \" | lstrip }}][{{ \" a  \" | rstrip }}]", "[a b][a ][ a]"),
        ("{{ \"<p>Hi <b>there</b></p><script>x()</script><!-- c -->!\" | strip_html }}", "Hi there!"),
        ("{{ \"a < b\" | strip_html }}", "a < b"),
        ("{{ \"a\nb\r\nc\" | strip_newlines }}", "abc"),
        ("{{ \"a\nb\" | newline_to_br }}", "a<br />\nb"),
        // replace and friends
        ("{{ \"a-b-c\" | replace: \"-\", \"+\" }}", "a+b+c"),
        ("{{ \"a-b-c\" | replace_first: \"-\", \"+\" }}", "a+b-c"),
        ("{{ \"a-b-c\" | replace_last: \"-\", \"+\" }}", "a-b+c"),
        ("{{ \"a-b-c\" | remove: \"-\" }}", "abc"),
        ("{{ \"a-b-c\" | remove_first: \"-\" }}", "ab-c"),
        ("{{ \"abc\" | replace: \"\", \"x\" }}", "xaxbxcx"),  // Ruby finds "" before every character and at the end
        ("{{ \"name\" | append: \".jpg\" | prepend: \"/img/\" }}", "/img/name.jpg"),
        ("{{ 3 | append: \" items\" }}", "3 items"),
        // lists
        ("{{ \"a, b, c\" | split: \", \" | join: \"|\" }}", "a|b|c"),
        ("{{ \"  a  b c \" | split: \" \" | size }}", "3"),
        ("{{ \"abc\" | split: \"\" | join: \".\" }}", "a.b.c"),
        ("{{ \"a,b,,\" | split: \",\" | size }}", "2"),
        ("{{ user.tags | join }}", "vip early"),
        ("{{ user.tags | first }} {{ user.tags | last }} {{ user.first_name | first }}", "vip early A"),
        ("{{ user.tags | size }} {{ user.first_name | size }} {{ user.missing | size }} {{ 12 | size }}", "2 3 0 0"),
        ("{{ \"c,a,B,b\" | split: \",\" | sort | join }}", "B a b c"),
        ("{{ \"c,a,B,b\" | split: \",\" | sort_natural | join }}", "a B b c"),
        ("{{ event.properties.items | sort: \"price\" | map: \"name\" | join: \", \" }}", "Socks, Wool hat, Red shoes"),
        ("{{ \"a,b,a,c,b\" | split: \",\" | uniq | join }}", "a b c"),
        ("{{ user.tags | reverse | join }}", "early vip"),
        ("{{ event.properties.items | map: \"quantity\" | join: \"+\" }}", "1+2+3"),
        ("{{ event.properties.items | map: \"color\" | compact | size }}", "0"),
        ("{{ event.properties.items | where: \"quantity\", 2 | map: \"name\" | first }}", "Wool hat"),
        ("{{ user.tags | concat: event.properties.items | size }}", "5"),
        ("{{ \"Liquid\" | slice: 0 }}{{ \"Liquid\" | slice: 2, 3 }}{{ \"Liquid\" | slice: -3, 2 }}", "Lquiui"),
        ("{{ user.tags | slice: 1, 5 | join }}", "early"),
        ("[{{ \"abc\" | slice: 9 }}]", "[]"),
        // numbers
        ("{{ 4 | plus: 2 }} {{ 4 | minus: 6 }} {{ 3 | times: 2.5 }} {{ \"5\" | plus: 1 }}", "6 -2 7.5 6"),
        ("{{ 20 | divided_by: 7 }} {{ 20 | divided_by: 7.0 | round: 2 }} {{ -7 | divided_by: 2 }}", "2 2.86 -4"),
        ("{{ 7 | modulo: 3 }} {{ -7 | modulo: 3 }} {{ 7.5 | modulo: 2 }}", "1 2 1.5"),
        ("{{ 1.2 | round }} {{ 2.5 | round }} {{ 183.357 | round: 2 }} {{ -2.5 | round }}", "1 3 183.36 -3"),
        ("{{ 1.2 | ceil }} {{ 1.8 | floor }} {{ -3 | abs }} {{ \"-3.5\" | abs }}", "2 1 3 3.5"),
        ("{{ 4 | at_least: 5 }} {{ 4 | at_most: 3 }}", "5 3"),
        ("{{ event.properties.price | times: 0.9 }}", "72"),
        ("{{ 10.1 | minus: 2.2 }} {{ 0.1 | plus: 0.2 }} {{ 5.666 | round: -1 }}", "7.9 0.3 10"),
        // escaping and encoding (explicit, in a text part)
        ("{{ \"<b>Tom & 'Jerry'</b>\" | escape }}", "&lt;b&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"),
        ("{{ \"1 &lt; 2 & 3\" | escape_once }}", "1 &lt; 2 &amp; 3"),
        ("{{ \"john@liquid.com & a b/c?\" | url_encode }}", "john%40liquid.com+%26+a+b%2Fc%3F"),
        ("{{ \"%27Stop%21%27+said+Fred\" | url_decode }}", "'Stop!' said Fred"),
        ("{{ user.tags | json }} {{ 'a\"b' | json }}", #"["vip","early"] "a\"b""#),
    ]

    @Test(arguments: Self.cases)
    func filterGivesLiquidsResult(_ template: String, _ expected: String) throws {
        #expect(try render(template) == expected)
    }

    @Test func filtersChainLeftToRight() throws {
        #expect(try render("{{ \"  ada lovelace \" | strip | capitalize | append: \"!\" | truncate: 8 }}") == "Ada l...")
    }

    @Test func aFilterGivenWhatLiquidRefusesStopsTheRenderAtItsPlace() throws {
        let cases: [(String, String)] = [
            ("Total: {{ 7 | divided_by: 0 }}", "1:15: `divided_by`: division by zero"),
            ("{{ 7 | modulo: user.missing }}", "1:8: `modulo`: expected a number, found null null"),
            ("\n  {{ \"Liquid\" | slice: 1.5 }}", "2:17: `slice`: expected a whole number, found number 1.5"),
            ("{{ user.tags | concat: 3 }}", "1:16: `concat`: expected a list to add, found number 3"),
            ("{{ user.tags | concat: event.properties.items | sort }}", "1:49: `sort`: cannot sort object and string together"),
        ]
        for (source, expected) in cases {
            let template = try LiquidTemplate(source, file: "templates/t.liquid")
            do {
                _ = try template.render(Samples.context)
                Issue.record("\(source) rendered")
            } catch {
                #expect(error.description == "templates/t.liquid:" + expected, "\(source)")
            }
        }
    }

    @Test func aValueCannotGrowPastTheOutputLimit() throws {
        let doubling = "{% assign x = \"aaaaaaaaaa\" %}{% for i in (1..40) %}{% assign x = x | append: x %}{% endfor %}{{ x | size }}"
        let template = try LiquidTemplate(doubling)
        #expect(throws: TemplateRenderError.self) { try template.render(Samples.context) }
    }
}
