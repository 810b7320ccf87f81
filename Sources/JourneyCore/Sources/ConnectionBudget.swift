import Glibc
import Synchronization

/// The connections the daemon's listeners may hold together: the open files limit less a reserve for
/// the daemon's own files.
///
/// Every connection a producer holds costs a file descriptor, and so do the daemon's own files (log
/// segments, the database, channel files, the spool directory it reads, its channels' HTTP pools).
/// Producers must not take the last one, or the next checkpoint fails for want of one and the daemon
/// stops. One budget is shared by every listener that takes producers (the event socket, TCP or Unix,
/// and the HTTP input), so two of them cannot together take what each alone would leave: a listener
/// that finds the budget spent stops accepting, and its producers wait in the listen backlog until
/// a connection closes — any listener's.
public final class ConnectionBudget: Sendable {
    /// The open files limit (`RLIMIT_NOFILE`) the budget was made from.
    public let descriptorLimit: Int
    /// Connections every listener together holds at most.
    public let capacity: Int
    /// Whether the capacity is the open files limit less the reserve (else a fixed number).
    public let isFromDescriptorLimit: Bool
    private let held = Atomic<Int>(0)
    private let observers = Mutex<[@Sendable () -> Void]>([])

    /// `descriptorLimit`: the open files limit to plan for; this process's own when nil. `inUse`: the
    /// descriptors the daemon holds already; counted in `/proc/self/fd` when nil.
    public init(descriptorLimit: Int? = nil, inUse: Int? = nil) {
        let limit = descriptorLimit ?? Self.openFilesLimit()
        self.descriptorLimit = limit
        capacity = max(1, limit - Self.reserve(limit: limit, inUse: inUse ?? Self.descriptorsInUse()))
        isFromDescriptorLimit = true
    }

    /// What producers must leave of `limit`: half of a small limit, 256 of a large one — the daemon's own
    /// files are a few dozen, and its channels' HTTP connection pools can hold as many again —, and never
    /// less than what the daemon holds already and ``headroom`` more. Running out is not only a failed
    /// checkpoint: libdispatch, under Swift concurrency's threads, reads `/proc/<tid>/stat` to watch its
    /// pool when work waits, and ends the process (SIGILL, "workq: registered worker exited prematurely")
    /// when it cannot open it — seen at a limit of 48, where half the limit was less than the daemon's
    /// own files.
    static func reserve(limit: Int, inUse: Int) -> Int {
        max(min(256, limit / 2), inUse + headroom)
    }

    /// Descriptors kept free beyond those open when the budget is made: listeners and event loops bound
    /// after it, a log segment and a checkpoint's files, libdispatch's reads of `/proc`.
    public static let headroom = 16

    /// The descriptors this process holds now (`/proc/self/fd`, less the one reading it); 0 if unreadable.
    public static func descriptorsInUse() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = entry.pointee.d_name
            let dot = withUnsafeBytes(of: name) { $0[0] == UInt8(ascii: ".") }
            if !dot { count += 1 }
        }
        return max(0, count - 1)
    }

    /// A budget of `capacity` connections (a listener of its own kept small: the admin listener).
    public init(capacity: Int, descriptorLimit: Int? = nil) {
        self.descriptorLimit = descriptorLimit ?? Self.openFilesLimit()
        self.capacity = max(1, capacity)
        isFromDescriptorLimit = false
    }

    public static func openFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 1 << 20 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Connections held now, by every listener.
    public var count: Int { held.load(ordering: .relaxed) }

    /// Whether another connection may be accepted.
    public var hasRoom: Bool { count < capacity }

    /// A connection was accepted (counted even past the capacity: it is open either way).
    public func opened() {
        held.add(1, ordering: .relaxed)
    }

    /// A connection closed; when that makes room in a spent budget, the listeners waiting for room hear of it.
    public func closed() {
        let now = held.subtract(1, ordering: .relaxed).newValue
        guard now == capacity - 1 else { return }
        for observer in observers.withLock({ $0 }) { observer() }
    }

    /// `body` is called (from whichever thread closed a connection) each time a spent budget has room
    /// again: a listener that stopped accepting for want of room starts again.
    public func whenRoom(_ body: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(body) }
    }
}
