import JourneyCore
import JourneyEvents

/// How the daemon before the event log (schema v3) wrote a user's state to the `users` table: one JSON
/// object per user. Read only by the migration to v4, which turns each into the binary form.
extension UserState {
    init(id: String, record: Value) throws(StoreError) {
        self.init(id: id)
        let r = RecordReader(record, what: "user \(id)")
        traits = r.value("traits")
        history = try r.array("history").map { item throws(StoreError) in try HistoryTrack(record: item, user: id) }
        enrollments = try r.array("enrollments").map { item throws(StoreError) in try Enrollment(record: item, user: id) }
        entries = try r.array("entries").map { item throws(StoreError) in
            let f = try RecordReader.tuple(item, 3, what: "user \(id) entries")
            return EntryRecord(journey: try f.string(0), key: try f.string(1), lastEnteredAt: try f.time(2))
        }
        touchLog = try r.array("touches").map { item throws(StoreError) in
            let f = try RecordReader.tuple(item, 3, what: "user \(id) touches")
            return TouchRecord(at: try f.time(0), journey: try f.string(1), channel: try f.string(2))
        }
        segments = try r.array("segments").map { item throws(StoreError) in
            guard case .string(let s) = item else { throw StoreError.corrupt("user \(id) segments") }
            return s
        }
        dateSchedules = try r.array("dates").map { item throws(StoreError) in
            let f = try RecordReader.tuple(item, 3, what: "user \(id) dates")
            return DateSchedule(journey: try f.string(0), timer: try f.uint(1), due: try f.time(2))
        }
        nextEnrollmentSeq = try r.uint("next")
    }
}

extension HistoryTrack {
    init(record: Value, user: String) throws(StoreError) {
        let f = try RecordReader.tuple(record, 6, what: "user \(user) history")
        self.init(event: try f.string(0), at: try f.time(2), propertyCount: 0)
        count = Int(try f.uint(1))
        last = try f.time(3)
        sums = try f.numbers(4)
        recent = try f.array(5).map { item throws(StoreError) in
            let e = try RecordReader.tuple(item, 2, what: "user \(user) history entry")
            return HistoryEntry(at: try e.time(0), values: try e.numbers(1))
        }
    }
}

extension Enrollment {
    init(record: Value, user: String) throws(StoreError) {
        let r = RecordReader(record, what: "user \(user) enrollment")
        self.init(
            seq: try r.uint("seq"), journey: try r.string("journey"), version: try r.string("version"),
            key: try r.string("key"), step: Int(try r.uint("step")), enteredAt: try r.time("entered"),
            trigger: r.value("trigger"))
        guard let phase = Phase(name: try r.string("phase")) else { throw StoreError.corrupt("user \(user) enrollment phase") }
        self.phase = phase
        timer = try r.uint("timer")
        due = try r.time("due")
        touches = UInt32(try r.uint("touches"))
        variant = r.value("variant").stringValue
    }
}

extension Enrollment.Phase {
    init?(name: String) {
        switch name {
        case "running": self = .running
        case "waiting": self = .waiting
        case "waiting_for_event": self = .waitingForEvent
        case "deferred": self = .deferred
        case "holding": self = .holding
        default: return nil
        }
    }
}

/// Typed reads from a stored record; any surprise is ``StoreError/corrupt(_:)`` naming where.
struct RecordReader {
    let record: Value
    let what: String

    init(_ record: Value, what: String) {
        self.record = record
        self.what = what
    }

    func value(_ key: String) -> Value { record[key] ?? .null }

    func string(_ key: String) throws(StoreError) -> String {
        guard case .string(let s)? = record[key] else { throw StoreError.corrupt("\(what): \(key)") }
        return s
    }

    func uint(_ key: String) throws(StoreError) -> UInt64 {
        guard case .number(let d)? = record[key], d >= 0, d < 9.0e15 else { throw StoreError.corrupt("\(what): \(key)") }
        return UInt64(d)
    }

    func time(_ key: String) throws(StoreError) -> Timestamp {
        guard case .number(let d)? = record[key], abs(d) < 9.0e15 else { throw StoreError.corrupt("\(what): \(key)") }
        return Timestamp(milliseconds: Int64(d))
    }

    func array(_ key: String) throws(StoreError) -> [Value] {
        switch record[key] {
        case .array(let items)?: return items
        case nil, .null?: return []
        default: throw StoreError.corrupt("\(what): \(key)")
        }
    }

    /// A fixed-length array read by position.
    struct Tuple {
        let items: [Value]
        let what: String
        func string(_ i: Int) throws(StoreError) -> String {
            guard case .string(let s) = items[i] else { throw StoreError.corrupt(what) }
            return s
        }
        func uint(_ i: Int) throws(StoreError) -> UInt64 {
            guard case .number(let d) = items[i], d >= 0, d < 9.0e15 else { throw StoreError.corrupt(what) }
            return UInt64(d)
        }
        func time(_ i: Int) throws(StoreError) -> Timestamp {
            guard case .number(let d) = items[i], abs(d) < 9.0e15 else { throw StoreError.corrupt(what) }
            return Timestamp(milliseconds: Int64(d))
        }
        func array(_ i: Int) throws(StoreError) -> [Value] {
            guard case .array(let a) = items[i] else { throw StoreError.corrupt(what) }
            return a
        }
        func numbers(_ i: Int) throws(StoreError) -> [Double] {
            try array(i).map { v throws(StoreError) in
                guard case .number(let d) = v else { throw StoreError.corrupt(what) }
                return d
            }
        }
    }

    static func tuple(_ value: Value, _ count: Int, what: String) throws(StoreError) -> Tuple {
        guard case .array(let items) = value, items.count == count else { throw StoreError.corrupt(what) }
        return Tuple(items: items, what: what)
    }
}
