public import JourneyCore

/// The figures `journeyd report` shows, accumulated from the engine's effects: the one accumulator the
/// daemon and `replay` both feed, so the same events give the same figures either way.
///
/// Kept as flat counters (``counters``) so the daemon's copy goes into its checkpoints whole, as
/// `report\t…` figures, and a restart carries on from them (the log after the checkpoint is replayed
/// through the same accumulator). Keys: `J\tjourney\tentered`, `J\tjourney\treached\tstep`,
/// `J\tjourney\tconverted\tvariant`, `J\tjourney\theld_out\tvariant`, `J\tjourney\tdeferred\tquiet_hours|cap`,
/// `T\tchannel\tYYYY-MM-DD` (touches per channel per UTC day), `S\tfrom\tto` (stage transitions),
/// `U\tstage` (users in a stage now), `O\tchannel\tstate` (touches in a final delivery state: sent, dead_letter,
/// in_doubt), `P\tfirst` / `P\tlast` (the period's first and last outcome, ms).
public struct ReportFigures: Sendable {
    /// Each counter's key (as ``counters`` shows it) and value, in the order first counted.
    private var keys: [String] = []
    private var values: [Int64] = []
    /// Where each key's value is in `values`.
    private var slots: [String: Int] = [:]
    /// The slot of an effect's parts (journey and kind, channel and day…): the key string is built the
    /// first time those parts are counted, not per touch.
    private var interned: [Parts: Int] = [:]
    /// The period's first and last outcome (ms): `P\tfirst` and `P\tlast`.
    private var first: Int64?
    private var last: Int64?

    public init() {}

    /// From a checkpoint's figures: those under ``prefix``; others are ignored.
    public init(figures: [String: Int64]) {
        for (key, value) in figures.sorted(by: { $0.key < $1.key }) where key.hasPrefix(Self.prefix) {
            set(String(key.dropFirst(Self.prefix.count)), value)
        }
    }

    /// The counters by key (see the type's comment for the keys).
    public var counters: [String: Int64] {
        var out = [String: Int64](minimumCapacity: keys.count + 2)
        for (index, key) in keys.enumerated() { out[key] = values[index] }
        if let first { out[Self.firstKey] = first }
        if let last { out[Self.lastKey] = last }
        return out
    }

    /// The figures as a checkpoint stores them.
    public var figures: [String: Int64] {
        Dictionary(uniqueKeysWithValues: counters.map { (Self.prefix + $0.key, $0.value) })
    }

    static let prefix = "report\t"
    static let firstKey = "P\tfirst"
    static let lastKey = "P\tlast"
    static let millisecondsPerDay: Int64 = 86_400_000

    public mutating func record(_ effect: Effect) {
        switch effect {
        case .touch(let touch):
            add(Parts(.touched, touch.journey)) { "J\t\(touch.journey)\ttouched" }
            let ms = touch.at.milliseconds
            let day = ms >= 0 ? ms / Self.millisecondsPerDay : (ms + 1) / Self.millisecondsPerDay - 1
            add(Parts(.touchDay, touch.channel, number: day)) {
                "T\t\(touch.channel)\t\(Timestamp(milliseconds: day * Self.millisecondsPerDay).iso8601.prefix(10))"
            }
            mark(touch.at)
        case .outcome(let o):
            switch o.kind {
            case .entered: add(Parts(.entered, o.journey)) { "J\t\(o.journey)\tentered" }
            case .reached: add(Parts(.reached, o.journey, o.step)) { "J\t\(o.journey)\treached\t\(o.step)" }
            case .converted: add(Parts(.converted, o.journey, o.detail)) { "J\t\(o.journey)\tconverted\t\(o.detail)" }
            case .heldOut: add(Parts(.heldOut, o.journey, o.detail)) { "J\t\(o.journey)\theld_out\t\(o.detail)" }
            case .capped: add(Parts(.capped, o.journey)) { "J\t\(o.journey)\tcapped" }
            case .deferred:
                let which = o.detail == "quiet hours" ? "quiet_hours" : "cap"
                add(Parts(.deferred, o.journey, which)) { "J\t\(o.journey)\tdeferred\t\(which)" }
            case .suppressed: add(Parts(.suppressed, o.journey)) { "J\t\(o.journey)\tsuppressed" }
            case .skippedLate: add(Parts(.skippedLate, o.journey)) { "J\t\(o.journey)\tskipped_late" }
            case .exited:
                // The detail's first word (the rest carries durations and step names).
                let word = o.detail.utf8.firstIndex(of: UInt8(ascii: " ")).map { String(o.detail[..<$0]) } ?? o.detail
                add(Parts(.exited, o.journey, word)) { "J\t\(o.journey)\texited\t\(word)" }
            case .updated: return
            case .duplicate:
                add(Parts(.duplicate, "")) { "D\tduplicates" }
                return
            case .stageChanged(let from):
                add(Parts(.stage, from, o.detail)) { "S\t\(from)\t\(o.detail)" }
                if !o.detail.isEmpty { add(Parts(.inStage, o.detail)) { "U\t\(o.detail)" } }
                if !from.isEmpty { add(Parts(.inStage, from), -1) { "U\t\(from)" } }
            }
            mark(o.at)
        }
    }

