import JourneyCore
import Logging

/// One log record as both handlers see it: the event with the handler's metadata, the metadata
/// provider's and the call's merged (the call wins), and the user id already hashed when configured.
struct LogRecord {
    var level: Logger.Level
    var message: String
    var metadata: Logger.Metadata
    var error: (any Error)?
    var file: String
    var function: String
    var line: UInt

    init(
        event: LogEvent,
        handlerMetadata: Logger.Metadata,
        provider: Logger.MetadataProvider?,
        userIDs: UserIDPolicy
    ) {
        var merged = handlerMetadata
        if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        if case .hashed = userIDs, let id = merged[RecordField.userID] {
            merged[RecordField.userID] = .string(userIDs.apply(to: id.description))
        }
        level = event.level
        message = event.message.description
        metadata = merged
        error = event.error
        file = event.file
        function = event.function
        line = event.line
    }

    /// The record's kind (metadata `kind`), when it names one of journeyd's ``RecordKind``s.
    var kind: RecordKind? { metadata[RecordField.kind].flatMap { RecordKind(rawValue: $0.description) } }

    /// The metadata in the order people read it: `kind`, then journeyd's fields in their documented
    /// order, then any other key alphabetically.
    var orderedMetadata: [(key: String, value: String)] {
        let known = Self.fieldOrder
        return metadata.sorted { a, b in
            let ia = known.firstIndex(of: a.key) ?? known.count
            let ib = known.firstIndex(of: b.key) ?? known.count
            return ia != ib ? ia < ib : a.key < b.key
        }.map { ($0.key, $0.value.description) }
    }

    static let fieldOrder = [
        RecordField.kind, RecordField.journey, RecordField.journeyVersion, RecordField.step, RecordField.userID,
        RecordField.touchID, RecordField.channel, RecordField.outcome, RecordField.source, RecordField.reason,
    ]
}
