import Glibc
import Logging
import Synchronization

/// A swift-log handler for people at a terminal: one line per record on standard error,
///
///     2026-12-01T21:00:00.123Z notice kind=touch_sent journey=welcome touch_id=9f… touch sent
///
/// the UTC time with milliseconds, the level, the metadata as `key=value` (`kind` and journeyd's fields
/// first; values with spaces or quotes are quoted), then the message. A multi-line message continues on
/// indented lines, so every record still starts at the left margin. Each record is one `write(2)`.
public struct StandardErrorLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let userIDs: UserIDPolicy

    public init(userIDs: UserIDPolicy = .plain) {
        self.userIDs = userIDs
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, provider: metadataProvider, userIDs: userIDs)
        Self.write(Self.format(record, at: Self.now()))
    }

    /// The record's text, ending in a newline.
    static func format(_ record: LogRecord, at time: timespec) -> String {
        var line = timestamp(time) + " " + record.level.rawValue
        for (key, value) in record.orderedMetadata { line += " " + key + "=" + quoted(value) }
        if let error = record.error { line += " error=" + quoted("\(error)") }
        let lines = record.message.split(separator: "\n", omittingEmptySubsequences: false)
        line += " " + (lines.first.map(String.init) ?? "")
        for continuation in lines.dropFirst() { line += "\n    " + continuation }
        return line + "\n"
    }

    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else {
            return value
        }
        var escaped = "\""
        for character in value {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            default: escaped.append(character)
            }
        }
        return escaped + "\""
    }

    /// `2026-12-01T21:00:00.123Z`.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(time.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }

    static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    private static let lock = Mutex(())

    /// Writes `text` to file descriptor 2 whole (records from several threads never interleave).
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
