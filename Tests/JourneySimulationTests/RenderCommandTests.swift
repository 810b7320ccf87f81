import Foundation
import JourneyCore
import JourneyTesting
import Testing

/// The real `journeyd` binary, built next to the test bundle by `swift build --build-tests`.
private let journeydBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("journeyd").path

/// What one run of `journeyd` gave.
struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A scratch folder with the files a test writes; removed by ``remove()``.
struct Scratch {
    let directory: TemporaryDirectory
    var root: String { directory.path }

    init() throws { directory = try TemporaryDirectory(prefix: "journeyd-render") }

    /// Writes `text` to `name` under the folder (making folders as needed); returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = root + "/" + name
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func remove() { directory.remove() }

    /// Runs `journeyd arguments` in the folder to its exit, with `input` on its standard input; its
    /// output goes through files, so no pipe can fill up.
    func journeyd(_ arguments: [String], input: String = "") async throws -> CommandResult {
        let out = root + "/.stdout-\(UUID().uuidString)"
        let err = root + "/.stderr-\(UUID().uuidString)"
        let inputFile = root + "/.stdin-\(UUID().uuidString)"
        defer { for path in [out, err, inputFile] { try? FileManager.default.removeItem(atPath: path) } }
        try input.write(toFile: inputFile, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            journeydBinary, arguments, output: out, errors: err, input: FileHandle(forReadingAtPath: inputFile), directory: root)
        let status = await child.exit()
        return CommandResult(
            status: status, stdout: try String(contentsOfFile: out, encoding: .utf8),
            stderr: try String(contentsOfFile: err, encoding: .utf8))
    }
}

