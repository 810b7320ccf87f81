import Foundation
import JourneyCore

extension OutboundMessage {
    /// The message as one JSON object, keys in a fixed order — what `webhook` posts, `exec` writes to
    /// stdin and `file` (with `format: message`) appends:
    ///
    /// ```json
    /// {"touch_id":"…","at":"…","user":"…","journey":"…","version":"…","enrollment":"…","step":"…",
    ///  "channel":"…","template":"…","transactional":false,"subject":"…","text":"…","html":"…",
    ///  "headers":{"X-Campaign":"…"},"unsubscribe_url":"…","traits":{…},"data":{…}}
    /// ```
    /// `subject`, `html` and `unsubscribe_url` are `null` when absent.
    public var jsonValue: Value {
        var members: [Value.Member] = [
            .init("touch_id", .string(touch.id)),
            .init("at", .string(touch.at.iso8601)),
            .init("user", .string(touch.user)),
            .init("journey", .string(touch.journey)),
            .init("version", .string(touch.version)),
            .init("enrollment", .string(touch.enrollment)),
            .init("step", .string(touch.step)),
            .init("channel", .string(touch.channel)),
            .init("template", .string(touch.template)),
            .init("transactional", .bool(touch.transactional)),
        ]
        members.append(.init("subject", subject.map(Value.string) ?? .null))
        members.append(.init("text", .string(text)))
        members.append(.init("html", html.map(Value.string) ?? .null))
        members.append(.init("headers", .object(headers.map { .init($0.name, .string($0.value)) })))
        members.append(.init("unsubscribe_url", unsubscribeURL.map(Value.string) ?? .null))
        members.append(.init("traits", traits))
        members.append(.init("data", data))
        return .object(members)
    }

    /// ``jsonValue`` as UTF-8 bytes.
    var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        jsonValue.writeJSON(into: &out)
        return out
    }

    /// The text trait `name` of the recipient, trimmed; nil when absent, empty or not text.
    func trait(_ name: String) -> String? {
        guard case .string(let s)? = traits[name] else { return nil }
        let trimmed = s.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}

extension String {
    /// At most `maxBytes` bytes of UTF-8, cut at a character boundary, with "…" when something was cut.
    func truncatedUTF8(maxBytes: Int) -> String {
        guard utf8.count > maxBytes else { return self }
        var out = ""
        var used = 0
        let ellipsis = 3
        for character in self {
            let size = character.utf8.count
            if used + size > maxBytes - ellipsis { break }
            out.append(character)
            used += size
        }
        return out + "…"
    }

}
