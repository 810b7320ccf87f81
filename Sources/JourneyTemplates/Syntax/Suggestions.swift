/// "Did you mean" for names: the closest candidate by edit distance, when close enough to be a typo.
enum Suggestions {
    static func closest(_ name: String, in candidates: some Sequence<String>) -> String? {
        let a = Array(name.lowercased().unicodeScalars)
        guard !a.isEmpty else { return nil }
        var best: (String, Int)?
        for candidate in candidates where candidate != name {
            let b = Array(candidate.lowercased().unicodeScalars)
            let limit = max(1, (max(a.count, b.count) + 1) / 3)
            guard abs(a.count - b.count) <= limit else { continue }
            let d = distance(a, b)
            if d <= limit, best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    /// `; did you mean "x"?` or nothing.
    static func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
        closest(name, in: candidates).map { "; did you mean \"\($0)\"?" } ?? ""
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent transpositions.
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