/// `journeyd render`, end to end through the real binary: output, exit codes, errors at
/// `file:line:col`, partials, and a live user's profile from a state database.
@Suite("journeyd render")
struct RenderCommandTests {
    @Test func rendersATemplateWithTheDataAsItsTopLevelVariables() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("order.liquid", "Hi {{ user.first_name }}! {{ shop.name | upcase }}:{% for i in items %} {{ i }}{% endfor %}\n")
        try scratch.write("data.json", #"{"user": {"first_name": "Ada"}, "shop": {"name": "Lumen"}, "items": [1, 2, 3]}"#)

        let result = try await scratch.journeyd(["render", "order.liquid", "--data", "data.json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Hi Ada! LUMEN: 1 2 3\n")
        #expect(result.stderr.isEmpty)

        let piped = try await scratch.journeyd(["render", "order.liquid", "--data", "-"], input: #"{"shop": {"name": "x"}}"#)
        #expect(piped.status == 0)
        #expect(piped.stdout == "Hi ! X:\n")
    }

    @Test func partialsComeFromTheTemplatesFolderAndRenderInTheirOwnScope() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("emails/welcome.liquid", "{% assign secret = 's' %}{% render 'footer', name: shop.name %}|{% include 'sign' %}{{ signed }}")
        try scratch.write("emails/_footer.liquid", "-- {{ name }}{{ secret }}")
        try scratch.write("emails/sign.liquid", "{% assign signed = '!' %}{{ secret }}")
        try scratch.write("shared/_footer.liquid", "shared footer for {{ name }}")
        try scratch.write("shared/_sign.liquid", "")
        try scratch.write("data.json", #"{"shop": {"name": "Lumen"}}"#)

        let local = try await scratch.journeyd(["render", "emails/welcome.liquid", "--data", "data.json"])
        #expect(local.status == 0, "\(local.stderr)")
        #expect(local.stdout == "-- Lumen|s!")
        let shared = try await scratch.journeyd(
            ["render", "emails/welcome.liquid", "--data", "data.json", "--templates", "shared"])
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(shared.stdout == "shared footer for Lumen|")
    }

    @Test func everyErrorIsReportedAtItsFileLineAndColumnWithExitOne() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("bad.liquid", "Hello\n{{ user.name | upcse }} {% render 'missing' %}\n{% render 'broken' %}")
        try scratch.write("_broken.liquid", "{% if x %}")
        let result = try await scratch.journeyd(["render", "bad.liquid"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("bad.liquid:2:16: unknown filter \"upcse\"; did you mean \"upcase\"?"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("bad.liquid:2:35: no partial 'missing'") }, "\(lines)")
        #expect(lines.contains("_broken.liquid:1:1: `{% if %}` is not closed: expected `{% endif %}`"), "\(lines)")

        try scratch.write("divide.liquid", "{% assign n = 0 %}\n  {{ 10 | divided_by: n }}")
        let failed = try await scratch.journeyd(["render", "divide.liquid"])
        #expect(failed.status == 1)
        #expect(failed.stderr == "divide.liquid:2:11: `divided_by`: division by zero\n")
    }

    @Test func theModeComesFromTheFileNameOrTheOption() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("note.html.liquid", #"<p title="{{ t }}">{{ t }}</p>"#)
        try scratch.write("data.json", #"{"t": "<b>\"Hi\"\nthere</b>"}"#)
        let html = try await scratch.journeyd(["render", "note.html.liquid", "--data", "data.json"])
        #expect(html.stdout == "<p title=\"&lt;b&gt;&quot;Hi&quot;\nthere&lt;/b&gt;\">&lt;b&gt;&quot;Hi&quot;\nthere&lt;/b&gt;</p>")
        let text = try await scratch.journeyd(["render", "note.html.liquid", "--data", "data.json", "--mode", "text"])
        #expect(text.stdout == "<p title=\"<b>\"Hi\"\nthere</b>\"><b>\"Hi\"\nthere</b></p>")
        try scratch.write("subject.liquid", "Hi {{ t }}  ")
        let header = try await scratch.journeyd(["render", "subject.liquid", "--data", "data.json", "--mode", "header"])
        #expect(header.stdout == "Hi <b>\"Hi\" there</b>")
    }

    @Test func dataThatIsNotAnObjectIsRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("t.liquid", "{{ x }}")
        try scratch.write("list.json", "[1, 2]")
        try scratch.write("broken.json", "{\"x\": ")
        let list = try await scratch.journeyd(["render", "t.liquid", "--data", "list.json"])
        #expect(list.status == 65)
        #expect(list.stderr.contains("list.json: the data must be a JSON object"))
        let broken = try await scratch.journeyd(["render", "t.liquid", "--data", "broken.json"])
        #expect(broken.status == 65)
    }

    @Test func rendersWithALiveUsersProfileFromTheStateDatabase() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("rules/journeyd.yaml", "timezone: UTC\n")
        try scratch.write("rules/channels.yaml", "channels:\n  - { name: email, type: file, path: touches.jsonl }\n")
        try scratch.write(
            "rules/journeys/welcome.yaml", "journey: welcome\ntrigger: { event: signup }\nsteps:\n  - send: email\n    template: welcome\n")
        try scratch.write(
            "rules/templates/welcome.liquid",
            "Hi {{ user.first_name }} ({{ user.id }}), {{ \"2025-01-06T00:30:00Z\" | date: \"%H:%M\" }} your time. {{ event.event }}\n")
        // The profile as the daemon keeps it: an identify through its spool, run to the end on event time.
        try scratch.write(
            "staging",
            #"{"type":"identify","userId":"u1","traits":{"first_name":"Grace","timezone":"Asia/Shanghai"},"messageId":"i1","timestamp":"2025-01-01T00:00:00Z"}"#
                + "\n")
        try FileManager.default.createDirectory(atPath: scratch.root + "/spool/incoming", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: scratch.root + "/staging", toPath: scratch.root + "/spool/incoming/0001.jsonl")
        let daemon = try await scratch.journeyd([
            "run", "--rules", "rules", "--state", "state/state.sqlite", "--spool", "spool", "--clock", "event", "--until",
            "2025-01-02T00:00:00Z",
        ])
        try #require(daemon.status == 0, "\(daemon.stderr)")
        let state = "state/state.sqlite"
        try scratch.write("event.json", #"{"event": {"event": "signup"}, "user": {"first_name": "not this one"}}"#)

        let result = try await scratch.journeyd([
            "render", "welcome", "--rules", "rules", "--user", "u1", "--state", state, "--data", "event.json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Hi Grace (u1), 08:30 your time. signup\n")

        let unknown = try await scratch.journeyd(["render", "welcome", "--rules", "rules", "--user", "u2", "--state", state])
        #expect(unknown.status == 65)
        #expect(unknown.stderr.contains("no user \"u2\""))
        let noDatabase = try await scratch.journeyd(["render", "welcome", "--rules", "rules", "--user", "u1", "--state", "state/nope.sqlite"])
        #expect(noDatabase.status != 0)
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/state/nope.sqlite"), "render must not create a database")
    }

    @Test func checkReportsAMissingAndACyclicPartialAtTheirTags() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("rules/channels.yaml", "channels:\n  - { name: email, type: log }\n")
        try scratch.write(
            "rules/journeys/welcome.yaml", "journey: welcome\ntrigger: { event: signup }\nsteps:\n  - send: email\n    template: welcome\n")
        try scratch.write("rules/templates/welcome.liquid", "Subject: Hi\n\n{% render 'header' %}\n{% render 'footr' %}\n")
        try scratch.write("rules/templates/_header.liquid", "{% include 'logo' %}")
        try scratch.write("rules/templates/_logo.liquid", "Logo {% include 'header' %}")
        try scratch.write("rules/templates/_footer.liquid", "--")

        let result = try await scratch.journeyd(["check", "rules"])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("templates/_logo.liquid:1:17: partial 'header' includes itself: 'header' → 'logo' → 'header'"), "\(lines)")
        #expect(
            lines.contains(
                "templates/welcome.liquid:4:11: no partial 'footr' (looked for templates/_footr.liquid or templates/footr.liquid); did you mean \"footer\"?"
            ), "\(lines)")
    }
}
