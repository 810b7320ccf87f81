import JourneyCore
import JourneyTemplates
import Testing

/// A context like the daemon builds for a cart reminder.
enum Samples {
    static let shanghai = Zone.named("Asia/Shanghai")!
    static let now = Timestamp(iso8601: "2025-01-06T10:00:00Z")!

    static let items: Value = [
        ["name": "Red shoes", "quantity": 1, "price": 79.5],
        ["name": "Wool hat", "quantity": 2, "price": 20],
        ["name": "Socks", "quantity": 3, "price": 4.25],
    ]

    static let event: Value = [
        "type": "track", "event": "cart_add", "userId": "u1", "messageId": "m1",
        "timestamp": "2025-01-06T09:30:00.000Z",
        "properties": ["cart_id": "c-42", "sku": "SKU-1", "price": 80, "items": items],
    ]

    static let context = TemplateContext(
        user: [
            "first_name": "Ada", "last_name": "Lovelace", "tier": "gold", "country": "CN", "email": "ada@example.com",
            "orders": 3, "renewal_date": "2025-03-15", "signed_up_at": "2024-12-31T20:00:00Z", "tags": ["vip", "early"],
            "vip": false,
        ],
        userID: "u1", event: event,
        enrollment: [
            "id": "u1#1", "key": "c-42", "entered_at": "2025-01-06T09:30:00.000Z", "trigger": event, "variant": "a",
        ],
        journey: ["id": "cart_abandonment", "version": "abc123"],
        touch: ["id": "t-1", "channel": "email", "step": "remind"],
        unsubscribeURL: "https://example.com/unsubscribe?u=u1&c=email", zone: shanghai, now: now)
}

/// Compiles and renders `source`; compile errors fail the test with their text.
func render(
    _ source: String, _ context: TemplateContext = Samples.context, mode: TemplateMode = .text,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> String {
    do {
        return try LiquidTemplate(source, mode: mode).render(context)
    } catch let error as TemplateCompileError {
        Issue.record("compile error: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// Renders `source` with the user's traits replaced by `traits`.
func render(_ source: String, user traits: Value, mode: TemplateMode = .text) throws -> String {
    var context = Samples.context
    context.user = traits
    return try LiquidTemplate(source, mode: mode).render(context)
}

/// The errors of compiling `source`, as `line:col: message` (empty when it compiles).
func diagnostics(_ source: String, mode: TemplateMode = .text) -> [String] {
    do {
        _ = try LiquidTemplate(source, mode: mode)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

/// The warnings of compiling `source` (which must compile).
func warnings(_ source: String, mode: TemplateMode = .text) throws -> [String] {
    try LiquidTemplate(source, mode: mode).warnings.map(\.description)
}
