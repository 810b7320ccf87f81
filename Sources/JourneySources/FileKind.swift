import Glibc

/// What a path names when an input expected a regular file, in words for the journal.
enum FileKind {
    /// Nil for a regular file; else "a directory", "a socket", "a pipe", "a device".
    static func unlessRegular(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFIFO: "a pipe"
        case S_IFCHR, S_IFBLK: "a device"
        default: "not a regular file"
        }
    }
}
