import Foundation
import JourneyCore
import JourneyEvents

/// The HTTP input's share of parsing, on one thread and without the daemon around it: the same events
/// read as lines (what the pump does for the socket) and as Tracking API batches of 100 (what the request
/// handler does: the body checked once, each event read with the request's members and its line written).
extension Stages {
    func trackingBodies(_ eventsFile: String, into report: inout Report) throws {
        let text = try String(contentsOfFile: eventsFile, encoding: .utf8)
        let lines = text.split(separator: "\n").prefix(200_000).map { Array($0.utf8) }
        let bodies = stride(from: 0, to: lines.count, by: 100).map { start in
            var body = Array(#"{"batch":["#.utf8)
            for (k, line) in lines[start..<min(lines.count, start + 100)].enumerated() {
                if k > 0 { body.append(UInt8(ascii: ",")) }
                body += line
            }
            body += Array("]}".utf8)
            return body
        }
        let parser = SegmentEventParser()
        let receivedAt = WallClock().now
        var asLines = 0
        var asBodies = 0
        // Each side three times, alternating; the fastest of each (the least disturbed by other work).
        var lineCPU = Double.infinity
        var bodyCPU = Double.infinity
        for _ in 0..<3 {
            asLines = 0
            asBodies = 0
            lineCPU = min(lineCPU, try measure {
                for line in lines { if case .success = parser.parse(line) { asLines += 1 } }
            }.cpu)
            bodyCPU = min(bodyCPU, try measure {
                for body in bodies {
                    let read = try TrackingBody(body, endpoint: .batch, maxEventBytes: 32 * 1024, receivedAt: receivedAt, parser: parser)
                    asBodies += read.events.count { $0.event != nil }
                }
            }.cpu)
        }
        let perEvent = { (cpu: Double, count: Int) in fmt(cpu / Double(max(count, 1)) * 1e6) }
        report.line(
            "- the same events as Tracking API batches of 100 (`TrackingBody`: the body checked, each event read with its request's "
                + "members and its line written), one thread, fastest of 3: **\(perEvent(bodyCPU, asBodies)) µs per event** against "
                + "\(perEvent(lineCPU, asLines)) µs read as lines (\(asBodies) and \(asLines) events read)")
    }
}
