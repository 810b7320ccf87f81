import Foundation

/// A test peer written in Python (under `Peers/`), started for one test and always stopped: it prints
/// `READY <port>` once it listens and exits when its stdin closes.
final class PythonPeer: @unchecked Sendable {
    let process: Process
    let port: Int
    private let stdin: Pipe

    static let peersDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Peers").path

    private init(process: Process, port: Int, stdin: Pipe) {
        self.process = process
        self.port = port
        self.stdin = stdin
    }

    static func start(_ script: String, _ arguments: [String]) throws -> PythonPeer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-B", "\(peersDirectory)/\(script)"] + arguments  // -B: no __pycache__ in the source tree
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        // Read the READY line (generously: Python starts slowly on a loaded machine).
        let ready = DispatchSemaphore(value: 0)
        let line = LockedLine()
        DispatchQueue.global().async {
            var bytes: [UInt8] = []
            while true {
                let chunk = stdout.fileHandleForReading.readData(ofLength: 1)
                if chunk.isEmpty || chunk.first == 10 { break }
                bytes.append(contentsOf: chunk)
            }
            line.set(String(decoding: bytes, as: UTF8.self))
            ready.signal()
        }
        guard ready.wait(timeout: .now() + 60) == .success, let text = line.get(), text.hasPrefix("READY "),
            let port = Int(text.dropFirst(6))
        else {
            process.terminate()
            process.waitUntilExit()
            throw TestFailure("\(script) did not start")
        }
        return PythonPeer(process: process, port: port, stdin: stdin)
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    private final class LockedLine: @unchecked Sendable {
        private let lock = NSLock()
        private var value: String?
        func set(_ s: String) { lock.withLock { value = s } }
        func get() -> String? { lock.withLock { value } }
    }
}

/// Runs `body` with a started peer and stops it afterwards, whatever happens. Starting and stopping
/// block (waiting for Python), so they run on a thread of their own, never on the few threads every
/// test's tasks share.
func withPythonPeer<T>(_ script: String, _ arguments: [String], _ body: (PythonPeer) async throws -> T) async throws -> T {
    let peer = try await offThread { try PythonPeer.start(script, arguments) }
    do {
        let result = try await body(peer)
        await offThread { peer.stop() }
        return result
    } catch {
        await offThread { peer.stop() }
        throw error
    }
}

/// Runs blocking work on a new thread and waits for it without blocking the caller's thread.
func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

func offThread(_ work: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            work()
            continuation.resume()
        }
    }
}
