import JourneyCore
import JourneyTemplates
import Testing

@Suite("Tags")
struct TagTests {
    @Test func ifElsifElseTakesTheFirstBranchThatHolds() throws {
        let t = "{% if user.tier == \"silver\" %}S{% elsif user.tier == \"gold\" %}G{% else %}-{% endif %}"
        #expect(try render(t) == "G")
        #expect(try render(t, user: ["tier": "bronze"]) == "-")
        #expect(try render(t, user: ["tier": "silver"]) == "S")
    }

    @Test func onlyNilAndFalseAreFalsy() throws {
        for (value, expected) in [("0", "yes"), ("\"\"", "yes"), ("false", "no"), ("nil", "no"), ("user.missing", "no")] {
            #expect(try render("{% if \(value) %}yes{% else %}no{% endif %}") == expected, "\(value)")
        }
        #expect(try render("{% if user.tags %}has tags{% endif %}") == "has tags")
    }

    @Test func unlessIsTheNegatedIf() throws {
        #expect(try render("{% unless user.vip %}not vip{% endunless %}") == "not vip")
        #expect(try render("{% unless user.tier == \"gold\" %}x{% else %}gold{% endunless %}") == "gold")
    }

    @Test func andOrAreGroupedRightToLeftAsInLiquid() throws {
        // Liquid reads `true or false and false` as `true or (false and false)`.
        #expect(try render("{% if true or false and false %}T{% else %}F{% endif %}") == "T")
        // …and `false and false or true` as `false and (false or true)`.
        #expect(try render("{% if false and false or true %}T{% else %}F{% endif %}") == "F")
    }

    @Test func comparisonsFollowLiquid() throws {
        let cases: [(String, Bool)] = [
            ("user.orders > 2", true), ("user.orders >= 3", true), ("user.orders < 3", false), ("user.orders <= 3", true),
            ("user.orders == 3", true), ("user.orders != 3", false), ("user.orders <> 4", true),
            ("user.orders == \"3\"", false),  // no conversion between text and numbers
            ("\"abc\" < \"abd\"", true), ("user.first_name contains \"da\"", true),
            ("user.tags contains \"vip\"", true), ("user.tags contains \"nope\"", false),
            ("event.properties contains \"sku\"", true), ("user.missing contains \"x\"", false),
        ]
        for (condition, expected) in cases {
            #expect(try render("{% if \(condition) %}T{% else %}F{% endif %}") == (expected ? "T" : "F"), "\(condition)")
        }
    }

    @Test func orderingTextAgainstANumberIsARenderErrorAtTheComparison() throws {
        // Liquid raises here; a message is not sent with a guess in it.
        let template = try LiquidTemplate("{% if user.orders > \"2\" %}many{% endif %}", file: "templates/t.liquid")
        #expect(throws: TemplateRenderError.self) { try template.render(Samples.context) }
        do {
            _ = try template.render(Samples.context)
        } catch {
            #expect(error.description == "templates/t.liquid:1:19: cannot compare number 3 with string \"2\" by `>`")
        }
        #expect(try render("{% if user.missing > 2 or blank < 1 %}T{% else %}F{% endif %}") == "F")
    }

