import Foundation
public import JourneyCore
public import JourneyRules
public import JourneyTemplates
import JourneyEngine

/// Renders a touch into the message its channel sends: the journey's template with the user's traits,
/// the event at hand and the enrollment, in the user's time zone (`"now"` is the touch's due time, so a
/// replay renders the same bytes). The daemon renders when a touch is produced, so the outbox holds
/// exactly what goes out (and what an audit shows afterwards).
///
/// `delivery.unsubscribe_url` in journeyd.yaml, itself a Liquid template over the same context (e.g.
/// `https://shop.example/unsubscribe?u={{ user.id | url_encode }}&c={{ touch.channel }}`), gives each
/// message its `unsubscribe_url` — the `List-Unsubscribe` header of email, and a link templates can show.
public struct TouchRenderer: Sendable {
    let rules: RuleSet
    let unsubscribe: LiquidTemplate?
    /// `delivery.expire_after`: a touch not delivered this long after it was due is dead-lettered as
    /// expired instead of being sent late (nil: touches never expire).
    let expireAfter: TimeSpan?

    /// The renderer of `rules`. The rule loader has checked `delivery.*` (with positions); a template it
    /// accepted compiles here too.
    public init(rules: RuleSet) throws(TemplateCompileError) {
        self.rules = rules
        let settings = rules.settings.daemonSettings
        unsubscribe = try settings.unsubscribeURL.map { text throws(TemplateCompileError) in
            try LiquidTemplate(text, mode: .text, file: "journeyd.yaml")
        }
        expireAfter = settings.expireAfter
    }

    /// When a touch due at `at` stops being worth sending.
    func expiry(of touch: Touch) -> Timestamp? { expireAfter.map { touch.at + $0 } }

    /// The rendered message, or why it could not be rendered.
    public func render(_ touch: Touch, user: UserState?, event: Event?) -> Result<JourneyCore.RenderedMessage, RenderFailure> {
        guard let template = rules.templates[touch.template] else {
            return .failure(RenderFailure(reason: "template \"\(touch.template)\" is not loaded (removed while the touch's journey version was pinned?)"))
        }
        let traits = user?.traits ?? .emptyObject
        let zone = user?.zone(default: rules.settings.defaultZone) ?? rules.settings.defaultZone
        // Only the roots the template (and the unsubscribe link) read are built.
        let roots = template.message.roots.union(unsubscribe?.roots ?? [])
        var context = TemplateContext(touch: touch, traits: traits, event: event, zone: zone, reading: roots)
        do {
            var unsubscribeURL: String?
            if let unsubscribe {
                let url = try unsubscribe.render(context).trimmingCharacters(in: .whitespacesAndNewlines)
                context.unsubscribeURL = .string(url)
                unsubscribeURL = url
            }
            let message = try template.message.render(context)
            return .success(
                JourneyCore.RenderedMessage(
                    subject: message.subject, preheader: message.preheader, from: message.from, replyTo: message.replyTo,
                    text: message.text ?? "", html: message.html, unsubscribeURL: unsubscribeURL))
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
