import JourneyCore
import Yams


/// Reads one YAML file for the rule loader: composes it into nodes with Yams, then offers typed reads
/// that record a ``Diagnostic`` (with `file:line:col` and the key path) for every problem and go on.
///
/// Yams' own type resolution is never used: every scalar is read as its text and interpreted by the type
/// the key expects, so YAML 1.1 surprises cannot happen (`country: NO` is the string "NO" where a string is
/// expected, `on_change: yes` is an error, `zip: 01234` stays "01234").
final class YAMLReader {
    let file: String
    let text: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, text: String) {
        self.file = file
        self.text = text
    }

    /// The document's root node, or nil after recording the syntax error.
    func root() -> YAMLNode? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                error(at: nil, "", "the file is empty")
                return nil
            }
            return node
        } catch let yamlError as YamlError {
            switch yamlError {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let where_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
                record(line: mark.line, column: mark.column, "", "YAML syntax error: \(problem)\(where_)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                record(
                    line: context.mark.line, column: context.mark.column, "",
                    "duplicate key\(duplicates.count == 1 ? "" : "s") \(duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")) in a mapping")
            case .reader(let problem, let offset, _, _):
                record(line: 1, column: 1, "", "cannot read the file: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
            default:
                record(line: 0, column: 0, "", "YAML error: \(yamlError)")
            }
            return nil
        } catch {
            record(line: 0, column: 0, "", "YAML error: \(error)")
            return nil
        }
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

    /// A mapping's entries by key, in order. Records a type error for a non-mapping, and an error for each
    /// key not in `allowed` (with a suggestion) unless `allowed` is nil.
    func mapping(_ node: YAMLNode, _ path: String, allowed: [String]?) -> Entries? {
        guard case .mapping(let mapping) = node else {
            error(at: node, path, "expected a mapping (key: value), found \(describe(node))")
            return nil
        }
        var entries = Entries()
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                error(at: keyNode, path, "keys must be plain text, found \(describe(keyNode))")
                continue
            }
            let key = keyScalar.string
            if let allowed, !allowed.contains(key) {
                let suggestion = Self.closest(key, in: allowed).map { "; did you mean \"\($0)\"?" } ?? ""
                error(at: keyNode, join(path, key), "unknown key \"\(key)\"\(suggestion)")
                continue
            }
            entries.items.append((key, keyNode, value))
        }
        return entries
    }

    func sequence(_ node: YAMLNode, _ path: String) -> [YAMLNode]? {
        guard case .sequence(let sequence) = node else {
            error(at: node, path, "expected a list, found \(describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A list, or a single item standing for a list of one.
    func oneOrMany(_ node: YAMLNode) -> [YAMLNode] {
        if case .sequence(let sequence) = node { return Array(sequence) }
        return [node]
    }

    // MARK: - Scalars

    func scalar(_ node: YAMLNode, _ path: String, expected: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(at: node, path, "expected \(expected), found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    func string(_ node: YAMLNode, _ path: String) -> String? {
        guard let s = scalar(node, path, expected: "text") else { return nil }
        if isNull(node) {
            error(at: node, path, "expected text, found nothing")
            return nil
        }
        return s
    }

    /// An identifier: lower-case letters, digits and `_` (and `-` when `dash`), starting with a letter.
    func identifier(_ node: YAMLNode, _ path: String, what: String, dash: Bool = false) -> String? {
        guard let s = string(node, path) else { return nil }
        let ok =
            s.utf8.first.map { $0 >= 97 && $0 <= 122 } == true
            && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || (dash && $0 == 45) }
        guard ok else {
            error(at: node, path, "\"\(s)\" is not a valid \(what): use lower-case letters, digits and _\(dash ? " or -" : ""), starting with a letter")
            return nil
        }
        return s
    }

    func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        guard let s = scalar(node, path, expected: "true or false") else { return nil }
        switch s {
        case "true": return true
        case "false": return false
        default:
            error(at: node, path, "expected true or false, found \"\(s)\"")
            return nil
        }
    }

    func integer(_ node: YAMLNode, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard let s = scalar(node, path, expected: "a whole number") else { return nil }
        guard let n = Int(s), range.contains(n) else {
            error(at: node, path, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \"\(s)\"")
            return nil
        }
        return n
    }

    func number(_ node: YAMLNode, _ path: String) -> Double? {
        guard let s = scalar(node, path, expected: "a number") else { return nil }
        guard let d = Double(s), d.isFinite, !s.isEmpty, s.first != "+" else {
            error(at: node, path, "expected a number, found \"\(s)\"")
            return nil
        }
        return d
    }

    func duration(_ node: YAMLNode, _ path: String) -> TimeSpan? {
        guard let s = scalar(node, path, expected: "a duration like 30m, 1h, 7d") else { return nil }
        guard let span = TimeSpan(parsing: s), span.milliseconds > 0 else {
            error(at: node, path, "expected a duration like 30m, 1h or 7d, found \"\(s)\"")
            return nil
        }
        return span
    }

    /// A whole number of days written as a duration (`3d`, `2w`).
    func days(_ node: YAMLNode, _ path: String) -> Int? {
        guard let span = duration(node, path) else { return nil }
        guard span.milliseconds % 86_400_000 == 0 else {
            error(at: node, path, "expected whole days like 3d or 2w, found \"\(span)\"")
            return nil
        }
        return Int(span.milliseconds / 86_400_000)
    }

    func timeOfDay(_ node: YAMLNode, _ path: String) -> TimeOfDay? {
        guard let s = scalar(node, path, expected: "a time of day like \"09:30\"") else { return nil }
        guard let t = TimeOfDay(parsing: s) else {
            error(at: node, path, "expected a time of day from \"00:00\" to \"23:59\", found \"\(s)\"")
            return nil
        }
        return t
    }

    func timestamp(_ node: YAMLNode, _ path: String) -> Timestamp? {
        guard let s = scalar(node, path, expected: "a date-time like 2025-01-06T10:00:00Z") else { return nil }
        guard let t = Timestamp(iso8601: s) else {
            error(at: node, path, "expected an RFC 3339 date-time like 2025-01-06T10:00:00Z, found \"\(s)\"")
            return nil
        }
        return t
    }

    func zone(_ node: YAMLNode, _ path: String) -> Zone? {
        guard let s = string(node, path) else { return nil }
        guard let zone = Zone.named(s) else {
            error(at: node, path, "unknown time zone \"\(s)\": use an IANA name such as Europe/Berlin or UTC")
            return nil
        }
        return zone
    }

    func oneOf<T>(_ node: YAMLNode, _ path: String, _ choices: [(String, T)]) -> T? {
        guard let s = scalar(node, path, expected: choices.map(\.0).joined(separator: " or ")) else { return nil }
        if let hit = choices.first(where: { $0.0 == s }) { return hit.1 }
        let names = choices.map(\.0)
        let list = names.count == 2 ? "\(names[0]) or \(names[1])" : names.dropLast().joined(separator: ", ") + " or " + names.last!
        error(at: node, path, "expected \(list), found \"\(s)\"")
        return nil
    }

    /// Any YAML value as a ``Value``, by the YAML 1.2 core schema for plain scalars (null, true/false,
    /// numbers) — except numbers with leading zeros (`01234`), which stay text.
    func value(_ node: YAMLNode) -> Value {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else { return .string(scalar.string) }
            return Self.plainValue(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.map(value))
        case .mapping(let mapping):
            var members: [Value.Member] = []
            for (key, item) in mapping { members.append(Value.Member(key.scalar?.string ?? "", value(item))) }
            return .object(members)
        case .alias:
            return .null
        }
    }

    static func plainValue(_ s: String) -> Value {
        switch s {
        case "", "~", "null": return .null
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
        let leadingZero = digits.count > 1 && digits.hasPrefix("0") && !digits.hasPrefix("0.")
        if !leadingZero, let first = digits.first, first.isASCII, first.isNumber,
            s.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }), let d = Double(s), d.isFinite
        {
            return .number(d)
        }
        return .string(s)
    }

    func isNull(_ node: YAMLNode) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null"].contains(scalar.string)
    }

    /// The 1-based column in the file of UTF-8 offset `offset` inside scalar `node` (one line scalars).
    func column(of offset: Int, in node: YAMLNode) -> (line: Int, column: Int) {
        let mark = node.mark
        var column = (mark?.column ?? 0) + offset
        if case .scalar(let scalar) = node, scalar.style == .singleQuoted || scalar.style == .doubleQuoted { column += 1 }
        return (mark?.line ?? 0, column)
    }

    func describe(_ node: YAMLNode) -> String {
        switch node {
        case .scalar(let scalar): return isNull(node) ? "nothing" : "\"\(scalar.string.prefix(40))\""
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .alias: return "an alias"
        }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The closest name by edit distance, if close enough to be a likely typo.
    static func closest(_ name: String, in candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let d = editDistance(Array(name.utf8), Array(candidate.utf8))
            if d <= max(1, candidate.utf8.count / 3), best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// A mapping's entries in file order.
struct Entries {
    var items: [(key: String, keyNode: YAMLNode, value: YAMLNode)] = []
    subscript(key: String) -> YAMLNode? { items.first { $0.key == key }?.value }
    func has(_ key: String) -> Bool { items.contains { $0.key == key } }
    var keys: [String] { items.map(\.key) }
}

/// Yams' node (the expression language has a `Node` of its own).
typealias YAMLNode = Yams.Node
