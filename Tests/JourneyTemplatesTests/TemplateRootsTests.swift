import JourneyCore
import JourneyTemplates
import Testing

/// A compiled template knows which context roots it can read — through partials, `assign`, loops and
/// the names of dynamic `include`s too — so a renderer builds only those: rendering with just them gives
/// exactly what rendering with every root gives.
@Suite("Template roots")
struct TemplateRootsTests {
    static let partials = TemplatePartials([
        "when": "{{ enrollment.entered_at | date: '%Y-%m-%d' }}",
        "who": "{{ touch.channel }}",
        "plain": "hello",
    ])

    static let touch = Touch(
        id: "0123456789abcdef", user: "ada", journey: "cart", version: "v7", enrollment: "ada#3", step: "remind", channel: "email",
        template: "cart_reminder", at: Timestamp(iso8601: "2025-01-06T10:00:00Z")!,
        origin: .init(
            key: "c-1", enteredAt: Timestamp(iso8601: "2025-01-05T09:00:00Z")!,
            trigger: ["event": "cart_add", "properties": ["price": 60]], variant: "B"))
    static let event = Event(
        kind: .track, userId: "ada", messageId: "m-1", timestamp: Timestamp(iso8601: "2025-01-06T10:00:00Z")!, name: "purchase",
        properties: ["total": 42, "sku": "S-1"])
    static let traits: Value = ["first_name": "Ada", "plan": "pro"]

    static func compile(_ source: String, scope: TemplateScope = .journey) throws -> LiquidTemplate {
        try LiquidTemplate(source, file: "templates/t.liquid", scope: scope, partials: partials)
    }

    func context(reading roots: TemplateContext.Roots) -> TemplateContext {
        TemplateContext(touch: Self.touch, traits: Self.traits, event: Self.event, zone: .utc, reading: roots)
    }

    @Test(arguments: [
        ("{{ user.first_name }}", TemplateContext.Roots(.user)),
        ("{{ event.properties.total }} {{ event.name }}", .init(.event)),
        ("{% assign p = event.properties %}{{ p.sku }}", .init(.event)),
        ("{% for k in enrollment.trigger.properties %}{{ k[0] }}{% endfor %}", .init(.enrollment)),
        ("{% render 'when' %}", .init(.enrollment)),
        ("{% include 'who' %} {{ journey.version }}", TemplateContext.Roots(.touch).union(.init(.journey))),
        // A name in a variable may mean any partial: what each of them reads.
        ("{% assign n = 'who' %}{% include n %}", TemplateContext.Roots(.touch).union(.init(.enrollment))),
        ("{{ unsubscribe_url | default: 'none' }}", .init(.unsubscribeURL)),
        ("{% render 'plain' %} and nothing", TemplateContext.Roots()),
    ] as [(String, TemplateContext.Roots)])
    func aTemplateReadsTheRootsItNames(source: String, roots: TemplateContext.Roots) throws {
        let template = try Self.compile(source)
        #expect(template.roots == roots, "\(source)")
        #expect(try template.render(context(reading: template.roots)) == template.render(context(reading: .all)), "\(source)")
    }

    @Test func anOpenScopeTemplateMayReadAnyRoot() throws {
        #expect(try Self.compile("{{ anything }}", scope: .open).roots == .all)
    }

    @Test func aMessageReadsWhatAnyOfItsPartsRead() throws {
        let message = try MessageTemplate(
            name: "t", text: TemplateSource(file: "t.liquid", text: "subject: {{ journey.id }}\n\n{{ user.first_name }}"),
            html: TemplateSource(file: "t.html", text: "<p>{{ event.name }}</p>"), partials: Self.partials)
        #expect(message.roots == TemplateContext.Roots(.journey).union(.init(.user)).union(.init(.event)))
    }

    @Test func rootsNotReadAreNotBuilt() {
        let context = context(reading: .init(.user))
        #expect(context.user["first_name"] == "Ada" && context.user["id"] == "ada")
        #expect(context.event == .null && context.enrollment == .null && context.touch == .null && context.journey == .null)
    }
}
