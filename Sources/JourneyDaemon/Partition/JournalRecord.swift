import JourneyCore

/// One record of a partition's event log: an input the partition's engine applied, in the order it
/// applied them. Replaying the records after a checkpoint through the same deterministic engine
/// rebuilds exactly the state (and the touches) the daemon had: docs/ARCHITECTURE.md, "The event log".
enum JournalRecord {
    /// A batch of events as received: the raw lines (parsed again on replay), the time they were applied
    /// at on the wall clock, their deduplication namespace, and the input positions they advance.
    case events(EventsRecord)
    /// Timers fired at `at` with no event (the wall clock moved on; the event clock was run to `--until`).
    case tick(at: Timestamp)
    /// The rule set live from here on (a reload), by content hash: see ``RuleSnapshot``.
    case rules(version: String)
    /// Outbox bookkeeping: touches handed to their channels (`attempting`) and what came back.
    case deliveries([DeliveryUpdate])
    /// Input positions that move without events (a finished spool file forgotten).
    case positions([String: Int64?])
    /// The delivery pipeline's state of channels (rate windows, breaker, disabled), encoded ``ChannelState``s.
    case channels([String: [UInt8]])
    /// `journeyd forget USER`: everything kept about the user is erased here, and again on every replay.
    case forget(user: String)
    /// Cluster mode: a new owner of the partition, holding lease `token`, starts here. From this record on,
    /// the records an owner with a lower token appends (a stale owner, paused past its lease) are skipped —
    /// live and on every replay, so each decides the same (``stamp(_:_:)``).
    case owner(token: Int64)
    /// Cluster mode: identity across partitions (docs/CLUSTER.md, "Identity across partitions") — a
    /// partition's owner asks another partition's for the state of an id a merge names, or answers.
    /// Published to the partition that must act on it, unstamped, like an input's events.
    case handover(Handover)

    enum Handover: Equatable {
        /// Asks the partition of `source` for its state: `target`, of `partition`, merges it (`explicit`:
        /// an `alias`, which joins whatever `source` is; else an `identify`, which never joins two known
        /// users). `id` names the request; the answer names it.
        case request(id: String, source: String, explicit: Bool, target: String, partition: Int)
        /// The answer to request `id` for `target`.
        case answer(id: String, target: String, HandoverOutcome)
        /// `journeyd forget` reached an id this partition keeps through a hand-over: erase it as `forget`
        /// does (the person it belongs to, as far as this partition holds it).
        case forget(user: String)
    }

    enum HandoverOutcome: Equatable {
        /// The state of `user` (what `source` resolved to there, now a pointer to the target), encoded,
        /// and the other ids merged into it there, which now lead to the target too.
        case joined(user: String, state: [UInt8], aliases: [String])
        /// Nothing to join, and why (the id already belongs to another known user).
        case notJoined(reason: String)
    }

    struct EventsRecord {
        /// The partition's time when it applied the batch (the engine's now on the wall clock).
        var appliedAt: Timestamp
        /// When the batch was received: what the event-time policy checked the events against.
        var receivedAt: Timestamp
        var origin: String
        var namespace: String
        var lines: [[UInt8]]
        var positions: [String: Int64?]
    }

    /// Whether an encoded record is a tick, without decoding it (its first byte is the case's tag).
    static func isTick(_ encoded: [UInt8]) -> Bool { tag(encoded) == 2 }
    /// Whether an encoded record is a reload's `rules` record, without decoding it.
    static func isRules(_ encoded: [UInt8]) -> Bool { tag(encoded) == 3 }

    /// The case's tag of an encoded record, looking through an owner's stamp.
    private static func tag(_ encoded: [UInt8]) -> UInt8? {
        guard encoded.first == stampTag else { return encoded.first }
        return encoded.withUnsafeBytes { bytes in
            var r = ByteReader(bytes, offset: 1)
            guard (try? r.signed()) != nil, !r.isAtEnd else { return nil }
            return bytes[r.offset]
        }
    }

    /// The tag of a record stamped with its owner's lease token: the tag, the token, the record.
    static let stampTag: UInt8 = 9

    /// Writes the record `body` writes, stamped with the lease `token` of the owner appending it (cluster
    /// mode: ``FollowedLog`` stamps every record an owner appends), so a replay can tell a stale owner's.
    static func stamp(_ token: Int64, into w: inout ByteWriter, _ body: (inout ByteWriter) -> Void) {
        w.byte(stampTag)
        w.signed(token)
        body(&w)
    }

    /// Decodes a record and the token it was stamped with (nil: not stamped — an input's events, or any
    /// record of the embedded mode); a nil record is one erased by `forget`.
    static func decodeStamped(_ bytes: UnsafeRawBufferPointer) throws(BinaryDecodingError) -> (token: Int64?, record: JournalRecord?) {
        guard bytes.first == stampTag else { return (nil, try decode(bytes)) }
        var r = ByteReader(bytes, offset: 1)
        let token = try r.signed()
        return (token, try decode(UnsafeRawBufferPointer(rebasing: bytes[r.offset...])))
    }

