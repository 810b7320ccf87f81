import ArgumentParser
import Foundation
import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneyStore
import JourneyTemplates

/// `journeyd render`: one template rendered with data given on the command line (or a live user's
/// profile), to preview a message or try a template brought from another tool.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render one Liquid template with JSON data as its top-level variables; print the output.",
        discussion: """
            The data's members are the template's variables, as in standard Liquid: {"user": {...}, "event": {...}} \
            previews a touch, any other names work too. Partials ({% render 'footer' %}, {% include %}) come from \
            --templates: _footer.liquid or footer.liquid (an HTML part tries _footer.html.liquid first).
            With --rules, --user and --state, `user` is that user's live profile from the state database, and \
            dates are shown in the user's time zone.
            Exit 0 with the output on stdout; 1 with every error (file:line:col) on stderr when the template \
            does not compile or render; 65 for unusable data.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case text, html, header
    }

    @Argument(help: "The template file (with --rules, also a template name of the rule directory).", completion: .file())
    var template: String

    @Option(name: .long, help: "A JSON object file of top-level variables; - reads standard input.", completion: .file())
    var data: String?

    @Option(name: .long, help: "Where partials are looked for (default: the template's own directory).", completion: .directory)
    var templates: String?

    @Option(name: .long, help: "How values are escaped: text, html or header (default: html for *.html.* files, else text).")
    var mode: Mode?

    @Option(name: .long, help: "A rule directory: its default time zone, and its templates/ for names and partials.", completion: .directory)
    var rules: String?

    @Option(name: .long, help: "Render with this user's live profile as `user` (needs --state).")
    var user: String?

    @Option(name: .long, help: "The state database to read --user from.", completion: .file())
    var state: String?

    func validate() throws {
        if (user == nil) != (state == nil) { throw ValidationError("--user and --state go together") }
    }

    func run() throws {
        let file = resolvedTemplateFile()
        guard let bytes = FileManager.default.contents(atPath: file), let source = String(validating: bytes, as: UTF8.self)
        else {
            printError("\(file): cannot read the template")
            throw Exit.ioError
        }
        var variables = try readData()
        let settings = rules.map { RuleLoader.loadSettings(directory: $0) } ?? Settings()
        var zone = settings.defaultZone
        if let user, let state {
            guard let profile = try liveProfile(user: user, state: state) else {
                printError("\(state): no user \"\(user)\"")
                throw Exit.dataError
            }
            var traits = profile.traits
            if traits["id"] == nil { traits.set("id", to: .string(profile.id)) }
            variables["user"] = traits
            zone = profile.zone(default: settings.defaultZone)
        }
        let partialsFolder = templates ?? (URL(fileURLWithPath: file).deletingLastPathComponent().path)
        let shownFolder = templates ?? (file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "")
        let mode = self.mode ?? (URL(fileURLWithPath: file).lastPathComponent.contains(".html.") ? .html : .text)
        do {
            let compiled = try LiquidTemplate(
                source.hasPrefix("\u{FEFF}") ? String(source.dropFirst()) : source, mode: templateMode(mode), file: file,
                scope: .open, partials: .directory(partialsFolder, shownAs: shownFolder))
            for warning in compiled.warnings { printError(warning.description) }
            let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
            let output = try compiled.render(TemplateContext(variables: variables, zone: zone, now: now))
            FileHandle.standardOutput.write(Data(output.utf8))
        } catch let error as TemplateCompileError {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw Exit.failure
        } catch let error as TemplateRenderError {
            printError(error.line > 0 ? error.description : "\(file): \(error.description)")
            throw Exit.failure
        }
    }

    /// The template's path: as given, or with --rules a template name (`cart_reminder`) in its templates/.
    private func resolvedTemplateFile() -> String {
        guard let rules, !FileManager.default.fileExists(atPath: template), !template.contains("/") else { return template }
        let folder = rules + "/templates/"
        for candidate in [template, template + ".liquid", template + ".html.liquid"]
        where FileManager.default.fileExists(atPath: folder + candidate) {
            return folder + candidate
        }
        return template
    }

    private func templateMode(_ mode: Mode) -> TemplateMode {
        switch mode {
        case .text: return .text
        case .html: return .html
        case .header: return .header
        }
    }

    /// The members of the --data object (none without --data).
    private func readData() throws -> [String: Value] {
        guard let data else { return [:] }
        let bytes: Data?
        if data == "-" {
            bytes = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            // Through a file handle, so a pipe works too (`--data <(jq … )`).
            bytes = FileHandle(forReadingAtPath: data).flatMap { try? $0.readToEnd() ?? Data() }
        }
        guard let bytes else {
            printError("\(data): cannot read the data")
            throw Exit.ioError
        }
        let value: Value
        do {
            value = try JSONParser().parse(Array(bytes))
        } catch {
            printError("\(data == "-" ? "standard input" : data): \(error)")
            throw Exit.dataError
        }
        guard case .object(let members) = value else {
            printError("\(data == "-" ? "standard input" : data): the data must be a JSON object of variables, not \(value.typeName)")
            throw Exit.dataError
        }
        var variables: [String: Value] = [:]
        for member in members { variables[member.key] = member.value }
        return variables
    }
}

/// The live profile of `user` in the state database at `state`, or nil when it holds no such user.
///
/// The one place `journeyd render` reads the state store: the checkpoint store (DESIGN §6), opened
/// read-only, so a running daemon can share it (SQLite's WAL lets a reader in) and a path with no
/// database is refused rather than created. The profile is the one of the last checkpoint: what the
/// daemon did since (at most a checkpoint interval) is in its event log only.
func liveProfile(user: String, state: String) throws -> UserState? {
    guard FileManager.default.fileExists(atPath: state) else {
        printError("\(state): no state database here")
        throw Exit.ioError
    }
    do {
        return try SQLiteCheckpointStore(path: state, readOnly: true).user(user)
    } catch {
        printError("\(state): \(error)")
        throw Exit.ioError
    }
}
