import Glibc
import JourneyCore

/// Watches a rule directory (and its `journeys/`, `templates/`, `tests/` folders) with inotify and says
/// when it has changed and then stayed quiet for the debounce interval — so that an editor's save, a
/// `git pull` touching twenty files or a deploy tool's symlink swap cause one reload, after the last write.
///
/// Ignored: hidden files and editors' temporary files (`.x.swp`, `x~`, `4913`, `#x#`, `*.tmp`). A change
/// while a reload is running is not lost: it only restarts the quiet period. Watches are re-established
/// after each reload, so a folder replaced by a symlink swap is followed.
final class RuleDirectoryWatch: @unchecked Sendable {
    let directory: String
    let debounceNanoseconds: UInt64
    let fd: Int32
    /// When the last relevant change arrived (monotonic ns), nil when none is pending.
    private var changedAt: UInt64?

    init(directory: String, debounceMilliseconds: Int64) throws {
        self.directory = directory
        self.debounceNanoseconds = UInt64(max(0, debounceMilliseconds)) * 1_000_000
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw DaemonError("cannot watch \(directory): \(String(cString: strerror(errno)))") }
        rewatch()
    }

    deinit { close(fd) }

    /// Adds watches for the directory and its folders, following symlinks to them: after a symlink swap
    /// the folders' new targets are watched too (a path already watched keeps its watch).
    func rewatch() {
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
        for path in [directory, directory + "/journeys", directory + "/templates", directory + "/tests"] {
            _ = inotify_add_watch(fd, path, mask)
        }
    }

    /// Reads pending notifications (never blocks). Returns true when a change has been quiet for the
    /// debounce interval: the caller reloads now.
    func poll(now: UInt64) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= n {
                let (mask, length) = buffer.withUnsafeBytes { raw -> (UInt32, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let name = String(decoding: buffer[nameStart..<min(nameStart + length, n)].prefix { $0 != 0 }, as: UTF8.self)
                // IN_IGNORED only says a watch went away (its folder was deleted: that came as its own event).
                if mask & UInt32(IN_Q_OVERFLOW) != 0 || (mask & UInt32(IN_IGNORED) == 0 && Self.isRelevant(name)) {
                    changedAt = now
                }
                offset = nameStart + length
            }
        }
        guard let at = changedAt, now &- at >= debounceNanoseconds else { return false }
        changedAt = nil
        return true
    }

    /// Waits up to `milliseconds` for notifications; true when a change has been quiet for the debounce
    /// interval (the caller reloads now). Blocks: run it on a thread of its own.
    func wait(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = Glibc.poll(&descriptor, 1, milliseconds)
        return poll(now: MonotonicClock.nanoseconds)
    }

    /// Whether a change to `name` can matter to the rules (editors' temporary files cannot).
    static func isRelevant(_ name: String) -> Bool {
        if name.isEmpty { return true }  // the watched folder itself
        if name.hasPrefix(".") || name.hasSuffix("~") || name.hasPrefix("#") || name == "4913" { return false }
        for suffix in [".swp", ".swx", ".tmp", ".bak", ".orig", ".rej"] where name.hasSuffix(suffix) { return false }
        return true
    }
}
