/// A failure repeated on a loop — renewing leases, an ownership turn while PostgreSQL is down — told as
/// a few records instead of one per attempt: the first failure, then a reminder at most every ``every``
/// with how many attempts failed since the streak began, and one record when an attempt succeeds again.
/// A minute's outage is three records, not a hundred and twenty. Pure: the caller passes the time.
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
    private var began: UInt64?
    private var told: UInt64 = 0
    private var failures = 0

    init(every: Duration = .seconds(30)) { self.every = every.nanoseconds }

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
