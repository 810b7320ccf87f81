import Foundation
import JourneyCore

/// Reads one channel's options (a `channels.yaml` entry without `name` and `type`), collecting every
/// problem with its key path instead of stopping at the first. An adapter's `configure` asks for each key
/// it knows; whatever it never asked for is reported by ``finish()`` as an unknown option, with a
/// did-you-mean.
///
/// Secrets are never inline: a secret option `token` is written `token_file: PATH` or
/// `token_credential: NAME` (a file in `$CREDENTIALS_DIRECTORY`, as systemd's `LoadCredential=` provides).
public final class ChannelOptions {
    public let channel: String
    /// The key path of these options: `channels[2]` (or `channels[2].retry` for a nested object).
    public let path: String
    public let context: ChannelContext
    private let members: [Value.Member]
    private var asked: [String] = []
    private var nested: [ChannelOptions] = []
    private let root: ChannelOptions?
    private var collected: [ChannelProblem] = []

    public init(channel: String, path: String, options: Value, context: ChannelContext) {
        self.channel = channel
        self.path = path
        self.context = context
        self.members = options.members ?? []
        self.root = nil
        if !options.isNull, options.members == nil {
            collected.append(ChannelProblem(channel: channel, path: path, message: "expected a mapping of options, found a \(options.typeName)"))
        }
    }

    private init(parent: ChannelOptions, key: String, members: [Value.Member]) {
        self.channel = parent.channel
        self.path = "\(parent.path).\(key)"
        self.context = parent.context
        self.members = members
        self.root = parent.root ?? parent
    }

    /// Every problem reported so far (here and in nested options).
    public var problems: [ChannelProblem] { (root ?? self).collected }

    /// Whether any problem was reported.
    public var hasProblems: Bool { !problems.isEmpty }

    /// Records a problem at `key` (a key of these options, or "" for the options themselves).
    public func problem(_ key: String, _ message: String) {
        let at = key.isEmpty ? path : "\(path).\(key)"
        (root ?? self).collected.append(ChannelProblem(channel: channel, path: at, message: message))
    }

    /// Whether `key` is present (and marks it as known).
    public func has(_ key: String) -> Bool {
        asked.append(key)
        return members.contains { $0.key == key }
    }

    private func raw(_ key: String) -> Value? {
        asked.append(key)
        return members.first { $0.key == key }?.value
    }

    // MARK: - Scalars

    public func string(_ key: String, required: Bool = false) -> String? {
        guard let value = raw(key), !value.isNull else {
            if required { problem(key, "missing (required)") }
            return nil
        }
        switch value {
        case .string(let s):
            if s.isEmpty { problem(key, "must not be empty") }
            return s.isEmpty ? nil : s
        case .number(let d) where d == d.rounded() && abs(d) < 1e15:
            return String(Int64(d))
        default:
            problem(key, "expected text, found a \(value.typeName)")
            return nil
        }
    }

