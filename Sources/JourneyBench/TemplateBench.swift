import JourneyCore
import JourneyTemplates

/// The templates stage: renders per second of compiled Liquid templates, the shape of real messages.
extension Stages {
    /// A cart reminder: a greeting with `default`, an `if`, a `for` over 5 items, a `date`.
    static let cartReminderText = """
        Hi {{ user.first_name | default: "there" }},
        {% if user.tier == "gold" %}As a Gold member, shipping is on us.{% else %}Shipping is free over $50.{% endif %}
        Your cart:
        {% for item in event.properties.items %}- {{ item.name }} x{{ item.quantity }}
        {% endfor %}Saved on {{ event.timestamp | date: "%B %-d at %H:%M" }}.
        """

    static let cartReminderHTML = """
        <p>Hi {{ user.first_name | default: "there" }},</p>
        {% if user.tier == "gold" %}<p>As a Gold member, shipping is on us.</p>{% endif %}
        <ul>{% for item in event.properties.items %}<li>{{ item.name }} &times; {{ item.quantity }}</li>{% endfor %}</ul>
        <p>Saved on {{ event.timestamp | date: "%B %-d at %H:%M" }}.
        <a href="https://shop.example/cart?id={{ event.properties.cart_id }}">Back to your cart</a></p>
        <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
        """

    static func cartReminderContext() -> TemplateContext {
        let items: [Value] = (1...5).map { k in
            ["name": .string("Item <\(k)> & co"), "quantity": .number(Double(k)), "price": .number(Double(k) * 9.5)]
        }
        return TemplateContext(
            user: ["first_name": "Ada", "tier": "gold", "email": "ada@example.com"], userID: "u1",
            event: [
                "type": "track", "event": "cart_add", "timestamp": "2025-01-06T09:30:00.000Z",
                "properties": ["cart_id": "c-42", "items": .array(items)],
            ],
            journey: ["id": "cart_abandonment", "version": "v1"], touch: ["id": "t1", "channel": "email", "step": "remind"],
            unsubscribeURL: "https://shop.example/u?t=abc&c=email", zone: Zone.named("Asia/Shanghai")!,
            now: Timestamp(iso8601: "2025-01-06T10:30:00Z")!)
    }

    func templates(into report: inout Report) throws {
        report.line("## templates: compiled Liquid, one core")
        report.line("")
        let context = Self.cartReminderContext()
        let text = try LiquidTemplate(Self.cartReminderText)
        let html = try LiquidTemplate(Self.cartReminderHTML, mode: .html)
        let message = try MessageTemplate(
            name: "cart_reminder",
            text: TemplateSource(file: "cart_reminder.liquid", text: "Subject: {{ user.first_name }}, your cart is waiting\n\n" + Self.cartReminderText),
            html: TemplateSource(file: "cart_reminder.html.liquid", text: Self.cartReminderHTML))
        let renders = max(events / 4, 10_000)

        func stage(_ label: String, count: Int, _ body: () throws -> Int) throws {
            var bytes = 0
            let m = try measure { for _ in 0..<count { bytes &+= try body() } }
            report.line("- \(label): **\(rate(Double(count) / m.cpu)) renders/s per core** (\(count) renders, \(fmt(m.cpu)) s CPU, \(bytes / count) bytes each)")
        }
        try stage("text part (greeting + default, if, for over 5 items, date)", count: renders) {
            try text.render(context).utf8.count
        }
        try stage("HTML part (the same, escaped by context, two links)", count: renders) {
            try html.render(context).utf8.count
        }
        try stage("whole message (subject + text + HTML)", count: renders / 2) {
            let m = try message.render(context)
            return (m.subject?.utf8.count ?? 0) + (m.text?.utf8.count ?? 0) + (m.html?.utf8.count ?? 0)
        }
        var buffer: [UInt8] = []
        try stage("text part into a reused buffer", count: renders) {
            buffer.removeAll(keepingCapacity: true)
            try text.render(context, into: &buffer)
            return buffer.count
        }
        let touch = Touch(
            id: "t1", user: "u1", journey: "cart_abandonment", version: "v1", enrollment: "u1#1", step: "remind",
            channel: "email", template: "cart_reminder", at: context.now)
        let traits = context.user
        let event = Event.track(
            "cart_add", user: "u1", at: context.now, properties: context.event["properties"] ?? .emptyObject)
        try stage("context built from a touch, then the whole message", count: renders / 2) {
            let built = TemplateContext(
                touch: touch, traits: traits, event: event, zone: context.zone, unsubscribeURL: "https://shop.example/u?t=abc")
            let m = try message.render(built)
            return (m.subject?.utf8.count ?? 0) + (m.text?.utf8.count ?? 0) + (m.html?.utf8.count ?? 0)
        }
        let big = String(repeating: "Grüße <b> & {{ x }} ", count: 100 * 1024 / 22 + 1)
        var bigContext = context
        bigContext.user = ["first_name": .string(big)]
        try stage("a 100 KiB trait through the text part", count: max(renders / 100, 200)) {
            try text.render(bigContext).utf8.count
        }
        try stage("a 100 KiB trait through the HTML part", count: max(renders / 100, 200)) {
            try html.render(bigContext).utf8.count
        }
        let compiles = max(renders / 20, 1_000)
        let compile = try measure {
            for _ in 0..<compiles { _ = try LiquidTemplate(Self.cartReminderHTML, mode: .html) }
        }
        report.line("- compiling the HTML part: \(rate(Double(compiles) / compile.cpu)) compiles/s per core")
        report.line("")
        try templateReference(into: &report)
    }
}
