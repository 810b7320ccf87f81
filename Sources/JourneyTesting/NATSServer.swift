import Foundation
import Synchronization

/// A `nats-server` with JetStream that a test starts on loopback, on a port the server picks, storing in
/// a temporary directory; ``stop()`` ends it and deletes the directory. Debian's `nats-server` (2.9).
public final class NATSServer: Sendable {
    /// `nats://127.0.0.1:PORT`.
    public let url: String
    public let directory: TemporaryDirectory
    let executable: String
    private let running: Mutex<ChildProcess>
    var process: ChildProcess { running.withLock { $0 } }

    /// Starts the server and waits (generously) until it accepts clients with JetStream on.
    public static func start(executable: String = "/usr/sbin/nats-server") async throws -> NATSServer {
        let directory = try TemporaryDirectory(prefix: "journeyd-nats")
        let log = directory.file("server.log")
        let process: ChildProcess
        do {
            // -p -1: a free port, which the server writes into its log.
            process = try ChildProcess(executable, arguments(directory, port: "-1"))
        } catch {
            directory.remove()
            throw error
        }
        var url: String?
        _ = await eventually(timeout: .seconds(120), interval: .milliseconds(20)) {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            guard text.contains("Server is ready"), let range = text.range(of: "Listening for client connections on ") else {
                return !process.isRunning
            }
            url = "nats://" + text[range.upperBound...].prefix { !$0.isNewline }
            return true
        }
        guard let url, process.isRunning else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            await process.stop(SIGKILL)
            directory.remove()
            throw NATSServerFailure(description: "nats-server did not start: \(text.suffix(2000))")
        }
        return NATSServer(url: url, directory: directory, process: process, executable: executable)
    }

    init(url: String, directory: TemporaryDirectory, process: ChildProcess, executable: String) {
        self.url = url
        self.executable = executable
        self.directory = directory
        self.running = Mutex(process)
    }

    /// Ends the server (`SIGTERM`: an upgrade's or an operator's restart) and starts it again on the same
    /// port and storage, waiting (generously) until it is ready; its clients see a disconnection.
    public func restart() async throws {
        await process.stop(SIGTERM)
        let log = directory.file("server.log")
        let readyBefore = Self.readyCount(log)
        let port = String(url.split(separator: ":").last ?? "")
        let process = try ChildProcess(executable, Self.arguments(directory, port: port))
        running.withLock { $0 = process }
        let ready = await eventually(timeout: .seconds(120), interval: .milliseconds(20)) {
            Self.readyCount(log) > readyBefore || !process.isRunning
        }
        guard ready, process.isRunning else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw NATSServerFailure(description: "nats-server did not start again on port \(port): \(text.suffix(2000))")
        }
    }

    /// JetStream on, storing in `directory`, on 127.0.0.1:`port` (`-1`: one the server picks), logging to
    /// `directory/server.log`.
    private static func arguments(_ directory: TemporaryDirectory, port: String) -> [String] {
        ["-js", "-sd", directory.file("store"), "-a", "127.0.0.1", "-p", port, "-l", directory.file("server.log")]
    }

    private static func readyCount(_ log: String) -> Int {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").components(separatedBy: "Server is ready").count - 1
    }

    /// Ends the server and deletes its storage.
    public func stop() async {
        await process.stop(SIGTERM)
        directory.remove()
    }
}

struct NATSServerFailure: Error, CustomStringConvertible {
    var description: String
}
