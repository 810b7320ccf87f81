import Foundation

/// A fresh directory under the temporary directory for one test; ``remove()`` (or
/// ``withTemporaryDirectory(prefix:_:)``) deletes it with everything in it, so a test run leaves
/// nothing behind.
public struct TemporaryDirectory: Sendable {
    public let path: String

    /// A new directory in `parent` (default: the temporary directory).
    public init(prefix: String = "journeyd-test", in parent: String = NSTemporaryDirectory()) throws {
        var template = Array((parent + "/\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: parent])
        }
        path = String(cString: made)
    }

    /// Removes the directory and everything in it. A file that another thread removes meanwhile (a
    /// listener unlinking its socket as it closes) fails Foundation's removal of the whole tree; it is
    /// tried again.
    public func remove() {
        for _ in 0..<5 {
            do {
                try FileManager.default.removeItem(atPath: path)
                return
            } catch {
                if !FileManager.default.fileExists(atPath: path) { return }
            }
        }
    }

    /// `path/relative`.
    public func file(_ relative: String) -> String { path + "/" + relative }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards, whatever happens.
public func withTemporaryDirectory<T>(prefix: String = "journeyd-test", _ body: (String) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory(prefix: prefix)
    defer { directory.remove() }
    return try await body(directory.path)
}

/// The synchronous form, for tests that need no waiting.
public func withTemporaryDirectory<T>(prefix: String = "journeyd-test", _ body: (String) throws -> T) throws -> T {
    let directory = try TemporaryDirectory(prefix: prefix)
    defer { directory.remove() }
    return try body(directory.path)
}
