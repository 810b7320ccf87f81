import Foundation
import JourneyCore
import Yams

/// Yams' node (the expression language has syntax nodes of its own).
typealias YAMLNode = Yams.Node

/// Reads one YAML file for the rule loader: composes it into nodes with Yams, then offers typed reads
/// that record a ``Diagnostic`` (with `file:line:col` and the key path) for every problem and go on.
///
/// **Yams never decides a type.** Files are composed with the `basic` resolver (every scalar is a
/// string) and each scalar's *text* is interpreted by the type its key expects, so the YAML 1.1
/// surprises cannot happen: `country: NO` is the string "NO" where a string is expected,
/// `on_change: yes` is an error (only `true`/`false` are booleans), `zip: 01234` stays "01234" and
/// `version: 1.10` stays "1.10". Untyped values (trait values, channel options) follow
/// ``plainValue(_:)``.
///
/// **Positions** are 1-based lines and columns; columns count Unicode scalars, as Yams' marks do.
///
/// **Duplicate keys.** Yams refuses a whole document when a mapping repeats a key. The reader
/// finds the repeated key in the text, records it, renames it in a private copy to a placeholder of
/// the same width (so every position stays right) and composes again; the mapping walk then reports
/// `duplicate key "x" (first at line N)` with its key path and skips the repeat. Loading goes on.
final class YAMLReader {
    let file: String
    let text: String
    private(set) var diagnostics: [Diagnostic] = []
    /// Repeated keys renamed for Yams, by their placeholder scalar.
    private var duplicates: [Unicode.Scalar: DuplicateKey] = [:]
    private lazy var lines: [[Unicode.Scalar]] = Self.splitLines(text)
    /// How many more nodes ``value(_:_:)`` may visit: aliases can make a small file expand exponentially.
    private var valueBudget = 100_000

    private struct DuplicateKey {
        var key: String
        var firstLine: Int
        var line: Int
        var column: Int
        var reported = false
    }

    init(file: String, text: String) {
        self.file = file
        self.text = text
    }

    var errorCount: Int { diagnostics.count { $0.severity == .error } }

    /// The document's root node; nil after recording the syntax error, or for an empty document (which
    /// is an error unless `allowEmpty`).
    func root(allowEmpty: Bool = false) -> YAMLNode? {
        var source = text
        for _ in 0..<500 {
            do {
                guard let node = try Yams.compose(yaml: source, .basic, .default, .utf8) else {  // explicit: `.default` reads the environment each time
                    if !allowEmpty { record(line: 0, column: 0, "", "the file is empty") }
                    return nil
                }
                return node
            } catch let yamlError as YamlError {
                if case .duplicatedKeysInMapping(let keys, let context) = yamlError,
                    renameDuplicate(in: &source, keys: keys, at: context.mark)
                {
                    continue
                }
                recordSyntaxError(yamlError)
                return nil
            } catch {
                record(line: 0, column: 0, "", "YAML error: \(error)")
                return nil
            }
        }
        record(line: 0, column: 0, "", "too many duplicate keys")
        return nil
    }

    /// Records the duplicate keys no mapping walk reported (those inside parts of the file that were not
    /// read because of other errors). Call once, after reading the file.
    func finish() {
        // In file order: a dictionary's order differs between two loads of the same text.
        let unreported = duplicates.filter { !$0.value.reported }.sorted { ($0.value.line, $0.value.column) < ($1.value.line, $1.value.column) }
        for (placeholder, dup) in unreported {
            duplicates[placeholder]!.reported = true
            record(line: dup.line, column: dup.column, "", "duplicate key \"\(dup.key)\" (first at line \(dup.firstLine))")
        }
    }

