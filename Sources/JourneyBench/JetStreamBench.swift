import Foundation
import JourneyCore
import JourneyNATS

/// `--only jetstream`: events per second into a JetStream stream on a loopback `nats-server` (file
/// storage in the bench's work directory) — published one at a time waiting for each PubAck, and in
/// asynchronous batches waiting for all of a batch's PubAcks — and read back by partition.
extension Stages {
    func jetstream(into report: inout Report) throws {
        let count = events
        report.line("## jetstream: \(count) events into one stream of 64 partitions on a loopback nats-server")
        report.line("")
        let server = try BenchNATSServer(directory: work + "/nats")
        defer { server.stop() }
        let stream = try JetStreamStream(connection: try NATSConnection(url: server.url), options: .init(partitions: 64))
        let publisher = try PartitionPublisher(stream: stream)
        // A Segment track event of about 300 bytes, as the inputs publish them.
        func message(_ i: Int, _ run: String) -> PartitionPublisher.Message {
            let user = "user-\(i % 20_000)"
            let line = #"{"type":"track","event":"Order Completed","userId":"\#(user)","messageId":"\#(run)-\#(i)","timestamp":"2026-12-05T12:00:00.000Z","properties":{"orderId":"o-\#(i)","revenue":42.5,"currency":"EUR","products":[{"sku":"sku-\#(i % 97)","price":42.5}]}}"#
            return .init(partition: stream.partition(of: user), messageId: "\(run)-\(i)", payload: Array(line.utf8))
        }
        for batchSize in [1000, 100] {
            let messages = (0..<count).map { message($0, "batch\(batchSize)") }
            let (wall, cpu) = try timed {
                for start in stride(from: 0, to: count, by: batchSize) {
                    let acknowledged = try publisher.publish(batch: Array(messages[start..<min(start + batchSize, count)]))
                    guard acknowledged.stored + acknowledged.duplicates == min(batchSize, count - start) else { throw BenchError("a batch was not acknowledged whole") }
                }
            }
            report.line("- async publish, batches of \(batchSize), waiting for every PubAck of a batch: \(fmt(wall)) s wall, \(fmt(cpu)) s CPU (journeyd's side) → **\(rate(Double(count) / wall)) events/s**")
        }
        let messages = (0..<count).map { message($0, "sync") }
        let (wall, cpu) = try timed {
            for message in messages { _ = try publisher.publish(message) }
        }
        report.line("- sync publish, one PubAck per event: \(fmt(wall)) s wall, \(fmt(cpu)) s CPU → **\(rate(Double(count) / wall)) events/s**")
        var read = 0
        let (readWall, _) = try timed {
            for partition in 0..<64 {
                try JetStreamLog(stream: stream, partition: partition).read(after: 0) { _, _ in
                    read += 1
                    return true
                }
            }
        }
        report.line("- read back (`JetStreamLog.read`, every partition from the start, pull consumer fetching 1,024): \(read) records in \(fmt(readWall)) s → **\(rate(Double(read) / readWall)) records/s**")
        report.line("")
    }

    func timed(_ body: () throws -> Void) throws -> (wall: Double, cpu: Double) {
        let cpu = cpuSeconds()
        let start = Date()
        try body()
        return (Date().timeIntervalSince(start), cpuSeconds() - cpu)
    }
}

/// A `nats-server -js` on 127.0.0.1 at a port it picks, storing in `directory`.
final class BenchNATSServer {
    let process = Process()
    let url: String

    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = directory + "/server.log"
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nats-server")
        process.arguments = ["-js", "-sd", directory + "/store", "-a", "127.0.0.1", "-p", "-1", "-l", log]
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.contains("Server is ready"), let range = text.range(of: "Listening for client connections on ") {
                url = "nats://" + text[range.upperBound...].prefix { !$0.isNewline }
                return
            }
            usleep(20_000)
        }
        process.terminate()
        throw BenchError("nats-server did not start within 60 s (\(log))")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
