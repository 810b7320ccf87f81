public import JourneyCore
import Foundation
import JourneyEngine
public import JourneyRules
import JourneyTemplates

/// Renders a touch into the message its channel sends: the journey's template with the user's traits,
/// the event at hand and the enrollment, in the user's time zone. The daemon renders when a touch is
/// produced, so the outbox holds exactly what goes out (and what an audit shows afterwards).
///
/// `delivery.unsubscribe_url` in journeyd.yaml, itself a Liquid template over the same context (e.g.
/// `https://shop.example/unsubscribe?u={{ user.id | url_encode }}&c={{ touch.channel }}`), gives each
/// message its `unsubscribe_url` — the `List-Unsubscribe` header of email, and a link templates can show.
public struct TouchRenderer {
    let rules: RuleSet
    let unsubscribe: LiquidTemplate?
    /// `delivery.expire_after`: a touch not delivered this long after it was due is dead-lettered as
    /// expired instead of being sent late (nil: touches never expire).
    let expireAfter: TimeSpan?

    public init(rules: RuleSet) throws {
        self.rules = rules
        if let text = rules.settings.daemon.value(at: ["delivery", "unsubscribe_url"])?.stringValue {
            do {
                unsubscribe = try LiquidTemplate(text, mode: .text, file: "journeyd.yaml")
            } catch {
                throw DaemonError("delivery.unsubscribe_url: \(error)", configuration: true)
            }
        } else {
            unsubscribe = nil
        }
        if let text = rules.settings.daemon.value(at: ["delivery", "expire_after"])?.stringValue {
            guard let span = TimeSpan(parsing: text), span > .zero else {
                throw DaemonError("delivery.expire_after: expected a duration like 6h or 2d, found `\(text)`", configuration: true)
            }
            expireAfter = span
        } else {
            expireAfter = nil
        }
    }

    /// When a touch due at `at` stops being worth sending.
    func expiry(of touch: Touch) -> Timestamp? { expireAfter.map { touch.at + $0 } }

    /// The rendered message as a JSON object (`subject`, `preheader`, `from`, `reply_to`, `text`, `html`,
    /// `unsubscribe_url`, absent members omitted), or why it could not be rendered.
    public func render(_ touch: Touch, user: UserState?, event: Event?) -> Result<String, RenderFailure> {
        guard let template = rules.templates[touch.template] else {
            return .failure(RenderFailure(reason: "template \"\(touch.template)\" is not loaded (removed while the touch's journey version was pinned?)"))
        }
        let traits = user?.traits ?? .emptyObject
        let zone = user?.zone(default: rules.settings.defaultZone) ?? rules.settings.defaultZone
        var context = TemplateContext(touch: touch, traits: traits, event: event, zone: zone)
        do {
            var members: [Value.Member] = []
            if let unsubscribe {
                let url = try unsubscribe.render(context).trimmingCharacters(in: .whitespacesAndNewlines)
                context.unsubscribeURL = .string(url)
                members.append(.init("unsubscribe_url", .string(url)))
            }
            let message = try template.message.render(context)
            for (key, value) in [
                ("subject", message.subject), ("preheader", message.preheader), ("from", message.from),
                ("reply_to", message.replyTo), ("text", message.text), ("html", message.html),
            ] {
                if let value { members.append(.init(key, .string(value))) }
            }
            return .success(Value.object(members).jsonText)
        } catch {
            return .failure(RenderFailure(reason: "template \"\(touch.template)\": \(error)"))
        }
    }
}

/// Why a touch could not be rendered (it is dead-lettered with this reason).
public struct RenderFailure: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
