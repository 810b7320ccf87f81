import Foundation
import Glibc
import JourneyCore
import JourneySimulation

/// Issue 11's figures for the HTTP input, on the real binary: events/s through `POST /v1/batch` with
/// batches of 100 from 4, 16 and 32 keep-alive clients (a load generator opens as many connections as it
/// needs to saturate the server, as wrk and hey do; the 4-client column stays, for honesty), as a share of
/// the Unix socket input with 4 clients in the same run (target ≥ 80 %), and the answer latency of batches
/// paced at 5,000 events/s.
extension Stages {
    static let writeKey = "wk-bench"

    /// Rules with the HTTP input on and its write key.
    func httpRules() throws -> String {
        let rules = try daemonRules("http-rules", journeyd: "inputs:\n  http:\n    sources:\n      - { name: bench, key_file: bench.key }\n")
        try (Self.writeKey + "\n").write(toFile: rules + "/bench.key", atomically: true, encoding: .utf8)
        return rules
    }

    func http(_ eventsFile: String, into report: inout Report) throws {
        report.line("## HTTP input: the Segment Tracking API on `journeyd run` (real binary, `synchronous=FULL`)")
        report.line("")
        let rules = try httpRules()
        report.line(
            "| run | socket, 4 clients, events/s | socket, 4 clients × 100 lines in flight (share of socket) "
                + "| HTTP `/v1/batch` ×100, 4 clients, events/s (share of socket) | HTTP ×100, 16 clients (share) | HTTP ×100, 32 clients (share) "
                + "| daemon CPU per event: socket / socket 4 × 100 / HTTP 4 clients / HTTP 16 / HTTP 32 "
                + "| load generator CPU per event: socket / HTTP 4 / HTTP 16 / HTTP 32 |")
        report.line("|---|---|---|---|---|---|---|---|")
        var shares: [Double] = []
        var wideShares: [Double] = []
        var widestShares: [Double] = []
        var last: [(String, ClientsRun)] = []
        for run in 1...runs {
            let socketRun = try socketClients(eventsFile, rules: rules, clients: 4, clock: "wall")
            let smallRun = try socketClients(eventsFile, rules: rules, clients: 4, window: 100, clock: "wall")
            let httpRun = try httpClients(eventsFile, rules: rules, clients: 4, batch: 100)
            let wideRun = try httpClients(eventsFile, rules: rules, clients: 16, batch: 100)
            let widestRun = try httpClients(eventsFile, rules: rules, clients: 32, batch: 100)
            let socket = Double(events) / socketRun.seconds
            let small = Double(events) / smallRun.seconds
            let http = Double(events) / httpRun.seconds
            let wide = Double(events) / wideRun.seconds
            let widest = Double(events) / widestRun.seconds
            shares.append(http / socket)
            wideShares.append(wide / socket)
            widestShares.append(widest / socket)
            let perEvent = { (cpu: Double) in fmt(cpu / Double(events) * 1_000_000) }
            report.line(
                "| \(run) | \(rate(socket)) | \(rate(small)) (\(percent(small / socket))) | \(rate(http)) (\(percent(http / socket))) "
                    + "| \(rate(wide)) (\(percent(wide / socket))) | \(rate(widest)) (\(percent(widest / socket))) | "
                    + [socketRun, smallRun, httpRun, wideRun, widestRun].map { perEvent($0.daemonCPU) }.joined(separator: " / ") + " µs | "
                    + [socketRun, httpRun, wideRun, widestRun].map { perEvent($0.generatorCPU) }.joined(separator: " / ") + " µs |")
            last = [("socket", socketRun), ("socket 4 × 100 in flight", smallRun), ("HTTP 4", httpRun), ("HTTP 16", wideRun), ("HTTP 32", widestRun)]
        }
        func summary(_ values: [Double]) -> String {
            let sorted = values.sorted()
            return "median **\(percent(sorted[sorted.count / 2]))**, spread \(percent(sorted.first!))–\(percent(sorted.last!))"
        }
        report.line("")
        report.line("- HTTP with batches of 100 as a share of the socket input (4 clients each), same run: " + summary(shares) + " (target ≥ 80 %)")
        report.line("- with 16 HTTP clients (each waits for its batch's 200, so in-flight events are clients × 100): " + summary(wideShares))
        report.line("- with 32 HTTP clients (3,200 events in flight; a load generator uses as many connections as it needs): " + summary(widestShares))
        report.line("- load average at the end: " + ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "–"))
        report.line("")
        report.line("The same work? `journeyd status --json` at the last answer, last run:")
        report.line("")
        let keys = ["events", "duplicates", "touches", "delivered", "timers", "deferred", "suppressed", "skipped_late", "log_sequence", "turns"]
        report.line("| figure | " + last.map(\.0).joined(separator: " | ") + " |")
        report.line("|---|" + last.map { _ in "---|" }.joined())
        for key in keys {
            report.line("| \(key) | " + last.map { $0.1.status[key].map { String(Int($0)) } ?? "–" }.joined(separator: " | ") + " |")
        }
        try httpLatency(rules: rules, into: &report)
        report.line("")
    }

    /// `clients` keep-alive connections, each posting its users' events (one user stays on one client,
    /// in order) in batches of `batch`, the next once the previous is answered: daemon start to last answer.
    func httpClients(_ eventsFile: String, rules: String, clients: Int, batch: Int) throws -> ClientsRun {
        let state = work + "/daemon-http-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var shares = [[Substring]](repeating: [], count: clients)
        let text = try String(contentsOfFile: eventsFile, encoding: .utf8)
        for line in text.split(separator: "\n") {
            let user = line.range(of: "\"userId\":\"").map { line[$0.upperBound...].prefix { $0 != "\"" } } ?? ""
            var hash = StableHash()
            hash.combine(bytes: user.utf8)
            shares[Int(hash.value % UInt64(clients))].append(line)
        }
        let bodies = shares.map { lines in
            stride(from: 0, to: lines.count, by: batch).map { start in
                Array(("{\"batch\":[" + lines[start..<min(lines.count, start + batch)].joined(separator: ",") + "]}").utf8)
            }
        }
        let port = try freeLoopbackPort()
        let started = monotonicSeconds()
        let process = try launch(["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool",
                                  "--http", "127.0.0.1:\(port)"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let failed = Tally(0)
        let done = DispatchGroup()
        let generatorStarted = cpuSeconds()
        for client in 0..<clients {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                guard let connection = HTTPConnection(port: port, waitingSeconds: 60) else { return failed.add(bodies[client].count) }
                for body in bodies[client] where connection.post("/v1/batch", body: body, key: Self.writeKey) != 200 { failed.add(1) }
            }
        }
        done.wait()
        let seconds = monotonicSeconds() - started
        let cpu = cpuSeconds(of: process.processIdentifier)
        let generator = cpuSeconds() - generatorStarted
        guard failed.value == 0 else { throw BenchError("\(failed.value) HTTP batches were not answered 200") }
        return ClientsRun(seconds: seconds, daemonCPU: cpu, generatorCPU: generator, status: daemonStatus(rules: rules, state: state))
    }

    /// Batches of 100 paced at 5,000 events/s over 4 connections for 10 s; a batch's latency runs from
    /// when it was due (queueing behind a slow answer counts) to its `200`, sent once it is durable.
    func httpLatency(rules: String, into report: inout Report) throws {
        let rate = 5_000
        let seconds = 10
        let batch = 100
        let clients = 4
        let state = work + "/daemon-http-latency-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let process = try launch(["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool",
                                  "--http", "127.0.0.1:\(port)"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let events = EventGenerator(.init(users: 20_000, events: rate * seconds, span: .days(30), seed: 9)).map { $0.jsonValue.jsonText }
        let bodies = stride(from: 0, to: events.count, by: batch).map {
            Array(("{\"batch\":[" + events[$0..<min(events.count, $0 + batch)].joined(separator: ",") + "]}").utf8)
        }
        let interval = Double(batch) / Double(rate)
        let latencies = Samples()
        let failed = Tally(0)
        let done = DispatchGroup()
        guard let warmup = HTTPConnection(port: port, waitingSeconds: 60) else { throw BenchError("the HTTP input did not start") }
        _ = warmup
        let start = monotonicSeconds() + 0.2
        for client in 0..<clients {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                guard let connection = HTTPConnection(port: port, waitingSeconds: 60) else { return failed.add(1) }
                for index in stride(from: client, to: bodies.count, by: clients) {
                    let due = start + Double(index) * interval
                    let wait = due - monotonicSeconds()
                    if wait > 0 { usleep(UInt32(wait * 1e6)) }
                    if connection.post("/v1/batch", body: bodies[index], key: Self.writeKey) != 200 { failed.add(1) }
                    latencies.add(monotonicSeconds() - due)
                }
            }
        }
        done.wait()
        guard failed.value == 0 else { throw BenchError("\(failed.value) paced HTTP batches were not answered 200") }
        let sorted = latencies.sorted
        func percentile(_ p: Double) -> String { fmt(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000) }
        report.line(
            "- HTTP paced at \(rate) events/s (batches of \(batch) over \(clients) keep-alive connections) for \(seconds) s, touches through the "
                + "fsynced file channel; latency = due-to-send → `200` (answered once the batch is durable): \(sorted.count) batches; "
                + "p50 \(percentile(0.5)) ms, **p99 \(percentile(0.99)) ms**, max \(fmt((sorted.last ?? 0) * 1000)) ms")
    }
}

