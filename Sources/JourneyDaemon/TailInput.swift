import Glibc
import JourneyEvents

/// The tailed-file input: follows a growing JSON-lines file across rotation and truncation.
///
/// Its position — the file's inode and the byte offset after the last committed line — is committed
/// with the state, so a restart resumes where the last commit ended. When the path is rotated (renamed
/// away, a new file created), the old file is read to its end first through the descriptor still open on
/// it, then the new one from its start. When the file shrinks (truncated in place), reading restarts at 0.
/// A last line without its newline is not read until the newline arrives.
final class TailInput {
    let path: String
    /// The position keys in the store.
    var offsetKey: String { "tail/\(path)" }
    var inodeKey: String { "tail/\(path)#inode" }

    private(set) var fd: Int32 = -1
    private(set) var inode: UInt64 = 0
    private(set) var offset: Int = 0

    init(path: String, committedInode: UInt64?, committedOffset: Int?) {
        self.path = path
        if let committedInode, let committedOffset {
            inode = committedInode
            offset = committedOffset
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// What to read next: a descriptor positioned at `offset`, or nil when there is nothing new.
    /// Switches to a rotated-in file once the old one is read to its end.
    func next() -> (fd: Int32, offset: Int)? {
        var onPath = stat()
        let pathExists = stat(path, &onPath) == 0
        if fd < 0 {
            guard pathExists else { return nil }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            var opened = stat()
            fstat(fd, &opened)
            if UInt64(opened.st_ino) != inode {
                // Not the file of the committed position (first run, or rotated while stopped).
                inode = UInt64(opened.st_ino)
                offset = 0
            }
        }
        var current = stat()
        fstat(fd, &current)
        if Int(current.st_size) < offset { offset = 0 }  // truncated in place
        if Int(current.st_size) > offset { return (fd, offset) }
        // At the end of this file: if the path now names another file, move on to it.
        if pathExists && UInt64(onPath.st_ino) != inode {
            close(fd)
            fd = -1
            inode = 0
            return next()
        }
        return nil
    }

    /// Records how far reading got (after the lines up to there are applied).
    func advance(to newOffset: Int) { offset = newOffset }
}
