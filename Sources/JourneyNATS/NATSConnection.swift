import CNats
import Foundation

/// One connection to a NATS server (or cluster: several URLs separated by commas), shared by the stream,
/// the publishers and the logs of an instance. libnats' connection is thread-safe; it reconnects by
/// itself (without limit) and buffers publishes while it does.
public final class NATSConnection: @unchecked Sendable {
    let handle: OpaquePointer
    /// The server URL without credentials, for messages.
    public let server: String

    /// Connects to `url` (`nats://host:port`), authenticating with `credentialsFile` (a `.creds` file
    /// holding the user JWT and NKey seed) when given. `name` is how the server lists the connection.
    public init(url: String, credentialsFile: String? = nil, name: String = "journeyd") throws(JetStreamError) {
        server = NATSConnection.redacted(url)
        var options: OpaquePointer?
        var status = natsOptions_Create(&options)
        guard status == NATS_OK, let options else { throw .call(status, server: server, subject: "-", operation: "connect") }
        defer { natsOptions_Destroy(options) }
        status = natsOptions_SetURL(options, url)
        if status == NATS_OK { status = natsOptions_SetName(options, name) }
        // A daemon keeps reconnecting: an outage of the server must not end the connection for good.
        if status == NATS_OK { status = natsOptions_SetMaxReconnect(options, -1) }
        if status == NATS_OK, let credentialsFile { status = natsOptions_SetUserCredentialsFromFiles(options, credentialsFile, nil) }
        guard status == NATS_OK else { throw .call(status, server: server, subject: "-", operation: "configure the connection") }
        var connection: OpaquePointer?
        status = natsConnection_Connect(&connection, options)
        guard status == NATS_OK, let connection else { throw .call(status, server: server, subject: "-", operation: "connect") }
        handle = connection
    }

    deinit { natsConnection_Destroy(handle) }

    /// `nats://user:secret@host:4222` as `nats://host:4222`: messages never carry credentials.
    static func redacted(_ url: String) -> String {
        url.split(separator: ",").map { one -> String in
            guard let at = one.lastIndex(of: "@") else { return String(one) }
            let scheme = one.range(of: "://").map { String(one[..<$0.upperBound]) } ?? ""
            return scheme + one[one.index(after: at)...]
        }.joined(separator: ",")
    }
}
