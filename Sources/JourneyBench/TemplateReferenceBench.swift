import Foundation
import JourneyCore
import JourneyEvents
import JourneyTemplates

/// The templates stage's reference: python-liquid (`bench/liquid_reference.py`) rendering the same text
/// template with the same data in the same run, so the ratio compares like with like.
extension Stages {
    /// Measures journeyd's text part and python-liquid's on the same template and data, checks the two
    /// outputs are the same, and reports both rates and their ratio. Skipped without `--python`, and
    /// with a line saying so when python-liquid is not installed.
    func templateReference(into report: inout Report) throws {
        guard let python else { return }
        let context = Self.cartReminderContext()
        let template = try LiquidTemplate(Self.cartReminderText)
        // python-liquid has no user time zone: it gets the event's time already in the user's zone
        // (written by our own `date` filter), so both print the same local time.
        let local = try LiquidTemplate(#"{{ event.timestamp | date: "%Y-%m-%dT%H:%M:%S%z" }}"#).render(context)
        var event = context.event
        event.set("timestamp", to: .string(local))
        let data: Value = ["user": context.user, "event": event]
        let templateFile = work + "/cart_reminder.liquid"
        let dataFile = work + "/cart_reminder.json"
        try Self.cartReminderText.write(toFile: templateFile, atomically: true, encoding: .utf8)
        try data.jsonText.write(toFile: dataFile, atomically: true, encoding: .utf8)

        // Python renders fewer times (it is slower); each side's rate is its own renders over its own CPU time.
        let pythonRenders = max(events / 100, 2_000)
        let answer = try runPython([root + "/bench/liquid_reference.py", templateFile, dataFile, String(pythonRenders)])
        report.line("### the same text template in python-liquid, same data, same run")
        report.line("")
        guard answer.status == 0, let parsed = try? JSONParser().parse(answer.output),
            let cpu = parsed["cpu_seconds"]?.numberValue, let output = parsed["output"]?.stringValue
        else {
            report.line("- python-liquid reference not run: \(answer.error.trimmingCharacters(in: .whitespacesAndNewlines))")
            report.line("")
            return
        }
        let renders = max(events / 4, 10_000)
        var bytes = 0
        let ours = try measure { for _ in 0..<renders { bytes &+= try template.render(context).utf8.count } }
        let ourRate = Double(renders) / ours.cpu
        let pythonRate = Double(pythonRenders) / cpu
        let same = try template.render(context) == output
        report.line("- journeyd: **\(rate(ourRate)) renders/s per core** (\(renders) renders, \(fmt(ours.cpu)) s CPU)")
        report.line(
            "- python-liquid \(parsed["version"]?.stringValue ?? "?"): **\(rate(pythonRate)) renders/s per core** (\(pythonRenders) renders, \(fmt(cpu)) s CPU)"
        )
        report.line("- **journeyd is \(fmt(ourRate / pythonRate))× python-liquid** (target ≥ 20×); outputs \(same ? "identical" : "DIFFER")")
        report.line("")
    }

    /// Runs the Python interpreter with `arguments`; its standard output and error, through files.
    private func runPython(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let out = work + "/python.out"
        let err = work + "/python.err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python ?? "python3"] + arguments
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        )
    }
}
