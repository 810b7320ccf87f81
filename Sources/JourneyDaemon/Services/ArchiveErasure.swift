import Foundation

/// Erasing a forgotten user from the input kept as files (`journeyd forget`): the spool's `done/`
/// archive and the quarantine. Every line that carries the id as a JSON string (`"ID"`, or `\"ID\"`
/// inside a quarantined line's text) is dropped; each file changed is rewritten aside, synced and
/// renamed over the old one. Files that arrive after the erasure are not read here: events for a
/// forgotten id are refused, but a spool file archived later keeps their lines (`spool.done: delete`
/// keeps none).
enum ArchiveErasure {
    /// Drops `user`'s lines from the files directly in `directories`; returns how many were dropped.
    static func erase(_ user: String, in directories: [String]) throws -> Int {
        let escaped = user.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let needles = [Data("\"\(escaped)\"".utf8), Data("\\\"\(escaped)\\\"".utf8)]
        var dropped = 0
        let fm = FileManager.default
        for directory in directories {
            guard let names = try? fm.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() where !name.hasSuffix(".erasing") {
                let path = directory + "/" + name
                guard let data = fm.contents(atPath: path), needles.contains(where: { data.range(of: $0) != nil }) else { continue }
                var kept = Data(capacity: data.count)
                for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                    if needles.contains(where: { line.range(of: $0) != nil }) {
                        dropped += 1
                        continue
                    }
                    kept.append(line)
                    kept.append(UInt8(ascii: "\n"))
                }
                if data.last != UInt8(ascii: "\n"), !kept.isEmpty { kept.removeLast() }
                try replace(path, with: kept)
            }
        }
        return dropped
    }

    /// Writes `data` beside `path`, syncs it and renames it over `path`.
    static func replace(_ path: String, with data: Data) throws {
        let staging = path + ".erasing"
        let fd = open(staging, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonError("forget: cannot create \(staging): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var written = 0
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n <= 0 { return false }
                written += n
            }
            return fsync(fd) == 0
        }
        guard ok, rename(staging, path) == 0 else {
            unlink(staging)
            throw DaemonError("forget: cannot rewrite \(path): \(String(cString: strerror(errno)))")
        }
    }
}
