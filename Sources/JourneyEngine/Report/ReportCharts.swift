/// The report's charts as inline SVG (no script, prints as vector).
enum ReportCharts {
    static let palette = ["#3867d6", "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584"]

    /// Horizontal bars, one per label, scaled to the largest value.
    static func bars(_ items: [(String, Int)], title: String, cssClass: String) -> String {
        let rowHeight = 22, labelWidth = 220, barWidth = 460, width = labelWidth + barWidth + 70
        let top = max(1, items.map(\.1).max() ?? 1)
        var svg = "<svg class=\"chart \(cssClass)\" role=\"img\" aria-label=\"\(ReportPage.esc(title))\" width=\"\(width)\" height=\"\(items.count * rowHeight + 4)\" viewBox=\"0 0 \(width) \(items.count * rowHeight + 4)\" xmlns=\"http://www.w3.org/2000/svg\"><title>\(ReportPage.esc(title))</title>"
        for (i, item) in items.enumerated() {
            let y = i * rowHeight + 2
            let w = item.1 == 0 ? 0 : max(1, item.1 * barWidth / top)
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 15)\" text-anchor=\"end\">\(ReportPage.esc(item.0))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 2)\" width=\"\(w)\" height=\"\(rowHeight - 6)\" fill=\"\(palette[0])\"/>"
            svg += "<text x=\"\(labelWidth + w + 6)\" y=\"\(y + 15)\">\(item.1)</text>"
        }
        return svg + "</svg>"
    }

    /// The uplift as a point with its interval as a whisker, on an axis from −max to +max with 0 marked.
    static func interval(_ u: UpliftInterval, title: String) -> String {
        let width = 640, height = 56, margin = 40
        let reach = max(0.01, abs(u.lower), abs(u.upper))
        func x(_ v: Double) -> Int { margin + Int((v + reach) / (2 * reach) * Double(width - 2 * margin)) }
        var svg = "<svg class=\"chart interval\" role=\"img\" aria-label=\"\(ReportPage.esc(title))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" xmlns=\"http://www.w3.org/2000/svg\"><title>\(ReportPage.esc(title))</title>"
        svg += "<line x1=\"\(margin)\" y1=\"40\" x2=\"\(width - margin)\" y2=\"40\" stroke=\"#9aa3b2\"/>"
        svg += "<line x1=\"\(x(0))\" y1=\"6\" x2=\"\(x(0))\" y2=\"44\" stroke=\"#5b6473\" stroke-dasharray=\"3 3\"/><text x=\"\(x(0) + 4)\" y=\"52\">0</text>"
        let colour = u.isSizedToTell ? (u.lower > 0 ? palette[1] : u.upper < 0 ? palette[3] : palette[7]) : "#b8bec9"
        svg += "<line x1=\"\(x(u.lower))\" y1=\"22\" x2=\"\(x(u.upper))\" y2=\"22\" stroke=\"\(colour)\" stroke-width=\"3\"/>"
        svg += "<line x1=\"\(x(u.lower))\" y1=\"15\" x2=\"\(x(u.lower))\" y2=\"29\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
        svg += "<line x1=\"\(x(u.upper))\" y1=\"15\" x2=\"\(x(u.upper))\" y2=\"29\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
        svg += "<circle cx=\"\(x(u.uplift))\" cy=\"22\" r=\"5\" fill=\"\(colour)\"/>"
        svg += "<text x=\"\(margin)\" y=\"52\">\(ReportPage.points(-reach))</text><text x=\"\(width - margin)\" y=\"52\" text-anchor=\"end\">\(ReportPage.points(reach))</text>"
        return svg + "</svg>"
    }

    /// Touches per day, one stacked column per day, a colour per channel, with a legend.
    static func daily(_ channels: [(channel: String, days: [(day: String, count: Int)])]) -> String {
        let days = Array(Set(channels.flatMap { $0.days.map(\.day) })).sorted()
        var totals: [String: Int] = [:]
        for channel in channels { for day in channel.days { totals[day.day, default: 0] += day.count } }
        let top = max(1, totals.values.max() ?? 1)
        let plotHeight = 160, column = max(4, min(40, 640 / max(1, days.count))), left = 40
        let width = left + days.count * column + 20, height = plotHeight + 40 + 18 * ((channels.count + 3) / 4)
        var svg = "<svg class=\"chart daily\" role=\"img\" aria-label=\"Touches per channel per day\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" xmlns=\"http://www.w3.org/2000/svg\"><title>Touches per channel per day</title>"
        svg += "<text x=\"0\" y=\"12\">\(top)</text><text x=\"0\" y=\"\(plotHeight)\">0</text>"
        for (d, day) in days.enumerated() {
            var y = plotHeight
            for (c, channel) in channels.enumerated() {
                guard let n = channel.days.first(where: { $0.day == day })?.count, n > 0 else { continue }
                let h = max(1, n * plotHeight / top)
                y -= h
                svg += "<rect x=\"\(left + d * column)\" y=\"\(y)\" width=\"\(column - 2)\" height=\"\(h)\" fill=\"\(palette[c % palette.count])\"><title>\(ReportPage.esc(channel.channel)) \(day): \(n)</title></rect>"
            }
        }
        if let first = days.first, let last = days.last {
            svg += "<text x=\"\(left)\" y=\"\(plotHeight + 16)\">\(first)</text><text x=\"\(left + days.count * column)\" y=\"\(plotHeight + 16)\" text-anchor=\"end\">\(last)</text>"
        }
        for (c, channel) in channels.enumerated() {
            let x = left + (c % 4) * 150, y = plotHeight + 34 + 18 * (c / 4)
            svg += "<rect x=\"\(x)\" y=\"\(y - 10)\" width=\"10\" height=\"10\" fill=\"\(palette[c % palette.count])\"/><text x=\"\(x + 14)\" y=\"\(y)\">\(ReportPage.esc(channel.channel))</text>"
        }
        return svg + "</svg>"
    }
}
