import Foundation
import Glibc
import JourneyChannels
import JourneyCore
import Synchronization

/// `--only channels`: touches per second through the ``DeliveryPipeline`` — to a webhook receiver on
/// loopback (real HTTP, Standard-Webhooks signing, the pipeline's limits and bookkeeping), and to a
/// `file` channel (it takes a batch in one call: one write and one fsync per batch of 512).
extension Stages {
    func channels(into report: inout Report) throws {
        let touches = max(1000, min(events / 20, 50_000))
        report.line("## channels: \(touches) touches through the delivery pipeline")
        report.line("")
        let receiver = try LoopbackReceiver()
        defer { receiver.stop() }
        try "whsec_YmVuY2htYXJrLXNlY3JldC1iZW5jaG1hcmstc2VjcmV0\n".write(toFile: work + "/bench.whsec", atomically: true, encoding: .utf8)
        let lines = try blocking { () async throws -> [String] in
            var lines: [String] = []
            for concurrency in [16, 64] {
                let channel = try await ChannelRegistry.builtin.build(
                    [
                        ChannelSpec(
                            name: "hook", type: "webhook",
                            options: [
                                "url": .string("http://127.0.0.1:\(receiver.port)/hook"), "allow_private": true,
                                "secret_file": .string(work + "/bench.whsec"), "concurrency": .number(Double(concurrency)),
                            ], path: "channels[0]")
                    ], context: ChannelContext(stateDirectory: work))
                let result = try await Self.run(touches: touches, channel: "hook", through: channel)
                guard result.sent == touches, receiver.requests.load(ordering: .relaxed) >= touches else {
                    throw BenchError("webhook: \(result.sent) of \(touches) sent")
                }
                lines.append(
                    "- webhook to a loopback receiver, channel concurrency \(concurrency): \(fmt(result.seconds)) s wall, \(fmt(result.cpu)) s CPU → **\(rate(Double(touches) / result.seconds)) touches/s** (batches of 512: p50 \(fmt(result.p50 * 1000)) ms, p99 \(fmt(result.p99 * 1000)) ms)"
                )
                receiver.requests.store(0, ordering: .relaxed)
                await channel.shutdown()
            }
            let fileTouches = min(touches, 5000)
            let file = try await ChannelRegistry.builtin.build(
                [ChannelSpec(name: "archive", type: "file", options: ["path": "bench-touches.jsonl"], path: "channels[0]")],
                context: ChannelContext(stateDirectory: work))
            let result = try await Self.run(touches: fileTouches, channel: "archive", through: file)
            guard result.sent == fileTouches else { throw BenchError("file: \(result.sent) of \(fileTouches) sent") }
            lines.append(
                "- file channel (a batch of 512 in one call: one write, one fsync), \(fileTouches) touches: \(fmt(result.seconds)) s wall → **\(rate(Double(fileTouches) / result.seconds)) touches/s**"
            )
            return lines
        }
        for line in lines { report.line(line) }
        report.line("")
    }

    struct ChannelRun {
        var sent = 0
        var seconds = 0.0
        var cpu = 0.0
        var p50 = 0.0
        var p99 = 0.0
    }

    /// Feeds `touches` messages in batches of 512, as the daemon's dispatcher does, until each is sent.
    static func run(touches: Int, channel: String, through channels: ChannelSet) async throws -> ChannelRun {
        let pipeline = DeliveryPipeline(channels: channels)
        let start = Timestamp(iso8601: "2025-01-06T10:00:00Z")!
        var pending = (0..<touches).map { i in
            let id = String(format: "%016llx", UInt64(i) &* 0x9e37_79b9_7f4a_7c15)
            let touch = Touch(
                id: id, user: "u\(i % 5000)", journey: "cart_abandonment", version: "v1", enrollment: "u\(i % 5000)#1", step: "remind",
                channel: channel, template: "cart_reminder", at: start)
            return PendingDelivery(
                message: OutboundMessage(
                    touch: touch, traits: ["email": "ada@example.com", "first_name": "Ada"], subject: "Your cart misses you",
                    text: "Hi Ada, your cart is waiting.", data: ["cart_id": .string("c-\(i)")]))
        }
        var run = ChannelRun()
        var batchSeconds: [Double] = []
        let wall = DispatchTime.now().uptimeNanoseconds
        let cpu = cpuSeconds()
        var rounds = 0
        while !pending.isEmpty && rounds < 10_000 {
            rounds += 1
            let batch = Array(pending.prefix(512))
            pending.removeFirst(batch.count)
            let batchStart = DispatchTime.now().uptimeNanoseconds
            let reports = await pipeline.deliver(batch)
            batchSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - batchStart) / 1e9)
            for (item, report) in zip(batch, reports) {
                if case .sent = report.decision { run.sent += 1 } else { pending.append(item) }
            }
        }
        run.seconds = Double(DispatchTime.now().uptimeNanoseconds - wall) / 1e9
        run.cpu = cpuSeconds() - cpu
        batchSeconds.sort()
        run.p50 = batchSeconds[batchSeconds.count / 2]
        run.p99 = batchSeconds[min(batchSeconds.count - 1, batchSeconds.count * 99 / 100)]
        return run
    }
}

/// Runs async work from the synchronous benchmark and waits for it.
func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do { result = .success(try await work()) } catch { result = .failure(error) }
        box.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    return try box.withLock { $0! }.get()
}

/// A minimal HTTP/1.1 receiver on 127.0.0.1 for the benchmark: a thread per (keep-alive) connection,
/// every request answered `204 No Content`. It parses just enough (headers, Content-Length) to be a
/// correct peer; it is not a server for anything else.
final class LoopbackReceiver: Sendable {
    let port: Int
    let requests = Atomic<Int>(0)
    private let listener: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(listener, raw, length) == 0 && listen(listener, 512) == 0 && getsockname(listener, raw, &length) == 0
            }
        }
        guard bound else { throw BenchError("the loopback receiver cannot listen") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                Thread.detachNewThread { self.serve(connection) }
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let response = Array("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".utf8)
        while true {
            // One request: the head up to CRLFCRLF, then Content-Length bytes of body.
            var headEnd: Int?
            var needed: Int?
            while true {
                if headEnd == nil, let end = Self.find(Array("\r\n\r\n".utf8), in: buffer) {
                    headEnd = end + 4
                    let head = String(decoding: buffer[..<end], as: UTF8.self).lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    needed = end + 4 + length
                }
                if let needed, buffer.count >= needed { break }
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            buffer.removeFirst(needed!)
            requests.add(1, ordering: .relaxed)
            let written = response.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written != response.count { return }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
