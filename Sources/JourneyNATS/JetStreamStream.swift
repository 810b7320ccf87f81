import CNats
import Foundation
import JourneyCore

/// Cluster mode's event log: ONE JetStream stream (default `JOURNEYD`) whose subjects carry the
/// partition, `journeyd.events.<partition>`, partition = `StableHash(userId) mod P` (the event's
/// `userId`, which is `userId ?? anonymousId`). P is fixed when the stream is created and written into
/// its description (`partitions=64`): JetStream 2.9 has no stream metadata, and a description is kept
/// by every server and shown by `nats stream info`. An instance configured with another P refuses to
/// start, since its events would land in other partitions than the owners read.
public final class JetStreamStream: Sendable {
    /// How the stream is made when it does not exist yet.
    ///
    /// - `name` (default `JOURNEYD`)
    /// - `partitions` (default 64): fixed at creation; checked on every open
    /// - `duplicateWindow` (default 2 minutes): how long JetStream remembers a `Nats-Msg-Id`; a
    ///   publish retried within it is stored once. Set again on every open (it may change).
    /// - `replicas` (default 1; 3 on a three-server cluster), `memory` (default false: file storage)
    public struct Options: Sendable {
        public var name = "JOURNEYD"
        public var partitions = 64
        public var duplicateWindow: Duration = .seconds(120)
        public var replicas = 1
        public var memory = false
        /// Tests only: runs after the lookup that found no stream, before this instance creates it — where
        /// another instance's creation lands when both start at once.
        var beforeCreating: (@Sendable () -> Void)?
        /// How long a JetStream API request (look up, create, update the stream) may take, in milliseconds.
        /// Tests that start many servers beside a busy suite give it more than the default.
        var apiWait: Int64 = 10_000
        public init(name: String = "JOURNEYD", partitions: Int = 64, duplicateWindow: Duration = .seconds(120), replicas: Int = 1) {
            self.name = name
            self.partitions = partitions
            self.duplicateWindow = duplicateWindow
            self.replicas = replicas
        }
    }

    public static let subjectPrefix = "journeyd.events"

    public let connection: NATSConnection
    public let name: String
    public let partitions: Int

    /// The subject of `partition`'s events.
    public func subject(_ partition: Int) -> String { "\(Self.subjectPrefix).\(partition)" }

    /// The partition of the user `key` (the event's `userId`, that is `userId ?? anonymousId`).
    public func partition(of key: String) -> Int {
        var hash = StableHash()
        hash.combine(key)
        return Int(hash.value % UInt64(partitions))
    }

    /// Opens the stream, creating it when it does not exist; refuses one made with another partition
    /// count (or not by journeyd).
    public init(connection: NATSConnection, options: Options = Options()) throws(JetStreamError) {
        precondition(options.partitions > 0, "a stream has at least one partition")
        self.connection = connection
        name = options.name
        partitions = options.partitions
        let context = try JetStreamContext(connection, wait: options.apiWait)
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        var status = js_GetStreamInfo(&info, context.handle, name, nil, &code)
        if status == NATS_NOT_FOUND || code == JSStreamNotFoundErr {
            options.beforeCreating?()
            status = Self.create(options, in: context, info: &info, code: &code)
            // Instances of a new cluster start together: another may have made the stream between the
            // lookup and the creation, and the server then refuses this one ("subjects overlap", or
            // "name already in use"). Its stream is the one to open, checked below like any other.
            // (A stream of another name on the same subjects is not found again: that refusal stands.)
            if status != NATS_OK && (code == JSStreamSubjectOverlapErr || code == JSStreamNameExistErr) {
                var again = jsErrCode(0)
                if js_GetStreamInfo(&info, context.handle, name, nil, &again) == NATS_OK { status = NATS_OK }
            }
        }
        guard status == NATS_OK, let info else { throw context.error(status, code, subject: "stream \(name)", operation: "open the stream") }
        defer { jsStreamInfo_Destroy(info) }
        let description = info.pointee.Config.pointee.Description.map { String(cString: $0) } ?? ""
        guard let created = Self.partitionCount(in: description) else {
            throw JetStreamError(
                server: connection.server, subject: "stream \(name)", operation: "open the stream",
                reason: "it exists but journeyd did not make it (its description \"\(description)\" has no partitions=P); choose another cluster.stream name")
        }
        guard created == partitions else {
            throw JetStreamError(
                server: connection.server, subject: "stream \(name)", operation: "open the stream",
                reason: "it was created with \(created) partitions and this instance is configured with \(partitions); P is fixed when the stream is created: set cluster.partitions to \(created)")
        }
        let window = Self.nanoseconds(options.duplicateWindow)
        if info.pointee.Config.pointee.Duplicates != window {
            var updated: UnsafeMutablePointer<jsStreamInfo>?
            var config = info.pointee.Config.pointee
            config.Duplicates = window
            status = js_UpdateStream(&updated, context.handle, &config, nil, &code)
            guard status == NATS_OK else { throw context.error(status, code, subject: "stream \(name)", operation: "set the duplicate window") }
            jsStreamInfo_Destroy(updated)
        }
    }

    static func create(_ options: Options, in context: JetStreamContext, info: inout UnsafeMutablePointer<jsStreamInfo>?, code: inout jsErrCode) -> natsStatus {
        var config = jsStreamConfig()
        jsStreamConfig_Init(&config)
        let description = "journeyd event log: partitions=\(options.partitions) (fixed at creation), subjects \(subjectPrefix).<partition>"
        let subjects = "\(subjectPrefix).*"
        return options.name.withCString { name in
            description.withCString { description in
                subjects.withCString { subject in
                    var list: [UnsafePointer<CChar>?] = [subject]
                    return list.withUnsafeMutableBufferPointer { list in
                        config.Name = name
                        config.Description = description
                        config.Subjects = list.baseAddress
                        config.SubjectsLen = 1
                        config.Storage = options.memory ? js_MemoryStorage : js_FileStorage
                        config.Replicas = Int64(options.replicas)
                        config.Duplicates = nanoseconds(options.duplicateWindow)
                        config.AllowDirect = true  // firstSequence asks for the next message of a subject
                        // Two instances starting at once: an identical stream made by the other is returned as is.
                        return js_AddStream(&info, context.handle, &config, nil, &code)
                    }
                }
            }
        }
    }

    /// P from a description `… partitions=64 …`.
    static func partitionCount(in description: String) -> Int? {
        guard let range = description.range(of: "partitions=") else { return nil }
        return Int(description[range.upperBound...].prefix { $0.isNumber })
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
