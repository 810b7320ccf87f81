/// One problem found while loading rules, located at `file:line:col` with the key path inside the file.
///
/// Its text reads `journeys/cart.yaml:12:5: steps[3].send: unknown channel "emial" (known: email, sms)`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible, Comparable {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }
    /// Path relative to the rule directory.
    public var file: String
    /// 1-based; 0 when the problem concerns the whole file.
    public var line: Int
    public var column: Int
    /// Key path inside the file: `steps[3].send`, `trigger.where`; empty for file-level problems.
    public var keyPath: String
    public var message: String
    public var severity: Severity

    public init(file: String, line: Int, column: Int, keyPath: String, message: String, severity: Severity = .error) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.severity = severity
    }

    public var description: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        let prefix = severity == .warning ? "warning: " : ""
        return keyPath.isEmpty ? "\(location): \(prefix)\(message)" : "\(location): \(prefix)\(keyPath): \(message)"
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.file, a.line, a.column, a.keyPath, a.message) < (b.file, b.line, b.column, b.keyPath, b.message)
    }
}

/// Thrown when a rule directory does not load; carries every problem found, sorted by location.
public struct RuleLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics.sorted() }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
