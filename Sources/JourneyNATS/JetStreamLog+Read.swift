import CNats
import JourneyCore
import Synchronization

/// Reading a partition: a pull consumer for runs of records, direct gets for single positions.
extension JetStreamLog {
    /// Records fetched per request.
    static let fetchBatch: Int32 = 1024

    public func read(after: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
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
        var message: OpaquePointer?
        let status = subject.withCString { subject in
            var options = jsDirectGetMsgOptions()
            jsDirectGetMsgOptions_Init(&options)
            options.Sequence = sequence
            options.NextBySubject = subject
            return js_DirectGetMsg(&message, context.handle, stream.name, nil, &options)
        }
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let message else { throw context.error(status, subject: subject, operation: "find the record from \(sequence)") }
        defer { natsMsg_Destroy(message) }
        if case let found = natsMsg_GetSequence(message), found != 0 { return found }
        var header: UnsafePointer<CChar>?
        guard natsMsgHeader_Get(message, "Nats-Sequence", &header) == NATS_OK, let header else { return nil }
        return UInt64(String(cString: header))
    }
}