    @Test func blankAndEmpty() throws {
        let traits: Value = ["spaces": "  ", "empty": "", "list": [], "name": "Ada"]
        let cases: [(String, Bool)] = [
            ("user.spaces == blank", true), ("user.spaces == empty", false), ("user.empty == empty", true),
            ("user.list == empty", true), ("user.missing == blank", true), ("user.missing == empty", false),
            ("user.name == blank", false), ("user.name != blank", true),
        ]
        for (condition, expected) in cases {
            #expect(
                try render("{% if \(condition) %}T{% else %}F{% endif %}", user: traits) == (expected ? "T" : "F"),
                "\(condition)")
        }
    }

    @Test func caseWhenMatchesListsWithCommaOrOr() throws {
        let t = """
            {% case user.country %}{% when "CN", "SG" %}asia{% when "DE" or "FR" %}europe{% else %}elsewhere{% endcase %}
            """
        #expect(try render(t) == "asia")
        #expect(try render(t, user: ["country": "FR"]) == "europe")
        #expect(try render(t, user: ["country": "US"]) == "elsewhere")
        // Every matching `when` renders, as in Liquid.
        #expect(try render("{% case 1 %}{% when 1 %}a{% when 1 %}b{% endcase %}") == "ab")
    }

    @Test func forIteratesWithForloopVariables() throws {
        let t = """
            {% for item in event.properties.items %}{{ forloop.index }}/{{ forloop.length }} {{ item.name }}\
            {% if forloop.first %} (first){% endif %}{% if forloop.last %} (last){% endif %}\
            {% unless forloop.last %}, {% endunless %}{% endfor %}
            """
        #expect(try render(t) == "1/3 Red shoes (first), 2/3 Wool hat, 3/3 Socks (last)")
        #expect(
            try render("{% for i in (1..3) %}{{ forloop.index0 }}{{ forloop.rindex }}{{ forloop.rindex0 }} {% endfor %}")
                == "032 121 210 ")
    }

    @Test func forTakesLimitOffsetReversedAndRanges() throws {
        #expect(try render("{% for i in (1..6) limit: 2 offset: 3 %}{{ i }}{% endfor %}") == "45")
        #expect(try render("{% for i in (1..4) reversed %}{{ i }}{% endfor %}") == "4321")
        #expect(try render("{% for i in (1..5) reversed limit: 2 %}{{ i }}{% endfor %}") == "21")
        #expect(try render("{% assign n = 3 %}{% for i in (1..n) %}{{ i }}{% endfor %}") == "123")
        #expect(try render("{% for t in user.tags offset: 1 %}{{ t }}{% endfor %}") == "early")
    }

    @Test func forElseRendersWhenThereIsNothingToIterate() throws {
        #expect(try render("{% for x in user.missing %}{{ x }}{% else %}none{% endfor %}") == "none")
        #expect(try render("{% for x in user.tags limit: 0 %}{{ x }}{% else %}none{% endfor %}") == "none")
        #expect(try render("{% for i in (3..1) %}{{ i }}{% else %}empty range{% endfor %}") == "empty range")
    }

    @Test func breakAndContinue() throws {
        #expect(try render("{% for i in (1..10) %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}") == "123")
        #expect(try render("{% for i in (1..5) %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}") == "1345")
    }

    @Test func nestedLoopsSeeTheirParentLoop() throws {
        let t =
            "{% for a in (1..2) %}{% for b in (1..2) %}{{ forloop.parentloop.index }}{{ forloop.index }} {% endfor %}{% endfor %}"
        #expect(try render(t) == "11 12 21 22 ")
    }

    @Test func forOverAnObjectYieldsKeyValuePairs() throws {
        #expect(
            try render("{% for pair in journey %}{{ pair[0] }}={{ pair[1] }};{% endfor %}")
                == "id=cart_abandonment;version=abc123;")
    }

    @Test func loopVariableDoesNotLeakAndAssignInsideALoopIsGlobal() throws {
        let t =
            "{% assign x = \"outer\" %}{% for x in (1..2) %}{{ x }}{% assign last = x %}{% endfor %} {{ x }} {{ last }}"
        #expect(try render(t) == "12 outer 2")
    }

    @Test func assignWithFilters() throws {
        #expect(try render("{% assign name = user.first_name | upcase | append: \"!\" %}{{ name }}") == "ADA!")
        #expect(
            try render(
                "{% assign total = 0 %}{% for i in event.properties.items %}{% assign total = total | plus: i.quantity %}{% endfor %}{{ total }}"
            ) == "6")
    }

    @Test func captureRendersIntoAVariable() throws {
        #expect(
            try render("{% capture greeting %}Hi {{ user.first_name }}{% endcapture %}{{ greeting | upcase }}") == "HI ADA")
    }

    @Test func rawOutputsTemplateSyntaxLiterally() throws {
        #expect(try render("{% raw %}{{ user.first_name }} {% if %}{% endraw %}") == "{{ user.first_name }} {% if %}")
    }

    @Test func commentsRenderNothingAndNest() throws {
        #expect(try render("a{% comment %}x {{ y }} {% comment %}inner{% endcomment %} z{% endcomment %}b") == "ab")
        #expect(try render("a{% # an inline comment %}b") == "ab")
    }

    @Test func echoIsAnOutputInATag() throws {
        #expect(try render("{% echo user.first_name | downcase %}") == "ada")
    }

    @Test func pathsReachIntoListsAndObjects() throws {
        #expect(
            try render("{{ user.tags[0] }} {{ user.tags[-1] }} {{ user.tags.first }} {{ user.tags.last }} {{ user.tags.size }}")
                == "vip early vip early 2")
        #expect(try render("{{ event.properties[\"cart_id\"] }} {{ event[\"properties\"].sku }}") == "c-42 SKU-1")
        #expect(try render("{% assign k = \"sku\" %}{{ event.properties[k] }}") == "SKU-1")
        #expect(try render("{{ event.properties.items[1].name }}") == "Wool hat")
        #expect(try render("{{ user.first_name.size }}") == "3")
    }

    @Test func undefinedVariablesRenderAsNothing() throws {
        #expect(try render("[{{ user.nope }}][{{ user.nope.deeper[3] }}]") == "[][]")
        #expect(try LiquidTemplate("[{{ nobody }}]").render(Samples.context) == "[]")
    }

    @Test func contextRootsAreAllVisible() throws {
        let t =
            "{{ user.id }} {{ event.name }} {{ enrollment.key }} {{ enrollment.trigger.properties.cart_id }} {{ journey.id }} {{ touch.channel }} {{ unsubscribe_url }}"
        #expect(try render(t) == "u1 cart_add c-42 c-42 cart_abandonment email https://example.com/unsubscribe?u=u1&c=email")
    }

    @Test func valuesRenderAsLiquidDoes() throws {
        #expect(try render("{{ 3 }} {{ 2.5 }} {{ true }} {{ nil }}{{ user.tags }} {{ -7 }}") == "3 2.5 true vipearly -7")
        #expect(try render("{{ journey }}") == #"{"id":"cart_abandonment","version":"abc123"}"#)
    }

    @Test func assigningARootNameShadowsItFromThenOn() throws {
        #expect(try render("{{ user.first_name }} {% assign user = \"x\" %}{{ user }}") == "Ada x")
    }
}

