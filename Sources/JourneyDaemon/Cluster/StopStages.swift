import JourneyCore
import ServiceLifecycle
import Synchronization

/// When each of a partition's services was asked to stop and when it returned, from the moment the
/// partition was let go: what a hand-over's log line shows, and — for a stop that does not end — which
/// service it waits on.
final class StopStages: Sendable {
    private let state = Mutex<(begun: UInt64?, marks: [(service: String, asked: UInt64?, ended: UInt64?)])>((nil, []))

    /// The partition is being let go (or lost) now.
    func begin() { state.withLock { if $0.begun == nil { $0.begun = MonotonicClock.nanoseconds } } }

    func asked(_ service: String) { mark(service) { $0.asked = $0.asked ?? MonotonicClock.nanoseconds } }
    func ended(_ service: String) { mark(service) { $0.ended = MonotonicClock.nanoseconds } }

    private func mark(_ service: String, _ change: (inout (service: String, asked: UInt64?, ended: UInt64?)) -> Void) {
        state.withLock { state in
            if let i = state.marks.firstIndex(where: { $0.service == service }) {
                change(&state.marks[i])
            } else {
                var entry: (service: String, asked: UInt64?, ended: UInt64?) = (service, nil, nil)
                change(&entry)
                state.marks.append(entry)
            }
        }
    }

    /// Milliseconds since ``begin()``, or nil before it.
    var elapsedMilliseconds: UInt64? {
        state.withLock { $0.begun.map { (MonotonicClock.nanoseconds - $0) / 1_000_000 } }
    }

    /// "follower asked +0 ended +3 ms, dispatcher asked +3 ended +5004 ms, processor asked +5090 ms (running)".
    var description: String {
        state.withLock { state in
            let begun = state.begun ?? 0
            func at(_ t: UInt64) -> String { t >= begun ? "+\((t - begun) / 1_000_000)" : "-\((begun - t) / 1_000_000)" }
            return state.marks.map { mark in
                let asked = mark.asked.map { "asked \(at($0))" } ?? "not asked"
                let ended = mark.ended.map { "ended \(at($0)) ms" } ?? "(running)"
                return "\(mark.service) \(asked) \(ended)"
            }.joined(separator: ", ")
        }
    }
}

/// One of a partition's services, with its stop recorded in ``StopStages``.
struct StagedService: Service {
    let name: String
    let service: any Service
    let stages: StopStages

    func run() async throws {
        let (name, stages) = (self.name, self.stages)
        defer { stages.ended(name) }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await service.run()
            } onCancel: {
                stages.asked(name)
            }
        } onGracefulShutdown: {
            stages.asked(name)
        }
    }
}
