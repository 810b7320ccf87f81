/// A touch rendered from its template: exactly what its channel sends. Rendered when the touch is
/// produced, while the user's traits and the event are at hand, and kept in the outbox as it is, so what
/// goes out — and what an audit shows afterwards — is what the journey made at that moment.
public struct RenderedMessage: Sendable, Hashable {
    public var subject: String?
    public var preheader: String?
    public var from: String?
    public var replyTo: String?
    public var text: String
    public var html: String?
    /// The one-click unsubscribe link (`delivery.unsubscribe_url`), for `List-Unsubscribe` and templates.
    public var unsubscribeURL: String?

    public init(
        subject: String? = nil, preheader: String? = nil, from: String? = nil, replyTo: String? = nil, text: String,
        html: String? = nil, unsubscribeURL: String? = nil
    ) {
        self.subject = subject
        self.preheader = preheader
        self.from = from
        self.replyTo = replyTo
        self.text = text
        self.html = html
        self.unsubscribeURL = unsubscribeURL
    }

    /// The message as a JSON object (absent parts omitted): what webhook and exec payloads carry.
    public var jsonValue: Value {
        var members: [Value.Member] = []
        for (key, value) in [
            ("subject", subject), ("preheader", preheader), ("from", from), ("reply_to", replyTo), ("text", text),
            ("html", html), ("unsubscribe_url", unsubscribeURL),
        ] {
            if let value { members.append(.init(key, .string(value))) }
        }
        return .object(members)
    }

    public func encode(into writer: inout ByteWriter) {
        writer.optionalString(subject)
        writer.optionalString(preheader)
        writer.optionalString(from)
        writer.optionalString(replyTo)
        writer.string(text)
        writer.optionalString(html)
        writer.optionalString(unsubscribeURL)
    }

    public init(from reader: inout ByteReader) throws(BinaryDecodingError) {
        subject = try reader.optionalString()
        preheader = try reader.optionalString()
        from = try reader.optionalString()
        replyTo = try reader.optionalString()
        text = try reader.string()
        html = try reader.optionalString()
        unsubscribeURL = try reader.optionalString()
    }
}
