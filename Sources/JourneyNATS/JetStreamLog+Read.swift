import CNats
import JourneyCore
import Synchronization

/// Reading a partition: direct gets for the first records (a follower's poll usually finds a few), a
/// pull consumer for longer runs.
extension JetStreamLog {
    /// Records fetched per request.
    static let fetchBatch: Int32 = 1024

    /// Records read one by one with direct gets before a reader switches to a consumer: a follower
    /// polling a partition usually finds none or a few, and a direct get costs the server no consumer.
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

    private func readWithConsumer(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        // An ephemeral pull consumer on the subject from `after + 1`, without acknowledgements (nothing
        // is redelivered; the reader keeps its own position); the server drops it if we vanish.
        var subscription: OpaquePointer?
        var code = jsErrCode(0)
        var status = stream.name.withCString { name in
            var options = jsSubOptions()
            jsSubOptions_Init(&options)
            options.Stream = name
            options.Config.DeliverPolicy = js_DeliverByStartSequence
            options.Config.OptStartSeq = after + 1
            options.Config.AckPolicy = js_AckNone
            options.Config.InactiveThreshold = 60_000_000_000
            return js_PullSubscribe(&subscription, context.handle, subject, nil, nil, &options, &code)
        }
        guard status == NATS_OK, let subscription else { throw failure(status, code, "read after \(after)") }
        defer {
            natsSubscription_Unsubscribe(subscription)  // deletes the ephemeral consumer
            natsSubscription_Destroy(subscription)
        }
        var highest = after
        reading: while true {
            var list = natsMsgList()
            var request = jsFetchRequest()
            jsFetchRequest_Init(&request)
            request.Batch = Self.fetchBatch
            request.NoWait = true  // what the stream holds now, not what may come
            request.Expires = Int64(context.wait) * 1_000_000
            status = natsSubscription_FetchRequest(&list, subscription, &request)
            if (status == NATS_NOT_FOUND || status == NATS_TIMEOUT) && list.Count == 0 { break }
            guard status == NATS_OK else { throw failure(status, jsErrCode(0), "read after \(highest)") }
            defer { natsMsgList_Destroy(&list) }
            var pending: UInt64 = 0
            for index in 0..<Int(list.Count) {
                guard let message = list.Msgs[index] else { continue }
                var meta: UnsafeMutablePointer<jsMsgMetaData>?
                status = natsMsg_GetMetaData(&meta, message)
                guard status == NATS_OK, let meta else { throw failure(status, jsErrCode(0), "read the sequence of a record after \(highest)") }
                let sequence = meta.pointee.Sequence.Stream
                pending = meta.pointee.NumPending
                jsMsgMetaData_Destroy(meta)
                highest = sequence
                let data = UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: Int(natsMsg_GetDataLength(message)))
                if try !body(sequence, data) { break reading }
            }
            if pending == 0 { break }
        }
        positions.withLock { $0.last = max($0.last, highest) }
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
