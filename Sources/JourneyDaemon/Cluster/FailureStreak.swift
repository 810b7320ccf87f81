import JourneyCore
import Logging

/// A failure repeated on a loop — renewing leases, an ownership turn while PostgreSQL is down — told as
/// a few records instead of one per attempt: the first failure, then a reminder at most every ``every``
/// with how many attempts failed since the streak began, and one record when an attempt succeeds again.
/// A minute's outage is three records, not a hundred and twenty. The streak itself is pure (the caller
/// passes the time); ``failed(_:first:logger:)`` and ``succeeded(logger:attemptStarted:ending:)`` write
/// the records in one wording for every loop: `SUBJECT still fails (N ATTEMPTS over S s): ERROR`,
/// `SUBJECT works again, after N failed ATTEMPTS over S s`.
struct FailureStreak {
    /// What to log, if anything, for this attempt.
    enum Record: Equatable {
        /// The first failure of a streak.
        case first
        /// The streak goes on: `failures` attempts failed over `seconds`.
        case still(failures: Int, seconds: Int)
        /// An attempt succeeded after `failures` failed ones over `seconds`.
        case recovered(failures: Int, seconds: Int)
    }

    /// How often a streak is told again while it lasts (nanoseconds).
    let every: UInt64
    /// What fails, and what its attempts are called, for the records: `renewing leases`, `attempts`.
    let subject: String
    let attempts: String
    private var began: UInt64?
    private var told: UInt64 = 0
    private var failures = 0

    init(_ subject: String = "it", attempts: String = "attempts", every: Duration = .seconds(30)) {
        self.subject = subject
        self.attempts = attempts
        self.every = every.nanoseconds
    }

    /// An attempt failed with `error`: logs `first` and the error when the streak begins, a reminder now
    /// and then, nothing otherwise.
    mutating func failed(_ error: any Error, first: @autoclosure () -> String, logger: Logger, now: UInt64 = MonotonicClock.nanoseconds) {
        switch failed(now: now) {
        case .first: logger.error("\(first()): \(error)")
        case .still(let failures, let seconds): logger.error("\(subject) still fails (\(failures) \(attempts) over \(seconds) s): \(error)")
        case .recovered, nil: break
        }
    }

    /// An attempt succeeded (see ``succeeded(now:attemptStarted:)``): logs the end of a streak, as
    /// `SUBJECT ENDING, after …` (`works again`, or why there is nothing left to fail).
    mutating func succeeded(
        logger: Logger, attemptStarted: UInt64? = nil, ending: String = "works again", now: UInt64 = MonotonicClock.nanoseconds
    ) {
        if case .recovered(let failures, let seconds) = succeeded(now: now, attemptStarted: attemptStarted) {
            logger.notice("\(subject) \(ending), after \(failures) failed \(attempts) over \(seconds) s")
        }
    }

    /// Whether a streak is on (the last attempt failed).
    var failing: Bool { began != nil }

    mutating func failed(now: UInt64) -> Record? {
        failures += 1
        guard let began else {
            began = now
            told = now
            return .first
        }
        guard now &- told >= every else { return nil }
        told = now
        return .still(failures: failures, seconds: Int((now &- began) / 1_000_000_000))
    }

    /// An attempt succeeded. With `attemptStarted`, one that began before the streak did (attempts that
    /// run side by side: a batch published before the outage, acknowledged during it) ends nothing.
    mutating func succeeded(now: UInt64, attemptStarted: UInt64? = nil) -> Record? {
        guard let began else { return nil }
        if let attemptStarted, attemptStarted < began { return nil }
        defer {
            self.began = nil
            failures = 0
        }
        return .recovered(failures: failures, seconds: Int((now &- began) / 1_000_000_000))
    }
}
