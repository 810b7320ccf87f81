import CNats

/// What went wrong talking to NATS: the server, the stream or subject, the operation and the reason
/// (the client's status, the JetStream error code when the server sent one, and the server's text).
///
/// Reads as `nats://127.0.0.1:4222 journeyd.events.3: publish failed: timeout (no PubAck within 5000 ms)`.
/// The server is shown without credentials.
public struct JetStreamError: Error, Sendable, CustomStringConvertible {
    public var server: String
    /// The subject, or the stream for stream operations.
    public var subject: String
    public var operation: String
    public var reason: String
    /// JetStream's error code (`JSStreamNotFoundErr` = 10059…), when the server sent one.
    public var code: Int?

    public init(server: String, subject: String, operation: String, reason: String, code: Int? = nil) {
        self.server = server
        self.subject = subject
        self.operation = operation
        self.reason = reason
        self.code = code
    }

    public var description: String { "\(server) \(subject): \(operation) failed: \(reason)" }

    /// The error for a failed libnats call: its status, the JetStream code and the thread's last error text.
    static func call(_ status: natsStatus, _ code: jsErrCode = jsErrCode(0), server: String, subject: String, operation: String) -> JetStreamError {
        var reason = String(cString: natsStatus_GetText(status))
        var ignored = NATS_OK
        if let last = nats_GetLastError(&ignored), last.pointee != 0 {
            let text = String(cString: last)
            if text != reason { reason += " (\(text))" }
        }
        let jsCode = Int(code.rawValue)
        if jsCode != 0 { reason += " [JetStream error \(jsCode)]" }
        return JetStreamError(server: server, subject: subject, operation: operation, reason: reason, code: jsCode == 0 ? nil : jsCode)
    }
}
