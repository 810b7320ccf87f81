/// The binary forms of the state journeyd keeps: what checkpoints and the event log store. Shared by
/// every store implementation, so a user checkpointed to SQLite reads back the same from PostgreSQL.
///
/// Each form starts with a format byte; a reader refuses a format it does not know instead of guessing.

extension UserState {
    /// 1: without the decision trace; 2: with it; 3: with identity (merged into, aliases, when traits
    /// changed) and pending segment rechecks; 4: with the lifecycle stage; 5: enrollments may be in the
    /// `watching` phase (same layout; an older reader refuses it by the format byte instead of failing on
    /// an unknown phase); 6: with a pending hand-over (cluster mode) — written only for a user that has
    /// one, so every other row stays readable by a journeyd of format 5; 7: the hand-over holds timers
    /// that came due while the user waited — written only then. Reads all seven.
    static let format: UInt8 = 7

    /// The user's state without the id (stores key rows by id).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        encode(into: &w)
        return w.bytes
    }

    public func encode(into w: inout ByteWriter) {
        w.byte(handover == nil ? 5 : handover!.timers.isEmpty ? 6 : Self.format)
        w.value(traits)
        w.varint(UInt64(history.count))
        for track in history {
            w.string(track.event)
            w.int(track.count)
            w.timestamp(track.first)
            w.timestamp(track.last)
            w.varint(UInt64(track.sums.count))
            for sum in track.sums { w.double(sum) }
            w.varint(UInt64(track.recent.count))
            for entry in track.recent {
                w.timestamp(entry.at)
                w.varint(UInt64(entry.values.count))
                for value in entry.values { w.double(value) }
            }
        }
        w.varint(UInt64(enrollments.count))
        for e in enrollments { e.encode(into: &w) }
        w.varint(UInt64(entries.count))
        for entry in entries {
            w.string(entry.journey)
            w.string(entry.key)
            w.timestamp(entry.lastEnteredAt)
        }
        w.varint(UInt64(touchLog.count))
        for touch in touchLog {
            w.timestamp(touch.at)
            w.string(touch.journey)
            w.string(touch.channel)
        }
        w.varint(UInt64(segments.count))
        for segment in segments { w.string(segment) }
        w.varint(UInt64(dateSchedules.count))
        for schedule in dateSchedules {
            w.string(schedule.journey)
            w.varint(schedule.timer)
            w.timestamp(schedule.due)
        }
        w.varint(nextEnrollmentSeq)
        w.varint(UInt64(trace.count))
        for record in trace { record.encode(into: &w) }
        w.string(mergedInto ?? "")
        w.varint(UInt64(aliases.count))
        for alias in aliases { w.string(alias) }
        w.timestamp(traitsChangedAt)
        w.varint(UInt64(rechecks.count))
        for recheck in rechecks {
            w.string(recheck.journey)
            w.varint(recheck.timer)
            w.timestamp(recheck.due)
        }
        w.string(stage)
        if let handover {
            w.string(handover.request)
            w.string(handover.source)
            w.varint(UInt64(handover.held.count))
            for held in handover.held {
                w.blob(held.line)
                w.timestamp(held.receivedAt)
                w.string(held.origin)
                w.string(held.namespace)
            }
            if !handover.timers.isEmpty {
                w.varint(UInt64(handover.timers.count))
                for timer in handover.timers { timer.encode(into: &w) }
            }
        }
    }

    public init(id: String, encoded bytes: [UInt8]) throws(BinaryDecodingError) {
        var decoded: UserState?
        var failure: BinaryDecodingError?
        bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            do throws(BinaryDecodingError) { decoded = try UserState(id: id, from: &r) } catch { failure = error }
        }
        if let failure { throw failure }
        self = decoded!
    }

    /// The traits alone, read from the start of an encoding (they come first): what delivery needs of a
    /// user kept encoded, without decoding the rest.
    public static func traits(from r: inout ByteReader) throws(BinaryDecodingError) -> Value {
        let format = try r.byte()
        guard (1...Self.format).contains(format) else { throw BinaryDecodingError(offset: r.offset - 1, reason: "unknown user state format \(format)") }
        return try r.value()
    }

    public init(id: String, from r: inout ByteReader) throws(BinaryDecodingError) {
        self.init(id: id)
        let format = try r.byte()
        guard (1...Self.format).contains(format) else { throw BinaryDecodingError(offset: r.offset - 1, reason: "unknown user state format \(format)") }
        traits = try r.value()
        history = try r.list { r throws(BinaryDecodingError) in
            var track = HistoryTrack(event: try r.string(), at: .distantPast, propertyCount: 0)
            track.count = try r.int()
            track.first = try r.timestamp()
            track.last = try r.timestamp()
            track.sums = try r.list { r throws(BinaryDecodingError) in try r.double() }
            track.recent = try r.list { r throws(BinaryDecodingError) in
                HistoryEntry(at: try r.timestamp(), values: try r.list { r throws(BinaryDecodingError) in try r.double() })
            }
            return track
        }
        enrollments = try r.list { r throws(BinaryDecodingError) in try Enrollment(from: &r) }
        entries = try r.list { r throws(BinaryDecodingError) in
            EntryRecord(journey: try r.string(), key: try r.string(), lastEnteredAt: try r.timestamp())
        }
        touchLog = try r.list { r throws(BinaryDecodingError) in
            TouchRecord(at: try r.timestamp(), journey: try r.string(), channel: try r.string())
        }
        segments = try r.list { r throws(BinaryDecodingError) in try r.string() }
        dateSchedules = try r.list { r throws(BinaryDecodingError) in
            DateSchedule(journey: try r.string(), timer: try r.varint(), due: try r.timestamp())
        }
        nextEnrollmentSeq = try r.varint()
        if format >= 2 { trace = try r.list { r throws(BinaryDecodingError) in try DecisionRecord(from: &r) } }
        guard format >= 3 else { return }
        let merged = try r.string()
        mergedInto = merged.isEmpty ? nil : merged
        aliases = try r.list { r throws(BinaryDecodingError) in try r.string() }
        traitsChangedAt = try r.timestamp()
        rechecks = try r.list { r throws(BinaryDecodingError) in
            DateSchedule(journey: try r.string(), timer: try r.varint(), due: try r.timestamp())
        }
        if format >= 4 { stage = try r.string() }
        if format >= 6 {
            let request = try r.string()
            let source = try r.string()
            let held = try r.list { r throws(BinaryDecodingError) in
                HeldEvent(line: try r.blob(), receivedAt: try r.timestamp(), origin: try r.string(), namespace: try r.string())
            }
            let timers = format >= 7 ? try r.list { r throws(BinaryDecodingError) in try TimerEntry(from: &r) } : []
            handover = PendingHandover(request: request, source: source, held: held, timers: timers)
        }
    }
}

