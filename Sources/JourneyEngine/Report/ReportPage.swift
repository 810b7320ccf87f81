import JourneyCore

/// `journeyd report`'s page: one self-contained HTML file — no script, no network, charts as inline SVG,
/// a print stylesheet — from a ``ReportSummary``. Every figure carries `data-figure="…"` so a test (or
/// a scraper) finds it.
public enum ReportPage {
    public static func html(_ s: ReportSummary, generatedAt: Timestamp) -> String {
        var h = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>journeyd report</title>
            <style>\(style)</style></head><body>
            <header><h1>journeyd report</h1>
            <p class="meta">Figures from \(esc(s.source))
            """
        if let p = s.period { h += " · effects from \(esc(p.first.iso8601)) to \(esc(p.last.iso8601))" }
        h += " · generated \(esc(generatedAt.iso8601))</p></header>\n"
        for row in s.journeys { h += journey(row) }
        h += touches(s)
        h += deliveries(s)
        h += stages(s)
        h += "<footer><p>Conversion: the journey's goal within its window from entry, however the enrollment ended "
        h += "(treatment and holdout enrollments are both watched for the whole window). Uplift: treatment minus holdout conversion, "
        h += "95 % interval by \(esc(UpliftInterval.method)); below \(UpliftInterval.minimumGroup) users in a group the report says "
        h += "it cannot tell. Duplicate events ignored: <span data-figure=\"duplicates\">\(s.duplicates)</span>.</p></footer>\n"
        return h + "</body></html>\n"
    }

    static func journey(_ r: ReportSummary.JourneyRow) -> String {
        let id = r.id
        var h = "<section class=\"journey\" id=\"journey-\(esc(id))\"><h2>\(esc(id))</h2>"
        if !r.description.isEmpty { h += "<p class=\"meta\">\(esc(r.description))</p>" }
        var bars: [(String, Int)] = [("entered", r.entered)]
        bars += r.steps.map { ("reached \($0.id)", $0.reached) }
        bars += [("touched", r.touched), ("converted", r.converted)]
        h += ReportCharts.bars(bars, title: "Funnel of \(id)", cssClass: "funnel")
        h += "<table><thead><tr><th>stage of the funnel</th><th class=\"n\">count</th><th class=\"n\">of entered</th></tr></thead><tbody>"
        func line(_ label: String, _ key: String, _ n: Int) {
            h += "<tr><td>\(esc(label))</td><td class=\"n\" data-figure=\"\(esc(id)).\(esc(key))\">\(n)</td>"
            h += "<td class=\"n\">\(r.entered > 0 ? percent(Double(n) / Double(r.entered)) : "–")</td></tr>"
        }
        line("entered", "entered", r.entered)
        for step in r.steps { line("reached \(step.id)", "reached.\(step.id)", step.reached) }
        line("touched", "touched", r.touched)
        line(r.goal.isEmpty ? "converted (no goal)" : "converted: \(r.goal)", "converted", r.converted)
        h += "</tbody></table>"
        h += uplift(r)
        h += "<h3>Held back</h3><table><tbody>"
        for (label, key, n) in [
            ("dropped by a cap", "capped", r.capped), ("deferred by quiet hours", "deferred_quiet_hours", r.deferredQuietHours),
            ("deferred by a cap", "deferred_cap", r.deferredCap), ("not sent: no consent (unsubscribed)", "suppressed", r.suppressed),
            ("skipped: timer too late", "skipped_late", r.skippedLate),
        ] {
            h += "<tr><td>\(label)</td><td class=\"n\" data-figure=\"\(esc(id)).\(key)\">\(n)</td></tr>"
        }
        h += "</tbody></table>"
        if !r.exited.isEmpty {
            h += "<p class=\"meta\">Exits: " + r.exited.map { "\(esc($0.reason)) <span data-figure=\"\(esc(id)).exited.\(esc($0.reason))\">\($0.count)</span>" }.joined(separator: " · ") + "</p>"
        }
        return h + "</section>\n"
    }

    static func uplift(_ r: ReportSummary.JourneyRow) -> String {
        guard let u = r.uplift else { return "<p class=\"meta\">No holdout: this journey's uplift cannot be measured (add a split arm with <code>holdout: true</code>).</p>" }
        let id = esc(r.id)
        var h = "<h3>Treatment against holdout</h3><table><thead><tr><th>group</th><th class=\"n\">users</th><th class=\"n\">converted</th><th class=\"n\">rate</th></tr></thead><tbody>"
        for (name, p) in [("treatment", u.treatment), ("holdout", u.holdout)] {
            h += "<tr><td>\(name)</td><td class=\"n\" data-figure=\"\(id).\(name).users\">\(p.total)</td>"
            h += "<td class=\"n\" data-figure=\"\(id).\(name).converted\">\(p.successes)</td>"
            h += "<td class=\"n\" data-figure=\"\(id).\(name).rate\" data-value=\"\(p.rate)\">\(percent(p.rate))</td></tr>"
        }
        h += "</tbody></table>"
        h += "<p class=\"uplift\">Uplift <strong data-figure=\"\(id).uplift\" data-value=\"\(u.uplift)\">\(points(u.uplift))</strong>, "
        h += "95 % interval <span data-figure=\"\(id).uplift.lower\" data-value=\"\(u.lower)\">\(points(u.lower))</span> to "
        h += "<span data-figure=\"\(id).uplift.upper\" data-value=\"\(u.upper)\">\(points(u.upper))</span> "
        h += "(\(esc(UpliftInterval.method))): <em data-figure=\"\(id).verdict\">\(esc(r.caveat ?? u.verdict))</em>.</p>"
        h += ReportCharts.interval(u, title: "Uplift of \(r.id) with its 95 % interval")
        return h
    }

    static func touches(_ s: ReportSummary) -> String {
        var h = "<section><h2>Touches per channel per day (UTC)</h2>"
        guard !s.touchesPerDay.isEmpty else { return h + "<p class=\"meta\">No touches.</p></section>\n" }
        h += ReportCharts.daily(s.touchesPerDay)
        h += "<table><thead><tr><th>channel</th><th>day</th><th class=\"n\">touches</th></tr></thead><tbody>"
        for channel in s.touchesPerDay {
            for day in channel.days {
                h += "<tr><td>\(esc(channel.channel))</td><td>\(day.day)</td><td class=\"n\" data-figure=\"touches.\(esc(channel.channel)).\(day.day)\">\(day.count)</td></tr>"
            }
        }
        return h + "</tbody></table></section>\n"
    }

    static func deliveries(_ s: ReportSummary) -> String {
        var h = "<section><h2>Deliveries (the outbox)</h2>"
        guard let channels = s.deliveries, let totals = s.deliveriesByState else {
            return h + "<p class=\"meta\">A back-test sends nothing: no deliveries.</p></section>\n"
        }
        h += ReportCharts.bars(totals.map { ($0.state, $0.count) }, title: "Touches by delivery state", cssClass: "deliveries")
        h += "<table><thead><tr><th>channel</th>" + totals.map { "<th class=\"n\">\(esc($0.state))</th>" }.joined() + "</tr></thead><tbody>"
        for row in channels {
            h += "<tr><td>\(esc(row.channel))</td>"
                + row.states.map { "<td class=\"n\" data-figure=\"deliveries.\(esc(row.channel)).\($0.state)\">\($0.count)</td>" }.joined() + "</tr>"
        }
        h += "<tr><td><strong>all</strong></td>" + totals.map { "<td class=\"n\" data-figure=\"deliveries.\($0.state)\">\($0.count)</td>" }.joined() + "</tr>"
        return h + "</tbody></table><p class=\"meta\">Final states (sent, dead_letter, in_doubt) are counted since the state began; "
            + "pending, attempting and retry are the outbox now.</p></section>\n"
    }

    static func stages(_ s: ReportSummary) -> String {
        var h = "<section><h2>Lifecycle stages</h2>"
        guard !s.stages.isEmpty else { return h + "<p class=\"meta\">journeyd.yaml declares no stages.</p></section>\n" }
        h += ReportCharts.bars(s.stages.map { ($0.name, $0.users) }, title: "Users per stage", cssClass: "stages")
        h += "<table><thead><tr><th>stage</th><th class=\"n\">users now</th></tr></thead><tbody>"
        h += s.stages.map { "<tr><td>\(esc($0.name))</td><td class=\"n\" data-figure=\"stage.\(esc($0.name))\">\($0.users)</td></tr>" }.joined()
        h += "</tbody></table><h3>Transitions</h3><table><thead><tr><th>from</th><th>to</th><th class=\"n\">users</th></tr></thead><tbody>"
        for t in s.transitions {
            let from = t.from.isEmpty ? "(none)" : t.from
            h += "<tr><td>\(esc(from))</td><td>\(esc(t.to))</td><td class=\"n\" data-figure=\"transition.\(esc(from)).\(esc(t.to))\">\(t.count)</td></tr>"
        }
        return h + "</tbody></table></section>\n"
    }

    static func percent(_ x: Double) -> String { fixed(x * 100) + " %" }
    static func points(_ x: Double) -> String { (x >= 0 ? "+" : "−") + fixed(abs(x) * 100) + " pp" }

    /// One decimal, rounded half away from zero.
    public static func fixed(_ x: Double) -> String {
        let tenths = Int((abs(x) * 10).rounded())
        return (x < 0 && tenths > 0 ? "-" : "") + "\(tenths / 10).\(tenths % 10)"
    }

    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static let style = """
        body{font:15px/1.45 system-ui,sans-serif;color:#1d2430;max-width:960px;margin:2em auto;padding:0 1em}
        h1{font-size:1.6em;margin:0}h2{font-size:1.25em;border-bottom:1px solid #d6dbe3;padding-bottom:.2em;margin-top:2em}
        h3{font-size:1.05em;margin:1.2em 0 .4em}.meta{color:#5b6473}table{border-collapse:collapse;margin:.4em 0;min-width:50%}
        td,th{padding:.2em .8em .2em 0;border-bottom:1px solid #edf0f4;text-align:left}.n{text-align:right;font-variant-numeric:tabular-nums}
        svg.chart{display:block;margin:.6em 0;max-width:100%}svg text{font:12px system-ui,sans-serif;fill:#1d2430}
        .uplift strong{font-size:1.1em}section{break-inside:avoid-page}
        @media print{body{margin:0;max-width:none;font-size:11pt}section.journey{break-before:page}header{margin-bottom:1em}a{color:inherit}}
        """
}
