import Glibc
import Logging

/// The open files limit the daemon runs with: its soft limit raised towards the hard one when it starts.
///
/// systemd starts services with a soft limit of 1,024 and a hard limit of 524,288
/// (`DefaultLimitNOFILE=1024:524288`): the low soft limit only protects programs that wait with
/// `select()`, whose descriptor sets end at 1,024, and systemd.exec(5) asks programs that do not to
/// raise it themselves (Go's runtime does so for every program). journeyd waits with epoll (SwiftNIO),
/// so at 1,024 it capped its producers at 768 for no reason, and its own files — channel connections,
/// log segments, the database — shared what was left. One library does use `select()`: the NATS C client
/// (cluster mode) sizes its sets for descriptors below 32,768 (`__FD_SETSIZE` in its n-unix.h); a
/// descriptor past that would write outside them. So the soft limit goes up to the hard limit, and no
/// further than ``selectCeiling``. An operator's `LimitNOFILE=` or `ulimit -n` sets the hard limit (and
/// a soft one above the ceiling is left as it is).
public enum OpenFilesLimit {
    /// The highest soft limit the daemon raises itself to: the NATS C client's `select()` sets end here.
    public static let selectCeiling = 32_768

    /// The soft limit to raise to, given the current soft and hard limits; nil when it stays.
    public static func raised(soft: Int, hard: Int) -> Int? {
        let target = min(hard, selectCeiling)
        return target > soft ? target : nil
    }

    /// Raises this process's soft limit (see the type's comment). Returns the limits before and after
    /// when it changed; nil when it stayed or could not be read or set.
    @discardableResult
    public static func raise() -> (from: Int, to: Int, hard: Int)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let hard = limit.rlim_max == rlim_t.max ? Int.max : Int(clamping: limit.rlim_max)
        let soft = limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)
        guard let target = raised(soft: soft, hard: hard) else { return nil }
        limit.rlim_cur = rlim_t(target)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return (soft, target, hard)
    }

    /// Raises the limit when the daemon starts, and says so in the journal.
    static func raise(logger: Logger) {
        guard let (from, to, hard) = raise() else { return }
        let ceiling = to < hard ? "; no further: the NATS client's select() sets end there" : ""
        logger.info("open files limit raised from \(from) to \(to) (hard limit \(hard == Int.max ? "unlimited" : "\(hard)")\(ceiling))")
    }
}
