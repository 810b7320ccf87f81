import Foundation
import Glibc
import JourneyTesting
import Testing

@testable import JourneySources

/// A Unix socket's path appears only once it listens, with the mode asked for: whoever waits for the
/// file to exist can connect at once (a test once met the moment between bind and listen and was refused).
@Suite("Unix listeners")
struct ListenerTests {
    @Test func thePathAppearsListeningWithItsModeAndReplacesAStaleSocket() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-listener") { dir in
            let path = dir + "/control.sock"
            // A socket file left by a run that was killed: nothing listens on it.
            let stale = try Listener.unix(path, what: "test socket")
            Glibc.close(stale.fd)
            #expect(FileManager.default.fileExists(atPath: path))

            let listener = try Listener.unix(path, what: "test socket", mode: 0o600)
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["control.sock"], "no temporary name left beside it")
            let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { Glibc.close(client) }
            let connected = try withUnixAddress(path, what: "test") { connect(client, $0, $1) }
            #expect(connected == 0, "connect: \(String(cString: strerror(errno)))")
            listener.close()
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func aSocketAnotherProcessListensOnIsRefusedNotReplaced() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-listener") { dir in
            let path = dir + "/events.sock"
            let first = try Listener.unix(path, what: "event socket")
            #expect(throws: SourceError.self) { try Listener.unix(path, what: "event socket") }
            do throws(SourceError) {
                _ = try Listener.unix(path, what: "event socket")
            } catch {
                #expect(error.description.contains("event socket \(path): another process listens on it"), "\(error)")
                #expect(error.isConfiguration)
            }
            // Still the first's: a client reaches it.
            let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { Glibc.close(client) }
            #expect(try withUnixAddress(path, what: "test") { connect(client, $0, $1) } == 0)
            let accepted = accept(first.fd, nil, nil)
            #expect(accepted >= 0)
            Glibc.close(accepted)
            first.close()
            let second = try Listener.unix(path, what: "event socket")  // gone: the path is free again
            second.close()
        }
    }

    @Test func aPathTooLongIsRefusedWithItsLength() async throws {
        let path = "/tmp/" + String(repeating: "x", count: 110)
        #expect {
            _ = try Listener.unix(path, what: "event socket")
        } throws: { error in
            "\(error)".contains("event socket path too long (at most 107 bytes)")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aPathWithNoRoomForATemporaryNameIsBoundInPlace() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-listener") { dir in
            try #require(dir.utf8.count < 100, "the temporary directory's path leaves no room for this case")
            let path = dir + "/" + String(repeating: "s", count: 105 - dir.utf8.count)
            #expect(path.utf8.count == 106)
            let listener = try Listener.unix(path, what: "test socket", mode: 0o600)
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
            listener.close()
        }
    }
}
