import Foundation
import Glibc
public import JourneyCore
public import JourneyRules

/// Where the outbox dispatcher hands touches. This daemon slice has the dry-run channels only — `log`
/// (one line on standard error) and `file` (one JSON line per touch, appended) — the full adapter seam
/// with retries and rate limits belongs to the channels milestone.
public protocol DeliveryChannel: AnyObject {
    /// Whether delivering a touch twice is harmless (the channel or its provider deduplicates by touch
    /// id): touches interrupted by a crash are then resent instead of held as `in_doubt`.
    var acceptsIdempotencyKeys: Bool { get }

    /// Delivers the touches in order. Throws when nothing more can be delivered now; the touches not
    /// delivered stay queued.
    func deliver(_ touches: [Touch]) throws
}

public struct ChannelError: Error, CustomStringConvertible {
    public var channel: String
    public var reason: String
    public var description: String { "channel \(channel): \(reason)" }
}

/// Builds the channels of a rule set that this slice can deliver through.
enum DeliveryChannels {
    static func make(_ definitions: [ChannelDefinition], stateDirectory: String) throws -> [String: any DeliveryChannel] {
        var channels: [String: any DeliveryChannel] = [:]
        for definition in definitions {
            switch definition.type {
            case "log":
                channels[definition.name] = LogChannel(name: definition.name)
            case "file":
                guard case .string(let path)? = definition.options["path"] else {
                    throw ChannelError(channel: definition.name, reason: "a file channel needs `path`")
                }
                let full = path.hasPrefix("/") ? path : stateDirectory + "/" + path
                channels[definition.name] = try FileChannel(name: definition.name, path: full)
            default:
                continue  // delivered by later milestones; their touches stay queued
            }
        }
        return channels
    }
}

final class LogChannel: DeliveryChannel {
    let name: String
    var acceptsIdempotencyKeys: Bool { false }
    init(name: String) { self.name = name }

    func deliver(_ touches: [Touch]) throws {
        var text = ""
        for t in touches {
            text += "touch \(t.id) sent: channel=\(name) journey=\(t.journey) step=\(t.step) template=\(t.template) user=\(t.user)\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Appends touches as JSON lines and fsyncs before reporting success. It remembers the touch ids already
/// in its file (read once when it opens), so a touch resent after a crash is not written twice.
final class FileChannel: DeliveryChannel {
    let name: String
    let path: String
    private let fd: Int32
    private var written: Set<String> = []
    var acceptsIdempotencyKeys: Bool { true }

    init(name: String, path: String) throws {
        self.name = name
        self.path = path
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ChannelError(channel: name, reason: "cannot open \(path): \(String(cString: strerror(errno)))") }
        // Lines start with {"touch_id":"<16 hex>": the id is at a fixed place. A torn last line (a crash
        // in mid-write) is ignored; its touch is written again whole.
        if let existing = FileManager.default.contents(atPath: path) {
            for line in existing.split(separator: UInt8(ascii: "\n")) where line.count > 30 && line.last == UInt8(ascii: "}") {
                written.insert(String(decoding: line.dropFirst(13).prefix(16), as: UTF8.self))
            }
        }
    }

    deinit { close(fd) }

    func deliver(_ touches: [Touch]) throws {
        var bytes: [UInt8] = []
        for t in touches where written.insert(t.id).inserted { t.writeJSONLine(into: &bytes) }
        if bytes.isEmpty { return }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ChannelError(channel: name, reason: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw ChannelError(channel: name, reason: "fsync \(path): \(String(cString: strerror(errno)))") }
    }
}
