import CNats
import JourneyCore
import Synchronization

/// Reading a partition: direct gets for the first records, a pull consumer for longer runs.
extension JetStreamLog {
    /// Records fetched per request.
    static let fetchBatch: Int32 = 1024

    /// Records read one by one with direct gets before a reader switches to a consumer: a direct get
    /// costs the server no consumer.
    static let directReads = 4

    public func read(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        var position = after
        for _ in 0..<Self.directReads {
            guard let (sequence, message) = try nextMessage(from: position + 1) else {
                positions.withLock { $0.last = max($0.last, position) }
                return
            }
            defer { natsMsg_Destroy(message) }
            position = sequence
            let data = UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: Int(natsMsg_GetDataLength(message)))
            if try !body(sequence, data) {
                positions.withLock { $0.last = max($0.last, position) }
                return
            }
        }
        try readWithConsumer(after: position, body)
    }

    /// The subject's first message at or after `sequence`, with its sequence (nil when there is none).
    func nextMessage(from sequence: UInt64) throws(JetStreamError) -> (UInt64, OpaquePointer)? {
        var message: OpaquePointer?
        let status = subject.withCString { subject in
            var options = jsDirectGetMsgOptions()
            jsDirectGetMsgOptions_Init(&options)
            options.Sequence = sequence
            options.NextBySubject = subject
            return js_DirectGetMsg(&message, context.handle, stream.name, nil, &options)
        }
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let message else { throw context.error(status, subject: subject, operation: "read the record from \(sequence)") }
        if case let found = natsMsg_GetSequence(message), found != 0 { return (found, message) }
        var header: UnsafePointer<CChar>?
        guard natsMsgHeader_Get(message, "Nats-Sequence", &header) == NATS_OK, let header, let found = UInt64(String(cString: header)) else {
            natsMsg_Destroy(message)
            throw context.error(NATS_ERR, subject: subject, operation: "read the sequence of the record from \(sequence)")
        }
        return (found, message)
    }

    /// The rest, up to the subject's last record now, through a ``PartitionReader``: its requests are
    /// filled at once while records are there (a `no_wait` request for more than the subject holds would be
    /// held by nats-server 2.9 until it expires).
    private func readWithConsumer(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        let end = try lastMessageSequence()
        guard end > after else { return }
        let reader = try PartitionReader(log: self, after: after, batch: Self.fetchBatch)
        defer { reader.close() }
        while true {
            let records = try reader.next(wait: .milliseconds(context.wait))
            guard let last = records.last else { return }
            for record in records {
                let go = try record.payload.withUnsafeBytes { try body(record.sequence, $0) }
                if !go { return }
            }
            if last.sequence >= end { return }
        }
    }

    /// The sequence of the subject's last record now, as the server has it (0 when it has none): what an
    /// owner's read position is compared with to tell a stalled partition from an idle one.
    public func subjectEnd() throws(LogError) -> UInt64 {
        do {
            return try lastMessageSequence()
        } catch {
            throw LogError(path: location, operation: "find the last record", reason: "\(error)")
        }
    }

    /// The sequence of the subject's last message (0 when it has none).
    func lastMessageSequence() throws(JetStreamError) -> UInt64 {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status = js_GetLastMsg(&message, context.handle, stream.name, subject, nil, &code)
        if status == NATS_NOT_FOUND || code == JSNoMessageFoundErr { return 0 }
        guard status == NATS_OK, let message else { throw context.error(status, code, subject: subject, operation: "find the last record") }
        defer { natsMsg_Destroy(message) }
        return natsMsg_GetSequence(message)
    }

    /// The sequence of the subject's first message at or after `sequence` (nil when there is none).
    func nextMessageSequence(from sequence: UInt64) throws(JetStreamError) -> UInt64? {
        guard let (found, message) = try nextMessage(from: sequence) else { return nil }
        natsMsg_Destroy(message)
        return found
    }
}
