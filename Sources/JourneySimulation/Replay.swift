public import JourneyCore
import JourneyEngine
public import JourneyEvents
public import JourneyRules

/// Back-testing: an event log through the real engine on the events' own clock, with no sends.
/// Produces the touches that would have gone out (as JSON lines) and the per-journey funnel.
public struct Replay {
    public struct Options {
        /// Where the clock stops after the last event; nil = ``defaultHorizon`` after it ("end of time").
        public var until: Timestamp?
        /// Called about every 64k events with (bytes read, events read).
        public var progress: ((Int, Int) -> Void)?
        public init(until: Timestamp? = nil, progress: ((Int, Int) -> Void)? = nil) {
            self.until = until
            self.progress = progress
        }
    }

    /// How far past the last event the clock runs by default: long enough for every wait in the bundled
    /// journeys and one yearly date trigger, short enough that yearly triggers do not loop forever.
    public static let defaultHorizon = TimeSpan.days(400)

    public struct Report: Sendable {
        public var events = 0
        public var rejected = 0
        public var touches = 0
        public var outOfOrder = 0
        public var funnel = Funnel()
        public var firstEvent: Timestamp?
        public var lastEvent: Timestamp?
        public var endedAt = Timestamp.distantPast
    }

    /// Replays the JSON lines at `path`. Touches go to `touches` as JSON lines; each rejected line goes to
    /// `reject` (nothing is dropped silently).
    public static func run(
        path: String,
        rules: RuleSet,
        options: Options = Options(),
        touches: OutputFile,
        reject: (EventRejection) -> Void
    ) throws -> Report {
        let stream = try SegmentEventStream(path: path)
        var simulator = Simulator(rules: rules)
        var report = Report()
        var writeError: OutputError?
        let observe: (Effect) -> Void = { effect in
            report.funnel.record(effect)
            if case .touch(let touch) = effect {
                report.touches += 1
                do throws(OutputError) {
                    try touches.write { touch.writeJSONLine(into: &$0) }
                } catch {
                    writeError = error
                }
            }
        }
        var bytes = 0
        for result in stream {
            switch result {
            case .success(let event):
                report.events += 1
                if report.firstEvent == nil { report.firstEvent = event.timestamp }
                report.lastEvent = Swift.max(report.lastEvent ?? event.timestamp, event.timestamp)
                simulator.feed(event, observe: observe)
            case .failure(let rejection):
                report.rejected += 1
                reject(rejection)
            }
            if let line = stream.currentLine { bytes = line.byteOffset + line.length }
            if let progress = options.progress, (report.events + report.rejected) & 0xFFFF == 0 {
                progress(bytes, report.events + report.rejected)
            }
            if let writeError { throw writeError }
        }
        if let error = stream.readError { throw error }
        let end = options.until ?? ((report.lastEvent ?? simulator.clock) + defaultHorizon)
        simulator.advance(to: end, observe: observe)
        if let writeError { throw writeError }
        report.endedAt = end
        report.outOfOrder = simulator.outOfOrderEvents
        try touches.flush()
        return report
    }
}
