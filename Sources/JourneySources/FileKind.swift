import Glibc

/// What a path names when a regular file or a directory was expected, in words for the journal; and
/// `mkdir -p` that says why it failed.
public enum FileKind {
    /// Nil for a regular file; else "a directory", "a socket", "a pipe", "a device".
    public static func unlessRegular(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFIFO: "a pipe"
        case S_IFCHR, S_IFBLK: "a device"
        default: "not a regular file"
        }
    }

    /// What `path` is when it exists and is not a directory ("a file", "a socket", …); nil for a
    /// directory or nothing there.
    public static func unlessDirectory(_ path: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFDIR else { return nil }
        return unlessRegular(status.st_mode) ?? "a file"
    }

    /// `mkdir -p`: nil once `path` is a directory, else the `errno` that stopped it (FileManager's error
    /// hides it in a nested NSError).
    public static func makeDirectories(_ path: String) -> Int32? {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return errno }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { return errno }
        return status.st_mode & S_IFMT == S_IFDIR ? nil : ENOTDIR
    }
}