extension Enrollment {
    func encode(into w: inout ByteWriter) {
        w.varint(seq)
        w.string(journey)
        w.string(version)
        w.string(key)
        w.int(step)
        w.byte(phase.code)
        w.timestamp(enteredAt)
        w.value(trigger)
        w.varint(timer)
        w.timestamp(due)
        w.varint(UInt64(touches))
        w.optionalString(variant)
    }

    init(from r: inout ByteReader) throws(BinaryDecodingError) {
        self.init(
            seq: try r.varint(), journey: try r.string(), version: try r.string(), key: try r.string(), step: try r.int(),
            enteredAt: .distantPast, trigger: .null)
        let code = try r.byte()
        guard let phase = Phase(code: code) else { throw BinaryDecodingError(offset: r.offset - 1, reason: "unknown enrollment phase \(code)") }
        self.phase = phase
        enteredAt = try r.timestamp()
        trigger = try r.value()
        timer = try r.varint()
        due = try r.timestamp()
        touches = UInt32(truncatingIfNeeded: try r.varint())
        variant = try r.optionalString()
    }
}

extension Enrollment.Phase {
    var code: UInt8 {
        switch self {
        case .running: 0
        case .waiting: 1
        case .waitingForEvent: 2
        case .deferred: 3
        case .holding: 4
        case .watching: 5
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .running
        case 1: self = .waiting
        case 2: self = .waitingForEvent
        case 3: self = .deferred
        case 4: self = .holding
        case 5: self = .watching
        default: return nil
        }
    }
}

