/// "Did you mean" for names in error messages (rule keys, template filters, channel options), and lists.
public enum Suggestions {
    /// The closest candidate by edit distance (adjacent transpositions count once), when close enough to
    /// be a typo: at most a third of the longer name. Case is ignored unless `caseInsensitive` is false;
    /// ties go to the alphabetically first candidate, so messages are stable.
    public static func closest(_ name: String, in candidates: some Sequence<String>, caseInsensitive: Bool = true) -> String? {
        let a = Array((caseInsensitive ? name.lowercased() : name).unicodeScalars)
        guard !a.isEmpty else { return nil }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != name {
            let b = Array((caseInsensitive ? candidate.lowercased() : candidate).unicodeScalars)
            let limit = max(1, (max(a.count, b.count) + 1) / 3)
            guard abs(a.count - b.count) <= limit else { continue }
            let d = distance(a, b)
            guard d <= limit else { continue }
            if let current = best, d > current.distance || (d == current.distance && candidate >= current.candidate) { continue }
            best = (candidate, d)
        }
        return best?.candidate
    }

    /// `; did you mean "x"?` or nothing.
    public static func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
        closest(name, in: candidates).map { "; did you mean \"\($0)\"?" } ?? ""
    }

    /// `a, b or c` (with `quote`, `"a", "b" or "c"`).
    public static func list(_ items: [String], conjunction: String, quote: Bool = false) -> String {
        let shown = quote ? items.map { "\"\($0)\"" } : items
        guard shown.count > 1 else { return shown.first ?? "" }
        return shown.dropLast().joined(separator: ", ") + " \(conjunction) " + shown.last!
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent transpositions.
    public static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
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
