import Foundation
import JourneyCore
import Logging
import ServiceLifecycle

/// What ``StatusReporter`` watches: a loop that must keep turning, the work it waits on, and the figures
/// for `STATUS=`. The embedded daemon's processor is one (its processing loop, its log becoming durable);
/// a cluster instance is another (``ClusterVitals``: its ownership loop, its lease renewals).
protocol VitalSigns: Sendable {
    /// `turns` moves on every turn of the loop the watchdog vouches for; `progress` moves whenever the work
    /// that loop waits on advances, unless there is none (`settled`).
    var pulse: (turns: UInt64, progress: UInt64, settled: Bool) { get }
    /// One line of live figures.
    var statusText: String { get }
}

/// Tells the supervisor how the daemon is doing: `READY=1` once everything is running, `STATUS=` with
/// live figures every two seconds, and the watchdog's `WATCHDOG=1` — but only while the watched loop
/// keeps turning and its work keeps progressing (in the embedded daemon: the processing loop, and the log
/// becoming durable; a stuck loop or a hung fsync stops the pings, and systemd restarts the service).
struct StatusReporter: Service {
    let vitals: any VitalSigns
    let service: any ServiceManager
    /// How often to look (half the shortest watchdog interval expected, at most).
    let interval: Duration
    let logger: Logger
    /// Logged once every service runs (signals are trapped, inputs bound, the log replayed).
    let readyMessage: String
    /// Work that has waited without progress for this long counts as stuck.
    let stuckAfterNanoseconds: UInt64 = 20_000_000_000
    /// Listeners that bind in their own services (and, in cluster mode, the first turn of ownership):
    /// READY waits until each is open.
    var listeners: [ListenerGate] = []
    /// What `/readyz` answers.
    var readiness = Readiness()

    /// How often to look: an eighth of the watchdog interval (between 1 and 500 ms), 125 ms without one.
    static func lookEvery(_ service: any ServiceManager) -> Duration {
        .milliseconds(max(1, min(500, Int64((service.watchdogInterval ?? 1_000_000) / 8000))))
    }

    func run() async throws {
        // A listener that failed stops the group with its error; nothing is ready then.
        let bound = await withGracefulShutdownHandler {
            var all = true
            for gate in listeners { all = await gate.wait() && all }
            return all
        } onGracefulShutdown: { [listeners] in
            for gate in listeners { gate.open(bound: false) }
        }
        guard bound else {
            // The failed listener stops the group gracefully; returning now would count as this service
            // finishing, which cancels the group instead of letting the others stop in order.
            try? await gracefulShutdown()
            return
        }
        readiness.set("ready")
        defer { readiness.set("stopping") }
        logger.notice("\(readyMessage)", metadata: [RecordField.kind: "\(RecordKind.ready.rawValue)"])
        service.ready(status: vitals.statusText)
        var (lastTurns, lastProgress, _) = vitals.pulse
        var progressedAt = MonotonicClock.nanoseconds
        var statusAt = MonotonicClock.nanoseconds
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await nap(interval)
            let pulse = vitals.pulse
            let now = MonotonicClock.nanoseconds
            if pulse.progress != lastProgress || pulse.settled {
                progressedAt = now
                lastProgress = pulse.progress
            }
            if pulse.turns != lastTurns && now - progressedAt < stuckAfterNanoseconds {
                service.alive()
                lastTurns = pulse.turns
            }
            if now - statusAt >= 2_000_000_000 {
                service.status(vitals.statusText)
                statusAt = now
            }
        }
        service.stopping()
    }

    /// The live figures for `STATUS=`.
    static func text(_ f: PartitionFigures) -> String {
        "\(f.journeys) journeys; \(f.counters.events) events; \(f.timers) timers waiting; outbox \(f.outboxWaiting) waiting, "
            + "\(f.outboxAttempting) in flight; \(f.counters.delivered) delivered; last reload: \(f.lastReload)"
    }

    /// The live figures for `journeyd status --json`.
    static func json(_ f: PartitionFigures) -> Value {
        let c = f.counters
        return .object([
            .init("ok", true), .init("journeys", .number(Double(f.journeys))), .init("rules_version", .string(f.rulesVersion)),
            .init("events", .number(Double(c.events))), .init("rejected", .number(Double(c.rejected))),
            .init("duplicates", .number(Double(c.duplicates))), .init("touches", .number(Double(c.touches))),
            .init("delivered", .number(Double(c.delivered))), .init("dead_letter", .number(Double(c.deadLettered))),
            .init("in_doubt", .number(Double(c.inDoubt))), .init("capped", .number(Double(c.capped))),
            .init("deferred", .number(Double(c.deferred))), .init("suppressed", .number(Double(c.suppressed))),
            .init("skipped_late", .number(Double(c.skippedLate))),
            .init("forgotten_refused", .number(Double(c.forgottenRefused))), .init("timers", .number(Double(f.timers))),
            .init("outbox_waiting", .number(Double(f.outboxWaiting))), .init("outbox_in_flight", .number(Double(f.outboxAttempting))),
            .init("users_in_memory", .number(Double(f.usersInMemory))), .init("intake_queued", .number(Double(f.intakeQueued))),
            .init("log_sequence", .number(Double(f.logSequence))), .init("log_durable", .number(Double(f.durableSequence))),
            .init("replayed", .number(Double(c.replayed))), .init("checkpoints", .number(Double(c.checkpoints))),
            .init("reloads", .number(Double(c.reloads))), .init("reloads_refused", .number(Double(c.reloadsRefused))),
            .init("last_reload", .string(f.lastReload)), .init("turns", .number(Double(f.turns))),
        ])
    }
}

extension PartitionProcessor: VitalSigns {
    /// The processing loop's turns; the log becoming durable (settled when all of it is).
    var pulse: (turns: UInt64, progress: UInt64, settled: Bool) {
        let f = figures
        return (f.turns, f.durableSequence, f.durableSequence == f.logSequence)
    }

    var statusText: String { StatusReporter.text(figures) }
}