extension ByteReader {
    /// A count-prefixed list, each element read by `element`.
    public mutating func list<T>(_ element: (inout ByteReader) throws(BinaryDecodingError) -> T) throws(BinaryDecodingError) -> [T] {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw BinaryDecodingError(offset: offset, reason: "list of \(n) items runs past the end") }
        var items: [T] = []
        items.reserveCapacity(Int(n))
        for _ in 0..<n { items.append(try element(&self)) }
        return items
    }
}

extension TimerEntry {
    public func encode(into w: inout ByteWriter) {
        w.timestamp(due)
        w.varint(seq)
        w.string(user)
        switch purpose {
        case .enrollment(let e):
            w.byte(0)
            w.varint(e)
        case .dateTrigger(let journey):
            w.byte(1)
            w.string(journey)
        case .segmentRecheck(let journey):
            w.byte(2)
            w.string(journey)
        }
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let due = try r.timestamp()
        let seq = try r.varint()
        let user = try r.string()
        switch try r.byte() {
        case 0: self.init(due: due, seq: seq, user: user, purpose: .enrollment(try r.varint()))
        case 1: self.init(due: due, seq: seq, user: user, purpose: .dateTrigger(try r.string()))
        case 2: self.init(due: due, seq: seq, user: user, purpose: .segmentRecheck(try r.string()))
        case let tag: throw BinaryDecodingError(offset: r.offset - 1, reason: "unknown timer purpose \(tag)")
        }
    }
}

extension Touch {
    public func encode(into w: inout ByteWriter) {
        w.string(id)
        w.string(user)
        w.string(journey)
        w.string(version)
        w.string(enrollment)
        w.string(step)
        w.string(channel)
        w.string(template)
        w.timestamp(at)
        w.bool(transactional)
        if let origin {
            w.byte(1)
            w.string(origin.key)
            w.timestamp(origin.enteredAt)
            w.value(origin.trigger)
            w.optionalString(origin.variant)
        } else {
            w.byte(0)
        }
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        self.init(
            id: try r.string(), user: try r.string(), journey: try r.string(), version: try r.string(), enrollment: try r.string(),
            step: try r.string(), channel: try r.string(), template: try r.string(), at: try r.timestamp(), transactional: try r.bool())
        if try r.byte() == 1 {
            origin = Origin(key: try r.string(), enteredAt: try r.timestamp(), trigger: try r.value(), variant: try r.optionalString())
        }
    }
}

extension OutboxEntry {
    public func encode(into w: inout ByteWriter) {
        touch.encode(into: &w)
        if let message {
            w.byte(1)
            message.encode(into: &w)
        } else {
            w.byte(0)
        }
        w.optionalTimestamp(expiresAt)
        w.string(state.rawValue)
        w.int(attempts)
        w.optionalTimestamp(nextAttempt)
        w.optionalTimestamp(firstAttemptAt)
        w.optionalString(reason)
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let touch = try Touch(from: &r)
        let message = try r.byte() == 1 ? try RenderedMessage(from: &r) : nil
        let expiresAt = try r.optionalTimestamp()
        let stateName = try r.string()
        guard let state = DeliveryState(rawValue: stateName) else {
            throw BinaryDecodingError(offset: r.offset, reason: "unknown delivery state \(stateName)")
        }
        self.init(
            touch: touch, message: message, expiresAt: expiresAt, state: state, attempts: try r.int(),
            nextAttempt: try r.optionalTimestamp(), firstAttemptAt: try r.optionalTimestamp(), reason: try r.optionalString())
    }
}

extension DeliveryUpdate {
    public func encode(into w: inout ByteWriter) {
        w.string(touchID)
        w.string(state.rawValue)
        w.optionalString(reason)
        w.optionalTimestamp(nextAttempt)
        if let attempts {
            w.byte(1)
            w.int(attempts)
        } else {
            w.byte(0)
        }
        w.optionalTimestamp(firstAttemptAt)
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let touchID = try r.string()
        let stateName = try r.string()
        guard let state = DeliveryState(rawValue: stateName) else {
            throw BinaryDecodingError(offset: r.offset, reason: "unknown delivery state \(stateName)")
        }
        self.init(
            touchID: touchID, state: state, reason: try r.optionalString(), nextAttempt: try r.optionalTimestamp(),
            attempts: try r.byte() == 1 ? try r.int() : nil, firstAttemptAt: try r.optionalTimestamp())
    }
}
