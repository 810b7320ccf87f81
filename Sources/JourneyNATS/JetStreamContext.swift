import CNats
import Synchronization

/// A libnats JetStream context (`jsCtx`) over a shared connection, with what its asynchronous publishes
/// were acknowledged with. Each publisher and log has its own, so waiting for "every outstanding PubAck"
/// (`js_PublishAsyncComplete`) waits for its own publishes only.
final class JetStreamContext: @unchecked Sendable {
    let handle: OpaquePointer
    let connection: NATSConnection
    let acks = PublishAcks()
    /// How long a JetStream request (a PubAck, a stream request) may take, in milliseconds.
    let wait: Int64

    init(_ connection: NATSConnection, wait: Int64 = 10_000, maxPending: Int64 = 8192) throws(JetStreamError) {
        self.connection = connection
        self.wait = wait
        var options = jsOptions()
        jsOptions_Init(&options)
        options.Wait = wait
        options.PublishAsync.MaxPending = maxPending
        options.PublishAsync.StallWait = wait
        options.PublishAsync.AckHandler = { _, message, ack, failure, closure in
            let acks = Unmanaged<PublishAcks>.fromOpaque(closure!).takeUnretainedValue()
            if let ack {
                acks.acknowledged(ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
            } else if let failure {
                let subject = failure.pointee.Msg.flatMap { natsMsg_GetSubject($0) }.map { String(cString: $0) } ?? "?"
                var reason = String(cString: natsStatus_GetText(failure.pointee.Err))
                if let text = failure.pointee.ErrText { reason += " (\(String(cString: text)))" }
                acks.failed(subject: subject, reason: reason, code: Int(failure.pointee.ErrCode.rawValue))
            }
            natsMsg_Destroy(message)
        }
        options.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(acks).toOpaque()
        var context: OpaquePointer?
        let status = natsConnection_JetStream(&context, connection.handle, &options)
        guard status == NATS_OK, let context else { throw .call(status, server: connection.server, subject: "-", operation: "open a JetStream context") }
        handle = context
    }

    deinit {
        // Acknowledgements still in flight call back with `acks`: wait for them; if they do not come,
        // keep `acks` alive for good rather than let a late callback touch freed memory.
        var options = jsPubOptions()
        jsPubOptions_Init(&options)
        options.MaxWait = wait
        if js_PublishAsyncComplete(handle, &options) != NATS_OK { _ = Unmanaged.passRetained(acks) }
        jsCtx_Destroy(handle)
    }

    /// Waits until every asynchronous publish of this context is acknowledged (or failed), at most `wait`.
    func waitForAcks(subject: String) throws(JetStreamError) {
        var options = jsPubOptions()
        jsPubOptions_Init(&options)
        options.MaxWait = wait
        let status = js_PublishAsyncComplete(handle, &options)
        guard status == NATS_OK else {
            throw JetStreamError.call(status, server: connection.server, subject: subject, operation: "wait for PubAcks")
        }
    }

    func error(_ status: natsStatus, _ code: jsErrCode = jsErrCode(0), subject: String, operation: String) -> JetStreamError {
        .call(status, code, server: connection.server, subject: subject, operation: operation)
    }
}

/// What the asynchronous publishes of one context were acknowledged with, as they come (on libnats'
/// thread): the highest stream sequence, how many were duplicates, the first failure.
final class PublishAcks: Sendable {
    struct State {
        var highest: UInt64 = 0
        var acknowledged = 0
        var duplicates = 0
        var failure: (subject: String, reason: String, code: Int)?
    }
    let state = Mutex(State())

    func acknowledged(_ sequence: UInt64, duplicate: Bool) {
        state.withLock {
            $0.highest = max($0.highest, sequence)
            $0.acknowledged += 1
            if duplicate { $0.duplicates += 1 }
        }
    }

    func failed(subject: String, reason: String, code: Int) {
        state.withLock { if $0.failure == nil { $0.failure = (subject, reason, code) } }
    }

    /// The state so far, and starts afresh.
    func take() -> State {
        state.withLock { state in
            defer { state = State() }
            return state
        }
    }
}