    public func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let value = raw(key), !value.isNull else { return fallback }
        guard case .bool(let b) = value else {
            problem(key, "expected true or false, found \(Self.shown(value))")
            return fallback
        }
        return b
    }

    public func integer(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard let value = raw(key), !value.isNull else { return fallback }
        guard case .number(let d) = value, d == d.rounded(), let n = Int(exactly: d) else {
            problem(key, "expected a whole number, found \(Self.shown(value))")
            return fallback
        }
        guard range.contains(n) else {
            problem(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(n)")
            return fallback
        }
        return n
    }

    public func number(_ key: String, default fallback: Double, range: ClosedRange<Double>) -> Double {
        guard let value = raw(key), !value.isNull else { return fallback }
        guard case .number(let d) = value, range.contains(d) else {
            problem(key, "expected a number from \(range.lowerBound) to \(range.upperBound), found \(Self.shown(value))")
            return fallback
        }
        return d
    }

    /// A duration written `30s`, `5m`, `1h30m`, `500ms` (or a bare number of seconds).
    public func duration(_ key: String, default fallback: TimeSpan, range: ClosedRange<TimeSpan>? = nil) -> TimeSpan {
        guard let value = raw(key), !value.isNull else { return fallback }
        let span: TimeSpan?
        switch value {
        case .string(let s): span = TimeSpan(parsing: s)
        case .number(let d) where d >= 0 && d < 1e12: span = .milliseconds(Int64((d * 1000).rounded()))
        default: span = nil
        }
        guard let span else {
            problem(key, "expected a duration such as 30s, 5m or 1h, found \(Self.shown(value))")
            return fallback
        }
        if let range, !range.contains(span) {
            problem(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(span)")
            return fallback
        }
        return span
    }

    /// One of `choices`.
    public func choice(_ key: String, _ choices: [String], default fallback: String) -> String {
        guard let value = raw(key), !value.isNull else { return fallback }
        guard case .string(let s) = value, choices.contains(s) else {
            let text = value.stringValue ?? Self.shown(value)
            problem(key, "expected one of \(choices.joined(separator: ", ")), found \(Self.shown(value))\(Suggestions.didYouMean(text, in: choices))")
            return fallback
        }
        return s
    }

    /// A list of texts (a single text counts as a list of one).
    public func strings(_ key: String) -> [String]? {
        guard let value = raw(key), !value.isNull else { return nil }
        switch value {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                switch item {
                case .string(let s): out.append(s)
                case .number(let d) where d == d.rounded() && abs(d) < 1e15: out.append(String(Int64(d)))
                default: problem("\(key)[\(i)]", "expected text, found a \(item.typeName)")
                }
            }
            return out
        default:
            problem(key, "expected a list of texts, found a \(value.typeName)")
            return nil
        }
    }

    /// A mapping of texts, in order (`headers: {X-Team: growth}`).
    public func stringPairs(_ key: String) -> [(String, String)]? {
        guard let value = raw(key), !value.isNull else { return nil }
        guard let members = value.members else {
            problem(key, "expected a mapping, found a \(value.typeName)")
            return nil
        }
        var out: [(String, String)] = []
        for member in members {
            switch member.value {
            case .string(let s): out.append((member.key, s))
            case .number(let d) where d == d.rounded() && abs(d) < 1e15: out.append((member.key, String(Int64(d))))
            case .bool(let b): out.append((member.key, b ? "true" : "false"))
            default: problem("\(key).\(member.key)", "expected text, found a \(member.value.typeName)")
            }
        }
        return out
    }

    /// Nested options (`retry: {max_attempts: 5}`); nil when absent. Their unknown keys are reported by
    /// the root's ``finish()``.
    public func object(_ key: String) -> ChannelOptions? {
        guard let value = raw(key), !value.isNull else { return nil }
        guard let members = value.members else {
            problem(key, "expected a mapping, found a \(value.typeName)")
            return nil
        }
        let child = ChannelOptions(parent: self, key: key, members: members)
        nested.append(child)
        return child
    }

    /// The raw value of `key` (for options with several shapes).
    public func value(_ key: String) -> Value? { raw(key) }

    /// An absolute URL with an `http` or `https` scheme, a host and no user or password in it.
    public func url(_ key: String, required: Bool = false) -> URL? {
        guard let text = string(key, required: required) else { return nil }
        return checkedURL(text, key: key, shown: text)
    }

    /// Validates a URL; `shown` is what error messages may print (nothing when the URL is a secret).
    func checkedURL(_ text: String, key: String, shown: String?) -> URL? {
        let quoted = shown.map { " (\($0))" } ?? ""
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            problem(key, "expected an absolute http or https URL\(quoted)")
            return nil
        }
        guard scheme == "http" || scheme == "https" else {
            problem(key, "expected an http or https URL, found scheme \"\(scheme)\"")
            return nil
        }
        guard url.user == nil, url.password == nil else {
            problem(key, "a URL must not carry a user or password; put credentials in a secret option")
            return nil
        }
        return url
    }

    /// A file the channel reads when it opens (a CA bundle): its path, relative to the rules directory
    /// unless absolute, checked readable when the context reads files at all.
    public func readableFile(_ key: String) -> String? {
        guard let text = string(key) else { return nil }
        let path = text.hasPrefix("/") ? text : (context.configurationDirectory.map { $0 + "/" } ?? "") + text
        if context.readSecrets, !FileManager.default.isReadableFile(atPath: path) {
            problem(key, "\(path) is not a readable file")
        }
        return path
    }

    // MARK: - Secrets

    /// The secret option `name`, given as `name_file: PATH` or `name_credential: NAME`. An inline `name:`
    /// is refused (without echoing it). When the context does not read secrets (`journeyd check`), returns
    /// a placeholder after checking the reference's shape.
    public func secret(_ name: String, required: Bool) -> Secret? {
        let inline = raw(name)
        let file = string("\(name)_file")
        let credential = string("\(name)_credential")
        let how = "\(name)_file: PATH or \(name)_credential: NAME (a systemd credential)"
        if let inline, !inline.isNull {
            problem(name, "secrets are not accepted inline; use \(how)")
            return nil
        }
        switch (file, credential) {
        case (nil, nil):
            if required { problem("", "missing \(name): give \(how)") }
            return nil
        case (.some, .some):
            problem("\(name)_credential", "give either \(name)_file or \(name)_credential, not both")
            return nil
        case (let file?, nil):
            let full = file.hasPrefix("/") ? file : (context.configurationDirectory.map { $0 + "/" } ?? "") + file
            return readSecret(at: full, key: "\(name)_file", shown: full)
        case (nil, let credential?):
            guard !credential.contains("/"), credential != ".", credential != ".." else {
                problem("\(name)_credential", "a credential name is a file name in $CREDENTIALS_DIRECTORY, without \"/\"")
                return nil
            }
            guard let directory = context.credentialsDirectory else {
                if !context.readSecrets { return Secret.unread }
                problem("\(name)_credential", "$CREDENTIALS_DIRECTORY is not set (systemd sets it for LoadCredential=\(credential):…)")
                return nil
            }
            return readSecret(at: directory + "/" + credential, key: "\(name)_credential", shown: "credential \"\(credential)\"")
        }
    }

    private func readSecret(at path: String, key: String, shown: String) -> Secret? {
        guard context.readSecrets else { return Secret.unread }
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "is not readable" : "does not exist"
            problem(key, "\(shown) \(reason)")
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            problem(key, "\(shown) is not UTF-8 text")
            return nil
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            problem(key, "\(shown) is empty")
            return nil
        }
        return Secret(trimmed)
    }

    // MARK: - Finishing

    /// Reports every key no one asked for, with a did-you-mean among the known ones; returns all problems.
    @discardableResult
    public func finish() -> [ChannelProblem] {
        let known = Set(asked)
        for member in members where !known.contains(member.key) {
            let hint = Suggestions.didYouMean(member.key, in: known)
            let list = known.sorted().joined(separator: ", ")
            problem(member.key, "unknown option\(hint) (known here: \(list))")
        }
        for child in nested { child.finish() }
        return problems
    }

    static func shown(_ value: Value) -> String {
        switch value {
        case .string(let s): return "\"\(s)\""
        case .number, .bool, .null: return value.jsonText
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }
}

extension Secret {
    /// What `journeyd check` gets instead of a secret it was told not to read.
    static let unread = Secret("")
}