    private func recordSyntaxError(_ yamlError: YamlError) {
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: "
            if let context {
                let text = context.text.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.hasPrefix("expected a single document") {
                    message += "\(text), \(problem): put one journey or test file per file, without ---"
                } else if context.mark.line == mark.line && context.mark.column == mark.column {
                    message += "\(problem) (\(text))"
                } else {
                    message += "\(problem) (\(text) at line \(context.mark.line), column \(context.mark.column))"
                }
            } else {
                message += problem
            }
            if mark.line >= 1, mark.line <= lines.count, mark.column >= 1, mark.column <= lines[mark.line - 1].count,
                lines[mark.line - 1][mark.column - 1] == "\t"
            {
                message += "; YAML indents with spaces, not tabs"
            }
            record(line: mark.line, column: mark.column, "", message)
        case .duplicatedKeysInMapping(let keys, let context):
            record(
                line: context.mark.line, column: context.mark.column, "",
                "duplicate key \(keys.map { "\"\($0)\"" }.joined(separator: ", ")) in a mapping")
        case .reader(let problem, let offset, _, _):
            record(line: 0, column: 0, "", "cannot read the file: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            record(line: 0, column: 0, "", "YAML error: \(yamlError)")
        }
    }

    // MARK: - Duplicate key recovery

    /// Finds the second occurrence of the key Yams reports at `mark` and renames it in `source`.
    /// Returns false when it cannot be found (the duplicate is then reported as a plain error).
    private func renameDuplicate(in source: inout String, keys: [String], at mark: Mark) -> Bool {
        guard let key = keys.first, duplicates.count < 6000 else { return false }
        var sourceLines = Self.splitLines(source)
        let l0 = mark.line - 1
        let c0 = mark.column - 1
        guard l0 >= 0, l0 < sourceLines.count, c0 >= 0, c0 < sourceLines[l0].count else { return false }
        let line = sourceLines[l0]
        guard let keyEnd = Self.rawKeyEnd(line, from: c0) else { return false }
        let raw = Array(line[c0..<keyEnd])
        var p = c0 - 1
        while p >= 0 && (line[p] == " " || line[p] == "\t") { p -= 1 }
        let inFlow = p >= 0 && (line[p] == "{" || line[p] == ",")
        let found =
            inFlow
            ? Self.findFlowRepeat(of: raw, in: sourceLines, after: (l0, keyEnd))
            : Self.findBlockRepeat(of: raw, in: sourceLines, line: l0, column: c0)
        guard let (l, c) = found else { return false }
        let quoted = raw.first == "\"" || raw.first == "'"
        let at = c + (quoted ? 1 : 0)
        guard at < sourceLines[l].count, !quoted || raw.count > 2,
            let placeholder = Unicode.Scalar(0xE000 + duplicates.count)
        else { return false }
        sourceLines[l][at] = placeholder
        duplicates[placeholder] = DuplicateKey(key: key, firstLine: mark.line, line: l + 1, column: c + 1)
        var rebuilt = String.UnicodeScalarView()
        for (i, scalars) in sourceLines.enumerated() {
            if i > 0 { rebuilt.append("\n") }
            rebuilt.append(contentsOf: scalars)
        }
        source = String(rebuilt)
        return true
    }

    /// The end of the key that starts at `start`: after its closing quote, or before the `:` that ends a
    /// plain key.
    private static func rawKeyEnd(_ line: [Unicode.Scalar], from start: Int) -> Int? {
        let q = line[start]
        if q == "\"" || q == "'" {
            var i = start + 1
            while i < line.count {
                if q == "\"" && line[i] == "\\" {
                    i += 2
                    continue
                }
                if line[i] == q {
                    if q == "'" && i + 1 < line.count && line[i + 1] == "'" {
                        i += 2
                        continue
                    }
                    return i + 1
                }
                i += 1
            }
            return nil
        }
        var i = start
        while i < line.count {
            if line[i] == ":" && (i + 1 == line.count || [" ", "\t", "\r", ",", "}", "]"].contains(line[i + 1])) {
                var end = i
                while end > start && (line[end - 1] == " " || line[end - 1] == "\t") { end -= 1 }
                return end
            }
            i += 1
        }
        return nil
    }

    /// Whether `raw` followed by optional blanks and `:` starts at `c` on `line`.
    private static func keyStarts(_ raw: [Unicode.Scalar], _ line: [Unicode.Scalar], at c: Int) -> Bool {
        guard c + raw.count <= line.count, Array(line[c..<(c + raw.count)]) == raw else { return false }
        var i = c + raw.count
        while i < line.count && (line[i] == " " || line[i] == "\t") { i += 1 }
        return i < line.count && line[i] == ":"
    }

    /// The next key of the same block mapping (same indentation) that repeats `raw`.
    private static func findBlockRepeat(of raw: [Unicode.Scalar], in lines: [[Unicode.Scalar]], line l0: Int, column c0: Int)
        -> (Int, Int)?
    {
        for l in (l0 + 1)..<max(l0 + 1, lines.count) {
            let line = lines[l]
            var indent = 0
            while indent < line.count && line[indent] == " " { indent += 1 }
            if indent == line.count || line[indent] == "#" || line[indent] == "\r" { continue }
            if indent < c0 { return nil }
            if indent == c0 && keyStarts(raw, line, at: c0) { return (l, c0) }
        }
        return nil
    }

    /// The next key of the same flow mapping that repeats `raw`, scanning from `start`.
    private static func findFlowRepeat(of raw: [Unicode.Scalar], in lines: [[Unicode.Scalar]], after start: (Int, Int))
        -> (Int, Int)?
    {
        var depth = 0
        var afterComma = false
        var (l, c) = start
        while l < lines.count {
            let line = lines[l]
            while c < line.count {
                let ch = line[c]
                if afterComma && ch != " " && ch != "\t" && ch != "\r" {
                    afterComma = false
                    if depth == 0 && keyStarts(raw, line, at: c) { return (l, c) }
                }
                switch ch {
                case "\"", "'":
                    c += 1
                    while c < line.count && line[c] != ch {
                        if ch == "\"" && line[c] == "\\" { c += 1 }
                        c += 1
                    }
                case "{", "[": depth += 1
                case "}", "]":
                    if depth == 0 { return nil }
                    depth -= 1
                case ",": if depth == 0 { afterComma = true }
                case "#" where c == 0 || line[c - 1] == " " || line[c - 1] == "\t": c = line.count
                default: break
                }
                c += 1
            }
            l += 1
            c = 0
        }
        return nil
    }

    private func duplicate(_ key: String) -> DuplicateKey? {
        for scalar in key.unicodeScalars.prefix(1) where scalar.value >= 0xE000 && scalar.value < 0xF8FF {
            return duplicates[scalar]
        }
        return nil
    }

    /// Reports the duplicate behind a renamed key (once); true when `key` is such a placeholder.
    private func reportIfDuplicate(_ key: String, _ keyNode: YAMLNode, _ path: String) -> Bool {
        guard let scalar = key.unicodeScalars.first, let dup = duplicates[scalar] else { return false }
        if !dup.reported {
            duplicates[scalar]!.reported = true
            record(
                line: dup.line, column: dup.column, join(path, dup.key),
                "duplicate key \"\(dup.key)\" (first at line \(dup.firstLine))")
        }
        return true
    }

    // MARK: - Diagnostics

    func error(at node: YAMLNode?, _ path: String, _ message: String) {
        record(line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, path, message)
    }

    func warning(at node: YAMLNode?, _ path: String, _ message: String) {
        diagnostics.append(
            Diagnostic(
                file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, keyPath: path,
                message: message, severity: .warning))
    }

    func record(line: Int, column: Int, _ path: String, _ message: String) {
        diagnostics.append(Diagnostic(file: file, line: line, column: column, keyPath: path, message: message))
    }

    // MARK: - Shapes

    /// A mapping's entries in file order. Records a type error for a non-mapping, and an error for each
    /// key not in `allowed` (with a suggestion) unless `allowed` is nil.
    func mapping(_ node: YAMLNode, _ path: String, allowed: [String]?, what: String = "a mapping (key: value)") -> Entries? {
        guard case .mapping(let mapping) = node else {
            error(at: node, path, "expected \(what), found \(found(node))")
            return nil
        }
        var entries = Entries(node: node)
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                error(at: keyNode, path, "a key must be plain text, found \(found(keyNode))")
                continue
            }
            let key = keyScalar.string
            if reportIfDuplicate(key, keyNode, path) { continue }
            if let allowed, !allowed.contains(key) {
                let suggestion = Suggestions.closest(key, in: allowed)
                var message = "unknown key \"\(key)\""
                if key == "<<" {
                    message += ": merge keys are not supported; write the keys out"
                } else if let suggestion {
                    message += "; did you mean \"\(suggestion)\"?"
                } else {
                    message += " (expected \(Suggestions.list(allowed, conjunction: "or")))"
                }
                error(at: keyNode, join(path, key), message)
                entries.unknown.append((key, suggestion))
                continue
            }
            entries.items.append((key, keyNode, value))
        }
        return entries
    }

    /// The value of required key `key`, or nil after recording it missing — unless an unknown key that
    /// looks like a typo of it was already reported.
    func required(_ entries: Entries, _ key: String, _ path: String) -> YAMLNode? {
        if let node = entries[key] { return node }
        if !entries.unknown.contains(where: { $0.suggestion == key }) {
            error(at: entries.node, path, "missing required key \"\(key)\"")
        }
        return nil
    }

    func sequence(_ node: YAMLNode, _ path: String, what: String = "a list") -> [YAMLNode]? {
        guard case .sequence(let sequence) = node else {
            error(at: node, path, "expected \(what), found \(found(node))")
            return nil
        }
        return Array(sequence)
    }

    // MARK: - Scalars

    /// The text of a scalar, or nil after recording "expected `expected`, found …" (also for nothing).
    func scalar(_ node: YAMLNode, _ path: String, expected: String) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            error(at: node, path, "expected \(expected), found \(found(node))")
            return nil
        }
        return scalar.string
    }

    func string(_ node: YAMLNode, _ path: String, expected: String = "text") -> String? {
        scalar(node, path, expected: expected)
    }

    /// An identifier: lower-case letters, digits and `_` (and `-` when `dash`), starting with a letter.
    func identifier(_ node: YAMLNode, _ path: String, what: String, dash: Bool = false) -> String? {
        guard let s = scalar(node, path, expected: "a \(what)") else { return nil }
        guard Self.isIdentifier(s, dash: dash) else {
            error(
                at: node, path,
                "`\(Self.shown(s))` is not a valid \(what): use lower-case letters, digits and _\(dash ? " or -" : ""), starting with a letter"
            )
            return nil
        }
        return s
    }

    static func isIdentifier(_ s: String, dash: Bool = false) -> Bool {
        guard let first = s.utf8.first, first >= 97 && first <= 122 else { return false }
        return s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || (dash && $0 == 45) }
    }

    /// `true` or `false`, nothing else (`yes`, `on`, `True` are errors).
    func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        guard let s = scalar(node, path, expected: "true or false") else { return nil }
        switch s {
        case "true": return true
        case "false": return false
        default:
            error(at: node, path, "expected true or false, found `\(Self.shown(s))`")
            return nil
        }
    }

    func integer(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int>) -> Int? {
        let expected =
            range.upperBound >= 1_000_000_000
            ? "a whole number of at least \(range.lowerBound)" : "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard let s = scalar(node, path, expected: expected) else { return nil }
        guard
            s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 })
                || (s.hasPrefix("-") && s.utf8.dropFirst().allSatisfy({ $0 >= 48 && $0 <= 57 })),
            let n = Int(s), range.contains(n)
        else {
            error(at: node, path, "expected \(expected), found `\(Self.shown(s))`")
            return nil
        }
        return n
    }

    /// A decimal number (`12`, `-3`, `12.5`, `1e3`); no hex, octal, `.inf` or `.nan`.
    func number(_ node: YAMLNode, _ path: String) -> Double? {
        guard let s = scalar(node, path, expected: "a number") else { return nil }
        guard let d = Self.decimal(s) else {
            error(at: node, path, "expected a number, found `\(Self.shown(s))`")
            return nil
        }
        return d
    }

    /// Parses YAML 1.2 core-schema decimal numbers: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
    static func decimal(_ s: String) -> Double? {
        var b = Array(s.utf8)[...]
        if b.first == UInt8(ascii: "-") || b.first == UInt8(ascii: "+") { b = b.dropFirst() }
        func digits() -> Int {
            var n = 0
            while let c = b.first, c >= 48 && c <= 57 {
                n += 1
                b = b.dropFirst()
            }
            return n
        }
        var mantissa = digits()
        if b.first == UInt8(ascii: ".") {
            b = b.dropFirst()
            mantissa += digits()
        }
        guard mantissa > 0 else { return nil }
        if b.first == UInt8(ascii: "e") || b.first == UInt8(ascii: "E") {
            b = b.dropFirst()
            if b.first == UInt8(ascii: "-") || b.first == UInt8(ascii: "+") { b = b.dropFirst() }
            guard digits() > 0 else { return nil }
        }
        guard b.isEmpty, let d = Double(s.hasPrefix("+") ? String(s.dropFirst()) : s), d.isFinite else { return nil }
        return d
    }

    static let durationExpectation = "a duration like 30m, 1h, 7d"

    /// A positive duration: `90s`, `15m`, `1h30m`, `7d`, `2w`, `500ms`.
    func duration(_ node: YAMLNode, _ path: String) -> TimeSpan? {
        guard let s = scalar(node, path, expected: Self.durationExpectation) else { return nil }
        guard let span = TimeSpan(parsing: s), span.milliseconds > 0 else {
            let positive = TimeSpan(parsing: s) != nil ? "a positive duration like 30m, 1h, 7d" : Self.durationExpectation
            error(at: node, path, "expected \(positive), found `\(Self.shown(s))`")
            return nil
        }
        return span
    }

    /// A size in bytes: a whole number (`268435456`), or one with a unit — `KiB`, `MiB`, `GiB`, `TiB`
    /// (powers of 1024) or `kB`/`KB`, `MB`, `GB`, `TB` (powers of 1000), `B` — with or without a space
    /// (`256MiB`, `1.5 GiB`). A fraction is allowed with a unit and rounded down to whole bytes.
    func byteSize(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int>) -> Int? {
        let expected = "a size like 256MiB, 1GB or 1048576 (bytes)"
        guard let s = scalar(node, path, expected: expected) else { return nil }
        guard let bytes = Self.byteSize(s) else {
            error(at: node, path, "expected \(expected), found `\(Self.shown(s))`")
            return nil
        }
        guard range.contains(bytes) else {
            error(at: node, path, "must be from \(Self.byteText(range.lowerBound)) to \(Self.byteText(range.upperBound)), found `\(Self.shown(s))`")
            return nil
        }
        return bytes
    }

    static let byteUnits: [(name: String, factor: Double)] = [
        ("B", 1), ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
        ("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12),
    ]

    /// The bytes `text` says (see ``byteSize(_:_:in:)``); nil when it is not a size.
    static func byteSize(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return Int(trimmed) }
        let number = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty, number.first != ".", number.last != ".", let value = Double(number),
            let factor = byteUnits.first(where: { $0.name == unit })?.factor
        else { return nil }
        let bytes = (value * factor).rounded(.down)
        return bytes < 9.2e18 ? Int(bytes) : nil
    }

    /// A byte count the way settings write it: in the largest power-of-1024 unit it is a whole number of.
    static func byteText(_ bytes: Int) -> String {
        for (name, factor) in byteUnits[1...4].reversed() where bytes >= Int(factor) && bytes % Int(factor) == 0 {
            return "\(bytes / Int(factor))\(name)"
        }
        return "\(bytes) bytes"
    }

    /// A positive whole number of days written as a duration (`3d`, `2w`).
    func wholeDays(_ node: YAMLNode, _ path: String) -> Int? {
        guard let s = scalar(node, path, expected: "whole days like 3d or 2w") else { return nil }
        guard let span = TimeSpan(parsing: s), span.milliseconds > 0, span.milliseconds % 86_400_000 == 0,
            span.milliseconds / 86_400_000 <= 100_000
        else {
            error(at: node, path, "expected whole days like 3d or 2w, found `\(Self.shown(s))`")
            return nil
        }
        return Int(span.milliseconds / 86_400_000)
    }

    func timeOfDay(_ node: YAMLNode, _ path: String) -> TimeOfDay? {
        let expected = "a time of day like \"09:30\""
        guard let s = scalar(node, path, expected: expected) else { return nil }
        guard let t = TimeOfDay(parsing: s) else {
            error(at: node, path, "expected \(expected) (00:00 to 23:59), found `\(Self.shown(s))`")
            return nil
        }
        return t
    }

    func timestamp(_ node: YAMLNode, _ path: String) -> Timestamp? {
        let expected = "a date-time like 2025-01-06T10:00:00Z"
        guard let s = scalar(node, path, expected: expected) else { return nil }
        guard let t = Timestamp(iso8601: s) else {
            error(at: node, path, "expected \(expected), found `\(Self.shown(s))`")
            return nil
        }
        return t
    }

    func zone(_ node: YAMLNode, _ path: String) -> Zone? {
        guard let s = scalar(node, path, expected: "a time zone like Asia/Shanghai") else { return nil }
        guard let zone = Zone.named(s) else {
            var message = "unknown time zone \"\(s)\""
            if let suggestion = Suggestions.closest(s, in: Self.zoneNames, caseInsensitive: true) {
                message += "; did you mean \"\(suggestion)\"?"
            } else {
                message += ": use an IANA name such as Europe/Berlin or UTC"
            }
            error(at: node, path, message)
            return nil
        }
        return zone
    }

    private static let zoneNames: [String] = TimeZone.knownTimeZoneIdentifiers.filter { $0.contains("/") } + ["UTC"]

    /// One of `choices` by its text; else "expected a, b or c, found `x`".
    func choice<T>(_ node: YAMLNode, _ path: String, _ choices: KeyValuePairs<String, T>) -> T? {
        let expected = Suggestions.list(choices.map(\.key), conjunction: "or", quote: false)
        guard let s = scalar(node, path, expected: expected) else { return nil }
        if let hit = choices.first(where: { $0.key == s }) { return hit.value }
        error(at: node, path, "expected \(expected), found `\(Self.shown(s))`")
        return nil
    }

    // MARK: - Untyped values

    /// Any YAML value as a ``Value``. Quoted and block scalars are strings; plain scalars follow
    /// ``plainValue(_:)``; mappings keep their order.
    func value(_ node: YAMLNode, _ path: String) -> Value {
        valueBudget -= 1
        guard valueBudget >= 0 else {
            if valueBudget == -1 {
                error(at: node, path, "too many values: aliases expand this file to more than 100,000 values")
            }
            return .null
        }
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else { return .string(scalar.string) }
            return Self.plainValue(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.enumerated().map { value($1, "\(path)[\($0)]") })
        case .mapping(let mapping):
            var members: [Value.Member] = []
            for (keyNode, item) in mapping {
                guard case .scalar(let key) = keyNode else {
                    error(at: keyNode, path, "a key must be plain text, found \(found(keyNode))")
                    continue
                }
                if reportIfDuplicate(key.string, keyNode, path) { continue }
                members.append(Value.Member(key.string, value(item, join(path, key.string))))
            }
            return .object(members)
        case .alias:
            return .null
        }
    }

    /// A plain (unquoted) scalar's value by the YAML 1.2 core schema, narrowed to what is obviously meant:
    /// `null`, `Null`, `NULL`, `~` and nothing are null; `true`/`True`/`TRUE` and `false`/… are booleans;
    /// decimal numbers (`80`, `-3`, `49.99`, `1e3`) are numbers — except with a leading zero (`01234`,
    /// `-007`: identifiers such as zip codes) or a leading `+` (`+8613800138000`: phone numbers), which stay
    /// text. Everything else is text, including YAML 1.1 booleans (`yes`, `NO`, `on`), hex and octal
    /// (`0x1F`), `.inf` and `.nan`.
    static func plainValue(_ s: String) -> Value {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if s.utf8.first == UInt8(ascii: "+") { return .string(s) }
        let unsigned = s.utf8.first == UInt8(ascii: "-") ? s.utf8.dropFirst() : s.utf8[...]
        if unsigned.count > 1, unsigned.first == UInt8(ascii: "0"), unsigned.dropFirst().first != UInt8(ascii: ".") {
            return .string(s)
        }
        if let d = decimal(s) { return .number(d) }
        return .string(s)
    }

    func isNull(_ node: YAMLNode) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The placeholder duplicate mark: whether `key` is a renamed duplicate.
    func isRenamedDuplicate(_ key: String) -> Bool { duplicate(key) != nil }

    // MARK: - Positions inside scalars

    /// The file position of the character at UTF-8 offset `offset` in scalar `node`'s value — for
    /// expression errors. Exact for plain, single- and double-quoted scalars (escapes and line folding
    /// included); a block scalar (`|`, `>`) gives the scalar's own position.
    func position(ofUTF8Offset offset: Int, in node: YAMLNode) -> (line: Int, column: Int) {
        guard let mark = node.mark else { return (0, 0) }
        guard case .scalar(let scalar) = node, scalar.style != .literal, scalar.style != .folded else {
            return (mark.line, mark.column)
        }
        // How many scalars of the value come before the offset.
        var target = 0
        var bytes = 0
        for s in scalar.string.unicodeScalars {
            bytes += UTF8.width(s)
            if bytes > offset { break }
            target += 1
        }
        var l = mark.line - 1
        var c = mark.column - 1
        guard l < lines.count else { return (mark.line, mark.column) }
        let quote: Unicode.Scalar? = scalar.style == .doubleQuoted ? "\"" : scalar.style == .singleQuoted ? "'" : nil
        if quote != nil { c += 1 }
        var consumed = 0
        func restIsBlank(_ line: [Unicode.Scalar], from i: Int) -> Bool {
            line[i...].allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" }
        }
        while consumed < target, l < lines.count {
            let line = lines[l]
            if c >= line.count || restIsBlank(line, from: c) {
                // A line break inside a flow scalar: one break folds to a space, n breaks to n-1 newlines.
                var breaks = 0
                repeat {
                    breaks += 1
                    l += 1
                    c = 0
                    guard l < lines.count else { return (mark.line, mark.column) }
                    while c < lines[l].count && (lines[l][c] == " " || lines[l][c] == "\t") { c += 1 }
                } while c >= lines[l].count || restIsBlank(lines[l], from: c)
                consumed += breaks == 1 ? 1 : breaks - 1
                continue
            }
            let ch = line[c]
            if quote == "'" && ch == "'" {
                c += 2  // '' is one quote
            } else if quote == "\"" && ch == "\\" {
                let next = c + 1 < line.count ? line[c + 1] : "\n"
                switch next {
                case "x": c += 4
                case "u": c += 6
                case "U": c += 10
                case "\n", "\r":
                    // An escaped line break: nothing in the value; the next line's indentation is skipped.
                    l += 1
                    c = 0
                    guard l < lines.count else { return (mark.line, mark.column) }
                    while c < lines[l].count && (lines[l][c] == " " || lines[l][c] == "\t") { c += 1 }
                    continue
                default: c += 2
                }
            } else {
                c += 1
            }
            consumed += 1
        }
        return (l + 1, c + 1)
    }

    // MARK: - Text helpers

    /// How a node is named in "found …": the text in backticks, `nothing`, `a mapping`, `a list`.
    func found(_ node: YAMLNode) -> String {
        switch node {
        case .scalar(let scalar): return isNull(node) ? "nothing" : "`\(Self.shown(scalar.string))`"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .alias: return "an alias"
        }
    }

    /// Text as quoted in messages: one line, at most 40 characters.
    static func shown(_ s: String) -> String {
        let oneLine = s.replacingOccurrences(of: "\n", with: "⏎")
        return oneLine.count > 40 ? String(oneLine.prefix(39)) + "…" : oneLine
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func splitLines(_ text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = [[]]
        for s in text.unicodeScalars {
            if s == "\n" { lines.append([]) } else { lines[lines.count - 1].append(s) }
        }
        return lines
    }
}

/// A mapping's entries in file order, plus the unknown keys already reported.
struct Entries {
    var node: YAMLNode
    var items: [(key: String, keyNode: YAMLNode, value: YAMLNode)] = []
    var unknown: [(key: String, suggestion: String?)] = []
    init(node: YAMLNode) { self.node = node }
    subscript(key: String) -> YAMLNode? {
        for i in items.indices where items[i].key == key { return items[i].value }
        return nil
    }
    func has(_ key: String) -> Bool {
        for i in items.indices where items[i].key == key { return true }
        return false
    }
    func keyNode(_ key: String) -> YAMLNode? {
        for i in items.indices where items[i].key == key { return items[i].keyNode }
        return nil
    }
    var keys: [String] { items.map(\.key) }
    /// Whether an unknown key was reported as a likely typo of one of `keys`.
    func hasTypo(of keys: [String]) -> Bool { unknown.contains { $0.suggestion.map(keys.contains) ?? false } }
}