    /// A touch of `channel` moved from `old` (nil: just queued) to `new`: the final states are counted per
    /// channel (a touch leaves a final state only from in_doubt, when an operator releases it).
    public mutating func recordDelivery(channel: String, from old: DeliveryState?, to new: DeliveryState) {
        guard old != new else { return }
        if let old, old.isFinal { add(Parts(.delivery, channel, old.rawValue), -1) { "O\t\(channel)\t\(old.rawValue)" } }
        if new.isFinal { add(Parts(.delivery, channel, new.rawValue)) { "O\t\(channel)\t\(new.rawValue)" } }
    }

    /// Adds `n` to the counter of `parts`, whose key `key` builds (once).
    private mutating func add(_ parts: Parts, _ n: Int64 = 1, key: () -> String) {
        if let slot = interned[parts] {
            values[slot] += n
            return
        }
        let slot = self.slot(key())
        interned[parts] = slot
        values[slot] += n
    }

    /// Adds `n` to the counter under `key`.
    mutating func add(_ key: String, _ n: Int64 = 1) { values[slot(key)] += n }

    /// The slot of `key`, made (at 0) when new.
    private mutating func slot(_ key: String) -> Int {
        if let slot = slots[key] { return slot }
        keys.append(key)
        values.append(0)
        slots[key] = keys.count - 1
        return keys.count - 1
    }

    private mutating func set(_ key: String, _ value: Int64) {
        switch key {
        case Self.firstKey: first = value
        case Self.lastKey: last = value
        default: values[slot(key)] = value
        }
    }

    mutating func mark(_ t: Timestamp) {
        if let first, first <= t.milliseconds {} else { first = t.milliseconds }
        if let last, last >= t.milliseconds {} else { last = t.milliseconds }
    }

    /// What a counter's key is made of: its kind, up to two names and a number (the day of a touch).
    private struct Parts: Hashable, Sendable {
        enum Kind: UInt8 {
            case touched, touchDay, entered, reached, converted, heldOut, capped, deferred, suppressed, skippedLate, exited
            case duplicate, stage, inStage, delivery
        }
        var kind: Kind
        var first: String
        var second: String
        var number: Int64

        init(_ kind: Kind, _ first: String, _ second: String = "", number: Int64 = 0) {
            self.kind = kind
            self.first = first
            self.second = second
            self.number = number
        }
    }

    /// Adds `other`'s counters to these — the figures of another partition, whose users are other users,
    /// so every count adds up — and widens the period to cover both.
    public mutating func merge(_ other: ReportFigures) {
        for (index, key) in other.keys.enumerated() { values[slot(key)] += other.values[index] }
        if let t = other.first { mark(Timestamp(milliseconds: t)) }
        if let t = other.last { mark(Timestamp(milliseconds: t)) }
    }

    /// A counter by its key (0 when never counted).
    public subscript(_ key: String) -> Int {
        switch key {
        case Self.firstKey: Int(first ?? 0)
        case Self.lastKey: Int(last ?? 0)
        default: slots[key].map { Int(values[$0]) } ?? 0
        }
    }

    /// Counters under `prefix` (a key ending in a tab), by the rest of their key.
    public func group(_ prefix: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for (key, value) in counters where key.hasPrefix(prefix) { out[String(key.dropFirst(prefix.count))] = Int(value) }
        return out
    }

    /// The first and last instant an effect was recorded at, if any.
    public var period: (first: Timestamp, last: Timestamp)? {
        guard let first, let last else { return nil }
        return (Timestamp(milliseconds: first), Timestamp(milliseconds: last))
    }
}

extension ReportFigures: Equatable {
    /// The same counters (however they were counted, in whatever order).
    public static func == (a: ReportFigures, b: ReportFigures) -> Bool { a.counters == b.counters }
}
