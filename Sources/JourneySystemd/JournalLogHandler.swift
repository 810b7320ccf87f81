import CSystemd
import Glibc
import JourneyCore
import Logging

/// A swift-log handler that writes each record to the journal as native fields, through
/// `sd_journal_sendv(3)` (one datagram per record, so a multi-line message stays one entry):
///
/// - `MESSAGE`, `PRIORITY` (syslog: debug 7, info 6, notice 5, warning 4, error 3, critical 2),
///   `SYSLOG_IDENTIFIER=journeyd`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, `ERROR` when the call passed one;
/// - `MESSAGE_ID` from the metadata `kind` (``RecordKind/messageID``), explained by journeyd.catalog
///   through `journalctl -x`;
/// - every metadata key upper-cased as its own field (`journey` → `JOURNEY`, `touch_id` → `TOUCH_ID`), with
///   `user_id` hashed when configured (``UserIDPolicy``).
///
/// Query them as `journalctl -u journeyd JOURNEY=welcome -o json` or `journalctl MESSAGE_ID=…`.
/// Use it only when standard error goes to the journal (``JournalLogHandler/isStandardErrorJournal()``);
/// from a terminal use ``StandardErrorLogHandler``. When the journal cannot be reached, records go to
/// standard error instead of being lost.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let identifier: String
    let userIDs: UserIDPolicy

    /// - Parameters:
    ///   - identifier: `SYSLOG_IDENTIFIER=` (what `journalctl -t` selects).
    ///   - userIDs: what to write for the `user_id` metadata value.
    public init(identifier: String = "journeyd", userIDs: UserIDPolicy = .plain) {
        self.identifier = identifier
        self.userIDs = userIDs
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, provider: metadataProvider, userIDs: userIDs)
        let fields = Self.fields(of: record, identifier: identifier)
        if Self.send(fields) < 0 {
            StandardErrorLogHandler.write(StandardErrorLogHandler.format(record, at: StandardErrorLogHandler.now()))
        }
    }

    /// The record's journal fields, `NAME=value` each, in the order they are sent.
    static func fields(of record: LogRecord, identifier: String) -> [String] {
        var fields = [
            "MESSAGE=" + record.message,
            "PRIORITY=\(priority(of: record.level))",
            "SYSLOG_IDENTIFIER=" + identifier,
        ]
        if let kind = record.kind { fields.append("MESSAGE_ID=" + kind.messageID) }
        fields.append("CODE_FILE=" + record.file)
        fields.append("CODE_LINE=\(record.line)")
        fields.append("CODE_FUNC=" + record.function)
        if let error = record.error { fields.append("ERROR=\(error)") }
        for (key, value) in record.orderedMetadata {
            var name = fieldName(key)
            if reservedNames.contains(name) { name = "META_" + name }  // never overrides MESSAGE or PRIORITY
            fields.append(name + "=" + value)
        }
        return fields
    }

    static let reservedNames: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERROR",
        "ERRNO",
    ]

    /// A journal field name for a metadata key: upper case, only `A-Z`, `0-9` and `_` (anything else
    /// becomes `_`), not starting with `_` (those are the journal's trusted fields, dropped when sent) or
    /// a digit, at most 64 characters. journald silently drops fields with any other name.
    static func fieldName(_ key: String) -> String {
        var name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                switch scalar {
                case "A"..."Z", "0"..."9", "_": Character(scalar)
                default: "_"
                }
            }
        )
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty || name.first!.isNumber { name = "F_" + name }
        return String(name.prefix(64))
    }

    /// syslog priority of a swift-log level.
    static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Sends one entry; returns `sd_journal_sendv`'s result (negative errno on failure).
    static func send(_ fields: [String]) -> Int32 {
        // One buffer holds every field; the iovecs point into it.
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { buffer in
            let vectors = ranges.map { range in
                iovec(iov_base: buffer.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }

    /// Whether standard error is connected to the journal: `$JOURNAL_STREAM` (set by systemd for
    /// services whose output goes to the journal) names the device and inode of file descriptor 2.
    /// False from a terminal, in a pipe, or when a child inherited the variable but not the stream.
    public static func isStandardErrorJournal() -> Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
