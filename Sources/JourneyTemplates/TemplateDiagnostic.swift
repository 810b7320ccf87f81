/// A problem found while compiling a template, at `file:line:col`.
///
/// Lines and columns are 1-based and columns count Unicode scalars, as the rule loader's do, so that
/// `journeyd check` prints template problems exactly like every other problem:
/// `templates/welcome.liquid:3:24: unknown filter "upcse"; did you mean "upcase"?`.
public struct TemplateDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    /// The file the template came from (as given to the compiler; may be empty).
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String
    public var severity: Severity

    public init(file: String, line: Int, column: Int, message: String, severity: Severity = .error) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.severity = severity
    }

    public var description: String {
        let location = file.isEmpty ? "\(line):\(column)" : "\(file):\(line):\(column)"
        return "\(location): \(severity == .warning ? "warning: " : "")\(message)"
    }
}

/// Thrown when a template does not compile: every diagnostic found (at least one error), in source order.
public struct TemplateCompileError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [TemplateDiagnostic]

    public init(diagnostics: [TemplateDiagnostic]) { self.diagnostics = diagnostics }

    public var errors: [TemplateDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Thrown when a render exceeds its ``RenderLimits``, or meets a value Liquid cannot work with
/// (`divided_by: 0`, text compared with `<` to a number, `slice: "x"`): the message is not sent half-made.
///
/// Its text reads `templates/welcome.liquid:4:22: divided_by: division by zero` when the place is known.
public struct TemplateRenderError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// Where the failing markup stands (empty file and line 0 when unknown, as for the limits).
    public var file: String
    public var line: Int
    public var column: Int

    public init(_ message: String, file: String = "", line: Int = 0, column: Int = 0) {
        self.message = message
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        guard line > 0 else { return message }
        return file.isEmpty ? "\(line):\(column): \(message)" : "\(file):\(line):\(column): \(message)"
    }
}