/// Latencies several threads add to.
final class Samples: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func add(_ value: Double) { lock.withLock { values.append(value) } }
    var sorted: [Double] { lock.withLock { values.sorted() } }
}

/// One keep-alive HTTP/1.1 connection to 127.0.0.1, as an SDK keeps one: requests one after another.
final class HTTPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects, retrying for up to `waitingSeconds` while nothing listens yet.
    init?(port: UInt16, waitingSeconds: Double) {
        let deadline = monotonicSeconds() + waitingSeconds
        while true {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected == 0 {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                self.fd = fd
                return
            }
            close(fd)
            guard monotonicSeconds() < deadline else { return nil }
            usleep(20_000)
        }
    }

    deinit { close(fd) }

    /// Posts `body` with the write key as Basic user; returns the status (0 when the connection failed).
    func post(_ path: String, body: [UInt8], key: String) -> Int {
        let authorization = Data("\(key):".utf8).base64EncodedString()
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic \(authorization)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + body
        var written = 0
        while written < request.count {
            let n = request.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            guard n > 0 else { return 0 }
            written += n
        }
        return readAnswer()
    }

    /// Reads one answer (status line, headers, a Content-Length body); returns its status.
    private func readAnswer() -> Int {
        var chunk = [UInt8](repeating: 0, count: 1 << 14)
        func fill() -> Bool {
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { return false }
            buffer += chunk[0..<n]
            return true
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                headEnd = (0...(buffer.count - 4)).first { buffer[$0..<($0 + 4)].elementsEqual(separator) }
            }
            if headEnd == nil, !fill() { return 0 }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let total = headEnd! + 4 + length
        while buffer.count < total { if !fill() { return 0 } }
        buffer.removeFirst(total)
        return status
    }
}

/// A loopback port nothing listens on now.
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("cannot find a free loopback port") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}
