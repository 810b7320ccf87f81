import Foundation
import JourneyCore
import JourneyEngine
import JourneyEvents
import JourneyRules
import JourneySimulation
import JourneyTesting
import Testing

/// `replay --report`'s page rendered in headless Chromium (Debian's `chromium`, which CI installs): a
/// screenshot is made, the SVG charts are there, and the page's numbers equal a funnel, an uplift and stage
/// counts the test works out itself from the events it wrote and the touches the replay produced.
@Suite("Report page in headless Chromium")
struct ReportPageTests {
    static let journey = """
        journey: welcome_offer
        description: A welcome offer, measured against a holdout.
        trigger: { event: signed_up }
        goal: { event: purchase, within: 7d }
        steps:
          - id: holdout
            split:
              - { name: offer, percent: 60 }
              - { name: control, percent: 40, holdout: true }
          - id: offer
            send: email
            template: t
        """
    static let settings = """
        stages:
          - { name: visitor }
          - { name: customer, when: 'count("purchase") >= 1' }
        """

    struct Written {
        var user: String
        var signedUp: Timestamp
        var purchases: [Timestamp]
    }

    /// 300 users sign up over three days; some buy within the week, some after it, some twice, some never.
    static func events(start: Timestamp) -> (lines: [String], users: [Written]) {
        var lines: [(Timestamp, String)] = []
        var users: [Written] = []
        for i in 0..<300 {
            let user = "u\(i)"
            let signedUp = start + .minutes(Int64(i) * 14)
            var purchases: [Timestamp] = []
            if i % 3 == 0 { purchases.append(signedUp + .hours(Int64(20 + i % 50))) }
            if i % 7 == 1 { purchases.append(signedUp + .days(9)) }
            if i % 11 == 2 { purchases.append(signedUp + .days(2)) }
            users.append(Written(user: user, signedUp: signedUp, purchases: purchases))
            lines.append((signedUp, #"{"type":"track","event":"signed_up","userId":"\#(user)","messageId":"s\#(i)","timestamp":"\#(signedUp.iso8601)"}"#))
            for (k, at) in purchases.enumerated() {
                lines.append((at, #"{"type":"track","event":"purchase","userId":"\#(user)","messageId":"p\#(i)-\#(k)","timestamp":"\#(at.iso8601)","properties":{"price":30}}"#))
            }
        }
        return (lines.sorted { $0.0 < $1.0 }.map(\.1), users)
    }

    @Test(.timeLimit(.minutes(3))) func theRenderedPageShowsTheFiguresWorkedOutFromTheEventsAndTouches() async throws {
        let directory = try TemporaryDirectory(prefix: "journeyd-report")
        defer { directory.remove() }
        let rules = try RuleFixtures.load(journeys: ["welcome_offer": Self.journey], templates: ["t"], settings: Self.settings)
        let start = Timestamp(iso8601: "2025-05-05T08:00:00Z")!
        let (lines, users) = Self.events(start: start)
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory.file("events.jsonl"), atomically: false, encoding: .utf8)
        let sink = try OutputFile(path: directory.file("touches.jsonl"))
        let report = try Replay.run(path: directory.file("events.jsonl"), rules: rules, touches: sink, reject: { Issue.record("rejected: \($0)") })
        try sink.close()
        let summary = ReportSummary(figures: report.figures, rules: rules, outbox: nil, source: "the test")
        try ReportPage.html(summary, generatedAt: start).write(toFile: directory.file("report.html"), atomically: false, encoding: .utf8)

        // Worked out here, from what was written and what was touched.
        let touches = try String(contentsOfFile: directory.file("touches.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONParser().parse(String($0)) }
        let touched = Set(touches.compactMap { $0["user"]?.stringValue })
        func converted(_ u: Written) -> Bool { u.purchases.contains { $0 > u.signedUp && $0 <= u.signedUp + .days(7) } }
        let treatment = users.filter { touched.contains($0.user) }
        let holdout = users.filter { !touched.contains($0.user) }
        let (t, tc) = (treatment.count, treatment.filter(converted).count)
        let (c, cc) = (holdout.count, holdout.filter(converted).count)
        #expect(t > 100 && c > 80, "both groups are big enough to tell: \(t) and \(c)")
        let customers = users.filter { !$0.purchases.isEmpty }.count
        var perDay: [String: Int] = [:]
        for touch in touches { perDay[String(touch["at"]!.stringValue!.prefix(10)), default: 0] += 1 }

        let dom = try await Self.chromium(["--dump-dom", "file://" + directory.file("report.html")], in: directory)
        let page = RenderedPage(dom: dom)
        #expect(page["welcome_offer.entered"] == "\(users.count)")
        #expect(page["welcome_offer.reached.holdout"] == "\(users.count)")
        #expect(page["welcome_offer.reached.offer"] == "\(t)")
        #expect(page["welcome_offer.touched"] == "\(touched.count)")
        #expect(page["welcome_offer.converted"] == "\(tc + cc)")
        #expect(page["welcome_offer.treatment.users"] == "\(t)")
        #expect(page["welcome_offer.treatment.converted"] == "\(tc)")
        #expect(page["welcome_offer.holdout.users"] == "\(c)")
        #expect(page["welcome_offer.holdout.converted"] == "\(cc)")
        let uplift = Double(tc) / Double(t) - Double(cc) / Double(c)
        let (lower, upper) = Self.newcombe(tc, t, cc, c)
        #expect(abs((page.value("welcome_offer.uplift") ?? .nan) - uplift) < 1e-9)
        #expect(abs((page.value("welcome_offer.uplift.lower") ?? .nan) - lower) < 1e-9)
        #expect(abs((page.value("welcome_offer.uplift.upper") ?? .nan) - upper) < 1e-9)
        let shown = (uplift >= 0 ? "+" : "−") + String(format: "%.1f", abs(uplift) * 100) + " pp"
        #expect(page["welcome_offer.uplift"] == shown)
        #expect(page["stage.customer"] == "\(customers)")
        #expect(page["stage.visitor"] == "\(users.count - customers)")
        #expect(page["transition.(none).visitor"] == "\(users.count)")
        #expect(page["transition.visitor.customer"] == "\(customers)")
        for (day, n) in perDay { #expect(page["touches.email.\(day)"] == "\(n)", "touches on \(day)") }
        for chart in ["funnel", "interval", "daily", "stages"] {
            #expect(dom.contains("<svg class=\"chart \(chart)\""), "the \(chart) chart")
        }
        #expect(!dom.contains("<script"))
        #expect(page["welcome_offer.verdict"]?.hasPrefix("not comparable") == false, "treatment enrollments end after the send and are still watched for the goal window")

        let screenshot = directory.file("report.png")
        _ = try await Self.chromium(["--screenshot=" + screenshot, "--window-size=1100,1800", "file://" + directory.file("report.html")], in: directory)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "a PNG of \(png.count) bytes")
    }

    /// Newcombe's hybrid score interval, written out here from the paper (not the report's code).
    static func newcombe(_ x1: Int, _ n1: Int, _ x2: Int, _ n2: Int) -> (Double, Double) {
        let z = 1.959963984540054
        func wilson(_ x: Int, _ n: Int) -> (Double, Double, Double) {
            let p = Double(x) / Double(n), nn = Double(n)
            let half = z * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
            let centre = p + z * z / (2 * nn)
            return (p, (centre - half) / (1 + z * z / nn), (centre + half) / (1 + z * z / nn))
        }
        let (p1, l1, u1) = wilson(x1, n1), (p2, l2, u2) = wilson(x2, n2)
        let d = p1 - p2
        return (d - ((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2)).squareRoot(), d + ((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2)).squareRoot())
    }

    /// Runs headless Chromium with a profile of its own (removed with `directory`); its standard output.
    static func chromium(_ arguments: [String], in directory: TemporaryDirectory) async throws -> String {
        let (status, output) = try await ChildProcess.run(
            "/usr/bin/chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + directory.file("profile"), "--hide-scrollbars"] + arguments,
            environment: ["HOME": directory.path, "PATH": "/usr/bin:/bin"])
        #expect(status == 0, "chromium exited \(status): \(output.suffix(2000))")
        return output
    }
}
