/// One thing wrong with a channel's definition, with the key path that points at it:
/// `channels[2].url: must be https unless allow_private is true`. Never contains a secret's value.
public struct ChannelProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The channel's name (empty when the definition has none).
    public var channel: String
    /// The full key path: `channels[2].url`.
    public var path: String
    public var message: String

    public init(channel: String, path: String, message: String) {
        self.channel = channel
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

enum Suggestions {
    /// `; did you mean "x"?` or nothing.
    static func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
        let a = Array(name.lowercased().unicodeScalars)
        var best: (String, Int)?
        for candidate in candidates where candidate != name {
            let b = Array(candidate.lowercased().unicodeScalars)
            let limit = max(1, (max(a.count, b.count) + 1) / 3)
            guard abs(a.count - b.count) <= limit else { continue }
            let d = distance(a, b)
            if d <= limit, best == nil || d < best!.1 || (d == best!.1 && candidate < best!.0) { best = (candidate, d) }
        }
        return best.map { "; did you mean \"\($0.0)\"?" } ?? ""
    }

    /// Optimal-string-alignment distance.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