    func encode(into w: inout ByteWriter) {
        switch self {
        case .events(let record):
            w.byte(1)
            w.timestamp(record.appliedAt)
            w.timestamp(record.receivedAt)
            w.string(record.origin)
            w.string(record.namespace)
            w.varint(UInt64(record.lines.count))
            for line in record.lines { w.blob(line) }
            Self.encode(record.positions, into: &w)
        case .tick(let at):
            w.byte(2)
            w.timestamp(at)
        case .rules(let version):
            w.byte(3)
            w.string(version)
        case .deliveries(let updates):
            w.byte(4)
            w.varint(UInt64(updates.count))
            for update in updates { update.encode(into: &w) }
        case .positions(let positions):
            w.byte(5)
            Self.encode(positions, into: &w)
        case .forget(let user):
            w.byte(7)
            w.string(user)
        case .owner(let token):
            w.byte(8)
            w.signed(token)
        case .handover(.request(let id, let source, let explicit, let target, let partition)):
            w.byte(10)
            w.byte(1)
            w.string(id)
            w.string(source)
            w.byte(explicit ? 1 : 0)
            w.string(target)
            w.varint(UInt64(partition))
        case .handover(.answer(let id, let target, let outcome)):
            w.byte(10)
            w.byte(2)
            w.string(id)
            w.string(target)
            switch outcome {
            case .joined(let user, let state, let aliases):
                w.byte(1)
                w.string(user)
                w.blob(state)
                w.varint(UInt64(aliases.count))
                for alias in aliases { w.string(alias) }
            case .notJoined(let reason):
                w.byte(2)
                w.string(reason)
            }
        case .handover(.forget(let user)):
            w.byte(10)
            w.byte(3)
            w.string(user)
        case .channels(let states):
            w.byte(6)
            w.varint(UInt64(states.count))
            for (name, state) in states.sorted(by: { $0.key < $1.key }) {
                w.string(name)
                w.blob(state)
            }
        }
    }

    static func encode(_ positions: [String: Int64?], into w: inout ByteWriter) {
        w.varint(UInt64(positions.count))
        for (key, value) in positions.sorted(by: { $0.key < $1.key }) {
            w.string(key)
            if let value {
                w.byte(1)
                w.signed(value)
            } else {
                w.byte(0)
            }
        }
    }

    static func decodePositions(_ r: inout ByteReader) throws(BinaryDecodingError) -> [String: Int64?] {
        var positions: [String: Int64?] = [:]
        for _ in 0..<(try r.varint()) {
            let key = try r.string()
            positions[key] = try r.byte() == 1 ? .some(try r.signed()) : .some(nil)
        }
        return positions
    }

    /// Decodes a record; an empty payload is a record erased by `forget` (nil).
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(BinaryDecodingError) -> JournalRecord? {
        guard !bytes.isEmpty else { return nil }
        var r = ByteReader(bytes)
        switch try r.byte() {
        case 1:
            let appliedAt = try r.timestamp()
            let receivedAt = try r.timestamp()
            let origin = try r.string()
            let namespace = try r.string()
            let lines = try r.list { r throws(BinaryDecodingError) in try r.blob() }
            return .events(EventsRecord(appliedAt: appliedAt, receivedAt: receivedAt, origin: origin, namespace: namespace, lines: lines, positions: try decodePositions(&r)))
        case 2: return .tick(at: try r.timestamp())
        case 3: return .rules(version: try r.string())
        case 4: return .deliveries(try r.list { r throws(BinaryDecodingError) in try DeliveryUpdate(from: &r) })
        case 5: return .positions(try decodePositions(&r))
        case 6:
            var states: [String: [UInt8]] = [:]
            for _ in 0..<(try r.varint()) { states[try r.string()] = try r.blob() }
            return .channels(states)
        case 7: return .forget(user: try r.string())
        case 8: return .owner(token: try r.signed())
        case 10:
            switch try r.byte() {
            case 1:
                let (id, source, explicit, target) = (try r.string(), try r.string(), try r.byte() == 1, try r.string())
                let offset = r.offset
                guard let partition = Int(exactly: try r.varint()) else { throw BinaryDecodingError(offset: offset, reason: "partition out of range") }
                return .handover(.request(id: id, source: source, explicit: explicit, target: target, partition: partition))
            case 2:
                let id = try r.string()
                let target = try r.string()
                switch try r.byte() {
                case 1:
                    return .handover(.answer(
                        id: id, target: target,
                        .joined(user: try r.string(), state: try r.blob(), aliases: try r.list { r throws(BinaryDecodingError) in try r.string() })))
                case 2: return .handover(.answer(id: id, target: target, .notJoined(reason: try r.string())))
                case let kind: throw BinaryDecodingError(offset: r.offset - 1, reason: "unknown hand-over outcome \(kind)")
                }
            case 3: return .handover(.forget(user: try r.string()))
            case let kind: throw BinaryDecodingError(offset: r.offset - 1, reason: "unknown hand-over record \(kind)")
            }
        case stampTag:
            _ = try r.signed()
            return try decode(UnsafeRawBufferPointer(rebasing: bytes[r.offset...]))
        case let tag: throw BinaryDecodingError(offset: 0, reason: "unknown log record type \(tag)")
        }
    }
}
