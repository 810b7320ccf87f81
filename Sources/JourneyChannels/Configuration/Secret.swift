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
            text = text.replacingOccurrences(of: secret.reveal, with: "<redacted>")
            if let encoded = secret.reveal.addingPercentEncoding(withAllowedCharacters: .alphanumerics),
                encoded != secret.reveal
            {
                text = text.replacingOccurrences(of: encoded, with: "<redacted>")
            }
        }
        return text
    }
}
