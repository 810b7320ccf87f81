import Foundation
import Glibc
import JourneyCore
import JourneySimulation

/// Latency from an event's arrival on the socket to its answer at a paced 10,000 events/s, with where
/// it goes: the daemon's own histograms of group commits (write + `fdatasync`) and of batches from
/// append to durable (scraped from `/metrics`), and the disk's own `fdatasync` latency measured beside
/// it in the same seconds (a probe syncing a small file every 5 ms), so a slow disk and a slow daemon
/// can be told apart.
extension Stages {
    /// `--only latency`: the paced socket alone, `runs` times with each channel kind.
    func pacedLatency(into report: inout Report) throws {
        report.line("## daemon: latency at a paced 10,000 events/s (\(runs) runs)")
        report.line("")
        let rules = try daemonRules("daemon-rules")
        let dry = try daemonRules("daemon-rules-dry", dryRun: true)
        for _ in 0..<runs {
            try latency(rules: rules, channels: "the fsynced file channel", into: &report)
            try latency(rules: dry, channels: "the log (dry-run) channel", into: &report)
        }
        report.line("")
    }

    /// Paced events over the Unix event socket; an event's latency runs from the moment it was due to be
    /// sent (so queueing behind a slow commit counts) to its answer, which the daemon writes only after the
    /// log record holding the event is durable (its touches are in the outbox by then).
    func latency(rules: String, channels: String, into report: inout Report) throws {
        let rate = 10_000
        let seconds = 10
        let state = work + "/daemon-latency-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let socketPath = state + "/events.sock"
        let admin = try freeLoopbackPort()
        let process = try launch([
            "run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool", "--socket", socketPath,
            "--admin", "127.0.0.1:\(admin)",
        ])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socketPath) { usleep(50_000) }
        let lines = EventGenerator(.init(users: 20_000, events: rate * seconds, span: .days(30), seed: 9)).map { event in
            Array((event.jsonValue.jsonText + "\n").utf8)
        }
        let fd = try connectUnix(socketPath)
        defer { close(fd) }
        let probe = DiskProbe(path: state + "/probe")
        let start = monotonicSeconds() + 0.1
        let writer = Thread {
            for (i, line) in lines.enumerated() {
                let due = start + Double(i) / Double(rate)
                let wait = due - monotonicSeconds()
                if wait > 0 { usleep(UInt32(wait * 1e6)) }
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            }
        }
        writer.start()
        probe.start()
        var latencies: [Double] = []
        latencies.reserveCapacity(lines.count)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while latencies.count < lines.count {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            let now = monotonicSeconds()
            for byte in buffer[0..<n] where byte == 10 {
                latencies.append(now - (start + Double(latencies.count) / Double(rate)))
            }
        }
        let disk = probe.stop()
        let metrics = scrapeMetrics(port: admin)
        latencies.sort()
        func percentile(_ p: Double) -> String { fmt(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000) }
        report.line(
            "- Unix event socket paced at \(rate) events/s for \(seconds) s, touches delivered through \(channels) (`synchronous=FULL`; "
                + "latency = due-to-send → answer, answered only once the event's log record is durable): \(latencies.count) answered; "
                + "p50 \(percentile(0.5)) ms, **p99 \(percentile(0.99)) ms**, p99.9 \(percentile(0.999)) ms, max \(fmt((latencies.last ?? 0) * 1000)) ms; "
                + "load average \(loadAverage())")
        report.line(
            "  - where it goes: the daemon's group commits (write + fdatasync) "
                + Histogram(metrics, "journeyd_log_sync_duration_seconds").summary
                + "; batches, append → durable " + Histogram(metrics, "journeyd_batch_duration_seconds").summary
                + "; the disk alone beside it (4 KiB write + fdatasync every 5 ms, \(disk.count) syncs): "
                + "p50 \(fmt(disk.quantile(0.5))) ms, p99 \(fmt(disk.quantile(0.99))) ms, p99.9 \(fmt(disk.quantile(0.999))) ms, max \(fmt(disk.last ?? 0)) ms")
    }

    /// The daemon's `/metrics` text (empty when it cannot be read).
    func scrapeMetrics(port: UInt16) -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        guard (try? curl.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A Prometheus histogram from an exposition: quantiles as the upper bound of the bucket they fall in.
struct Histogram {
    var bounds: [(le: Double, count: Double)] = []

    init(_ exposition: String, _ name: String) {
        for line in exposition.split(separator: "\n") where line.hasPrefix(name + "_bucket") {
            guard let open = line.range(of: "le=\""), let close = line[open.upperBound...].firstIndex(of: "\""),
                let count = Double(line.split(separator: " ").last ?? "")
            else { continue }
            let le = line[open.upperBound..<close] == "+Inf" ? Double.infinity : Double(line[open.upperBound..<close]) ?? .infinity
            bounds.append((le, count))
        }
        bounds.sort { $0.le < $1.le }
    }

    var total: Double { bounds.last?.count ?? 0 }

    /// "≤ X ms": the bucket bound holding quantile `q`.
    func quantile(_ q: Double) -> String {
        guard total > 0, let bucket = bounds.first(where: { $0.count >= q * total }) else { return "?" }
        return bucket.le.isInfinite ? "> \(fmt(bounds[bounds.count - 2].le * 1000)) ms" : "≤ \(fmt(bucket.le * 1000)) ms"
    }

    var summary: String {
        guard total > 0 else { return "(not scraped)" }
        return "(\(Int(total))): p50 \(quantile(0.5)), p99 \(quantile(0.99)), p99.9 \(quantile(0.999))"
    }
}

/// Measures the disk beside the daemon: a small write and an `fdatasync` every 5 ms on a file of its
/// own in the same file system.
final class DiskProbe: @unchecked Sendable {
    private let path: String
    private let lock = NSLock()
    private var stopped = false
    private var durations: [Double] = []
    private let done = DispatchSemaphore(value: 0)

    init(path: String) { self.path = path }

    func start() {
        Thread { [self] in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            defer {
                close(fd)
                unlink(path)
                done.signal()
            }
            let block = [UInt8](repeating: 120, count: 4096)
            while !lock.withLock({ stopped }) {
                _ = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                let began = monotonicSeconds()
                _ = fdatasync(fd)
                let took = (monotonicSeconds() - began) * 1000
                lock.withLock { durations.append(took) }
                usleep(5000)
            }
        }.start()
    }

    /// Stops; the sync durations in milliseconds, sorted.
    func stop() -> [Double] {
        lock.withLock { stopped = true }
        done.wait()
        return lock.withLock { durations.sorted() }
    }
}

extension [Double] {
    func quantile(_ q: Double) -> Double { isEmpty ? 0 : self[Swift.min(count - 1, Int(Double(count) * q))] }
}
