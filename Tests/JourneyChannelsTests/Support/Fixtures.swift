import Foundation
import JourneyCore
import Logging
import Synchronization
import Testing

@testable import JourneyChannels

/// A touch for `channel`, due at a fixed time.
func sampleTouch(_ id: String = "0123456789abcdef", channel: String = "test", user: String = "u-42") -> Touch {
    Touch(
        id: id, user: user, journey: "cart_abandonment", version: "v1", enrollment: "\(user)#1", step: "remind",
        channel: channel, template: "cart_reminder", at: Timestamp(iso8601: "2025-01-06T10:00:00Z")!)
}

/// A rendered message for `channel`, to an address the tests' peers accept.
func sampleMessage(
    _ id: String = "0123456789abcdef", channel: String = "test", email: String = "ada@example.com", phone: String = "+4915112345678",
    subject: String? = "Your cart misses you", text: String = "Hi Ada,\nyour cart is waiting.", html: String? = nil,
    data: Value = ["cart_id": "c-1"]
) -> OutboundMessage {
    OutboundMessage(
        touch: sampleTouch(id, channel: channel),
        traits: ["email": .string(email), "phone": .string(phone), "first_name": "Ada"],
        subject: subject, text: text, html: html, data: data)
}

/// A fresh directory under the system's temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("journeyd-channels-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

/// Every log line an adapter wrote, rendered with its metadata, for the "no secret in logs" checks.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.MetadataValue? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.append("\(event.level) \(event.message) \(rendered)")
        }
    }
}

/// Builds one channel through the registry, as `channels.yaml` would.
func buildChannel(
    type: String, name: String = "test", options: Value, context: ChannelContext = ChannelContext()
) async throws -> ConfiguredChannel {
    let set = try await ChannelRegistry.builtin.build([ChannelSpec(name: name, type: type, options: options, path: "channels[0]")], context: context)
    return set.channels[0]
}

/// The problems the registry reports for one channel definition.
func problems(type: String, name: String = "test", options: Value, context: ChannelContext = ChannelContext()) -> [String] {
    ChannelRegistry.builtin.check([ChannelSpec(name: name, type: type, options: options, path: "channels[2]")], context: context)
        .map(\.description)
}

/// Waits up to `timeout` for `condition`, polling (for real peers that write files).
func eventually(timeout: Duration = .seconds(120), _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
}
