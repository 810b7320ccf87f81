import Foundation
import JourneyCore

/// Group commit: a thread of its own makes the log durable while the processor goes on applying the
/// next batch. Asked after every turn that appended something, it syncs everything appended so far
/// with one write and one fsync, and reports the durable sequence number back to the processor.
final class LogSyncer: @unchecked Sendable {
    private let log: any EventLog
    /// Answered here, as soon as a sync covers them.
    private let acks: PendingAcks
    private let report: @Sendable (ProcessorWork) -> Void
    private let condition = NSCondition()
    private var requested = false
    private var stopped = false
    private var thread: Thread?

    init(log: any EventLog, acks: PendingAcks, report: @escaping @Sendable (ProcessorWork) -> Void) {
        self.log = log
        self.acks = acks
        self.report = report
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "journeyd log sync"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Asks for a sync of everything appended so far (requests made during a sync coalesce into one).
    func request() {
        condition.withLock {
            requested = true
            condition.signal()
        }
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    private func loop() {
        while true {
            let go: Bool = condition.withLock {
                while !requested && !stopped { condition.wait() }
                defer { requested = false }
                return requested
            }
            guard go else { return }
            let start = MonotonicClock.nanoseconds
            do {
                let durable = try log.sync()
                acks.resolve(through: durable)
                report(.synced(durable, nanoseconds: MonotonicClock.nanoseconds - start))
            } catch {
                report(.failed("the event log cannot be written: \(error)", diskFull: error.isDiskFull))
                return  // crash-only: never sync again after a failure
            }
        }
    }
}
