/// Text operations of the filters, on UTF-8 bytes where Ruby works on bytes too (matching a substring
/// of valid UTF-8 never splits a character: UTF-8 is self-synchronizing).
enum Strings {
    enum Occurrence {
        case all, first, last
    }

    static func trim(_ text: String, leading: Bool, trailing: Bool) -> String {
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || s == "\0" }
        // Most text has nothing to trim: return it as it is, without building a copy.
        let whole = text.unicodeScalars
        if !(leading && whole.first.map(isSpace) == true) && !(trailing && whole.last.map(isSpace) == true) { return text }
        var scalars = Substring(text).unicodeScalars[...]
        if leading { while let first = scalars.first, isSpace(first) { scalars.removeFirst() } }
        if trailing { while let last = scalars.last, isSpace(last) { scalars.removeLast() } }
        return String(Substring(scalars))
    }

    /// The offsets where `needle` occurs in `haystack`, not overlapping, left to right.
    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard !needle.isEmpty, needle.count <= haystack.count else { return [] }
        var found: [Int] = []
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count {
                    found.append(i)
                    i += needle.count
                    continue
                }
            }
            i += 1
        }
        return found
    }

    static func replace(_ text: String, _ target: String, _ replacement: String, _ which: Occurrence) -> String {
        if target.isEmpty {
            // Ruby finds the empty text before every character and at the end.
            switch which {
            case .first: return replacement + text
            case .last: return text + replacement
            case .all: return text.reduce(into: replacement) { $0 += String($1) + replacement }
            }
        }
        let haystack = Array(text.utf8)
        let needle = Array(target.utf8)
        var hits = occurrences(of: needle, in: haystack)
        guard !hits.isEmpty else { return text }
        switch which {
        case .all: break
        case .first: hits = [hits[0]]
        case .last: hits = [hits[hits.count - 1]]
        }
        var out: [UInt8] = []
        out.reserveCapacity(haystack.count + hits.count * max(replacement.utf8.count - needle.count, 0))
        var at = 0
        for hit in hits {
            out.append(contentsOf: haystack[at..<hit])
            out.append(contentsOf: replacement.utf8)
            at = hit + needle.count
        }
        out.append(contentsOf: haystack[at...])
        return String(decoding: out, as: UTF8.self)
    }

    /// Ruby's `String#split` with a string: `" "` splits on runs of whitespace ignoring leading ones, `""`
    /// into characters, anything else on that text; trailing empty pieces are dropped.
    static func split(_ text: String, by separator: String) -> [String] {
        if separator == " " {
            return text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        }
        if separator.isEmpty { return text.map { String($0) } }
        let haystack = Array(text.utf8)
        let needle = Array(separator.utf8)
        var pieces: [String] = []
        var at = 0
        for hit in occurrences(of: needle, in: haystack) {
            pieces.append(String(decoding: haystack[at..<hit], as: UTF8.self))
            at = hit + needle.count
        }
        pieces.append(String(decoding: haystack[at...], as: UTF8.self))
        while let last = pieces.last, last.isEmpty { pieces.removeLast() }
        return pieces
    }

    /// The range `slice: offset, length` selects (a negative offset counts from the end), or nil.
    static func sliceRange(count: Int, offset: Int, length: Int) -> Range<Int>? {
        let start = offset < 0 ? count + offset : offset
        guard start >= 0, start <= count else { return nil }
        return start..<(start + min(length, count - start))
    }

    /// `strip_html`: removes scripts, styles and comments with their content, then every tag.
    static func stripHTML(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
        func startsWith(_ word: String, at k: Int) -> Bool {
            let w = Array(word.utf8)
            guard k + w.count <= bytes.count else { return false }
            for j in 0..<w.count where lower(bytes[k + j]) != w[j] { return false }
            return true
        }
        func skip(past end: String, from k: Int) -> Int {
            var j = k
            while j < bytes.count {
                if startsWith(end, at: j) {
                    j += end.utf8.count
                    // For `</script`, go on to the `>`.
                    while j < bytes.count, end.hasPrefix("</"), bytes[j] != UInt8(ascii: ">") { j += 1 }
                    return min(j + (end.hasPrefix("</") ? 1 : 0), bytes.count)
                }
                j += 1
            }
            return bytes.count
        }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "<") else {
                out.append(bytes[i])
                i += 1
                continue
            }
            if startsWith("<!--", at: i) {
                i = skip(past: "-->", from: i + 4)
            } else if startsWith("<script", at: i) {
                i = skip(past: "</script", from: i + 7)
            } else if startsWith("<style", at: i) {
                i = skip(past: "</style", from: i + 6)
            } else {
                var j = i + 1
                while j < bytes.count, bytes[j] != UInt8(ascii: ">") { j += 1 }
                if j == bytes.count {
                    // A `<` that opens no tag is text.
                    out.append(bytes[i])
                    i += 1
                } else {
                    i = j + 1
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