@Suite("Strict variables")
struct StrictVariablesTests {
    @Test func outputsThatFindNothingAreReported() throws {
        let template = try LiquidTemplate(
            "Hi {{ user.first_nme }} {{ user.nickname | default: \"x\" }} {{ user.tags[5] }} {{ user.first_name }}"
                + "{% for item in event.properties.items %}{{ item.colour }}{% endfor %}{% if user.nope %}{% endif %}")
        let (output, undefined) = try template.renderReportingUndefined(Samples.context)
        #expect(output == "Hi  x  Ada")
        // `default` expects nothing, and conditions test for it: neither is reported.
        #expect(undefined == ["user.first_nme", "user.tags[5]", "item.colour"])
    }

    @Test func aMessageReportsEveryPart() throws {
        let template = try MessageTemplate(
            name: "t", text: TemplateSource(file: "t.liquid", text: "Subject: {{ user.a }}\n\n{{ user.b }}{{ user.a }}"),
            html: TemplateSource(file: "t.html.liquid", text: "<p>{{ user.c }}</p>"))
        let (message, undefined) = try template.renderReportingUndefined(Samples.context)
        #expect(message.html == "<p></p>")
        #expect(undefined == ["user.a", "user.b", "user.c"])
        #expect(try template.render(Samples.context) == message)
    }
}
