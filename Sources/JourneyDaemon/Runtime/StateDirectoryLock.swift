import Foundation
import Glibc
import JourneySources

/// One daemon per state directory. Two on the same directory would append to the same log segments
/// over each other's records, checkpoint into the same database and deliver every touch twice; a
/// second `journeyd run` started by hand while the service runs did just that, silently.
///
/// So the daemon takes an exclusive `flock(2)` on `STATE_DIR/journeyd.lock` before it opens anything
/// else, and holds it until it exits; the kernel releases it however the process ends (a `kill -9`
/// leaves no stale lock to clean up). The file holds the holder's pid, for the message the next one
/// gets. It is opened close-on-exec, so a program the `exec` channel starts does not keep the lock
/// alive after the daemon is gone. Read-only commands (`explain`, `report`) take no lock.
final class StateDirectoryLock: Sendable {
    let path: String
    private let fd: Int32

    /// Creates the state directory of `statePath` (the database) and takes its lock, or throws: a
    /// `--state` that names a directory, a directory that cannot be made (configuration errors: starting
    /// again will not help), in use by another daemon (likewise, until the other stops).
    convenience init(statePath: String, directory: String) throws(DaemonError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: statePath, isDirectory: &isDirectory), isDirectory.boolValue {
            throw DaemonError(
                "--state \(statePath): a directory; --state (state.path) names the state database in the state directory, "
                    + "like \(statePath.hasSuffix("/") ? statePath : statePath + "/")state.sqlite", configuration: true)
        }
        if let error = FileKind.makeDirectories(directory) {
            // Out of space or I/O trouble may pass; a path that cannot be a directory, or no permission, will not.
            let lasting = [EACCES, EPERM, EROFS, ENOTDIR, EEXIST, ENAMETOOLONG, ELOOP].contains(error)
            throw DaemonError(
                "state directory \(directory): cannot create: \(String(cString: strerror(error)))", configuration: lasting, storage: !lasting)
        }
        try self.init(directory: directory)
    }

    /// Takes the lock on `directory`, or throws: in use by another daemon (a configuration error —
    /// starting again will not help until the other stops) or the file cannot be opened.
    init(directory: String) throws(DaemonError) {
        path = (directory.isEmpty ? "." : directory) + "/journeyd.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DaemonError("state directory \(directory): cannot open \(path): \(String(cString: strerror(errno)))", storage: true)
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            if error == EINTR { continue }
            let holder = Self.holder(fd)
            close(fd)
            if error == EWOULDBLOCK {
                throw DaemonError(
                    "state directory \(directory.isEmpty ? "." : directory) is in use by another journeyd\(holder.map { " (pid \($0))" } ?? ""): "
                        + "one daemon per state directory — stop that one first, or give this one another --state",
                    configuration: true)
            }
            throw DaemonError("state directory \(directory): cannot lock \(path): \(String(cString: strerror(error)))", storage: true)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) }
        self.fd = fd
    }

    /// The pid the lock file names, if any.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit { close(fd) }  // releases the lock
}
