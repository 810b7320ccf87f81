import Foundation

/// A credential read from a file or a systemd credential. Its text is reachable only inside this module
/// (``reveal``); every way of printing it — `description`, `debugDescription`, `dump`, string
/// interpolation — shows `<redacted>`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let reveal: String

    init(_ value: String) { reveal = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// `text` with each secret (also percent-encoded) replaced by `<redacted>`. Secrets shorter than 4
    /// characters are skipped: they would redact ordinary words and are too weak to matter here.
    static func redact(_ text: String, _ secrets: [Secret]) -> String {
        var text = text
        for secret in secrets where secret.reveal.count >= 4 {
            for form in Set([secret.reveal, Signatures.urlEncoded(secret.reveal)]) {
                text = text.replacingOccurrences(of: form, with: "<redacted>")
            }
        }
        return text
    }

    /// A secret URL (a Slack webhook) and the parts of it a receiver may echo on their own: its path and
    /// each longer path segment.
    func urlParts() -> [Secret] {
        guard let url = URL(string: reveal) else { return [self] }
        var parts = [self, Secret(url.path)]
        if let query = url.query { parts.append(Secret(query)) }
        parts += url.path.split(separator: "/").filter { $0.count >= 8 && $0 != "services" }.map { Secret(String($0)) }
        return parts
    }
}
