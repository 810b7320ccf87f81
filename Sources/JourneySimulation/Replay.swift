public import JourneyCore
import Foundation
public import JourneyEngine
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
        /// Trace this user's decisions and explain them at the end (`replay --explain USER`).
        public var explain: String?
        /// Trace every user's decisions, as the daemon does (to measure what the trace costs).
        public var traceAll = false
        /// Leave the replayed state allocated when the replay returns, for a process that exits right
        /// after (`journeyd replay`): freeing 100,000 users' states one small allocation at a time took
        /// 0.2 s of a 3.8 s replay of the bench's 1,000,000 events — work the process's exit does at no cost
        /// (compilers skip it the same way: clang's `-disable-free`). Off for anyone who goes on running.
        public var keepStateAtExit = false
        /// Count ``Report/figures`` (`journeyd report`'s figures: the `--report` page). About 3 % of the
        /// engine thread's time; the CLI asks for them only with `--report`.
        public var figures = true
        public init(
            until: Timestamp? = nil, progress: ((Int, Int) -> Void)? = nil, explain: String? = nil, traceAll: Bool = false,
            keepStateAtExit: Bool = false, figures: Bool = true
        ) {
            self.until = until
            self.progress = progress
            self.explain = explain
            self.traceAll = traceAll
            self.keepStateAtExit = keepStateAtExit
            self.figures = figures
        }
    }

    /// Events handed from the parsing thread to the engine at a time.
    static let batchSize = 4096

    /// How far past the last event the clock runs by default: long enough for every wait in the bundled
    /// journeys and one yearly date trigger, short enough that yearly triggers do not loop forever.
    public static let defaultHorizon = TimeSpan.days(400)

    public struct Report: Sendable {
        public var events = 0
        public var rejected = 0
        public var touches = 0
        public var outOfOrder = 0
        public var funnel = Funnel()
        /// `journeyd report`'s figures, from the same effects the daemon feeds its own (empty when
        /// ``Options/figures`` is off).
        public var figures = ReportFigures()
        public var firstEvent: Timestamp?
        public var lastEvent: Timestamp?
        public var endedAt = Timestamp.distantPast
        /// The explained user's state and decisions at the end, with `Options.explain`.
        public var explanation: Explanation?
    }

    /// Decision records kept for the explained user: the whole story of a back-test, within reason.
    public static let explainTraceLimit = 1000

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
        if let user = options.explain {
            simulator.trace(limit: max(rules.settings.decisionTrace, explainTraceLimit), only: user)
        } else if options.traceAll {
            simulator.trace(limit: rules.settings.decisionTrace)
        }
        var report = Report()
        var writeError: OutputError?
        let figures = options.figures
        let observe: (Effect) -> Void = { effect in
            report.funnel.record(effect)
            if figures { report.figures.record(effect) }
            if case .touch(let touch) = effect {
                report.touches += 1
                do throws(OutputError) {
                    try touches.write { touch.writeJSONLine(into: &$0) }
                } catch {
                    writeError = error
                }
            }
        }
        // Parse on a second thread, in batches, while the engine runs on this one. Order is preserved,
        // so the output is the same as a single-threaded run.
        struct Batch {
            var results: [Result<Event, EventRejection>] = []
            var bytes = 0
        }
        let queue = BatchQueue<Batch>(capacity: 8)
        let handoff = Handoff(value: stream)
        let producer = Thread {
            let stream = handoff.value
            var batch = Batch()
            batch.results.reserveCapacity(Self.batchSize)
            for result in stream {
                batch.results.append(result)
                if batch.results.count == Self.batchSize {
                    if let line = stream.currentLine { batch.bytes = line.byteOffset + line.length }
                    queue.put(batch)
                    batch = Batch()
                    batch.results.reserveCapacity(Self.batchSize)
                }
            }
            if let line = stream.currentLine { batch.bytes = line.byteOffset + line.length }
            queue.put(batch)
            queue.close()
        }
        producer.stackSize = 1 << 20
        producer.start()
        var progressMark = 0
        while let batch = queue.take() {
            for result in batch.results {
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
            }
            if let progress = options.progress, report.events + report.rejected >= progressMark {
                progress(batch.bytes, report.events + report.rejected)
                progressMark = report.events + report.rejected + 65_536
            }
            if let writeError {
                while queue.take() != nil {}  // let the producer finish before leaving
                throw writeError
            }
        }
        if let error = stream.readError { throw error }
        let end = options.until ?? ((report.lastEvent ?? simulator.clock) + defaultHorizon)
        simulator.advance(to: end, observe: observe)
        if let writeError { throw writeError }
        report.endedAt = end
        report.outOfOrder = simulator.outOfOrderEvents
        if let user = options.explain { report.explanation = simulator.explain(user) }
        try touches.flush()
        if options.keepStateAtExit { _ = Unmanaged.passRetained(KeptState(simulator)) }  // never released: see the option
        return report
    }

    /// The replayed state, kept past the replay's end (``Options/keepStateAtExit``).
    private final class KeptState {
        let simulator: Simulator
        init(_ simulator: Simulator) { self.simulator = simulator }
    }
}
