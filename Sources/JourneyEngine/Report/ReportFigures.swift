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
public struct ReportFigures: Sendable, Equatable {
    public private(set) var counters: [String: Int64] = [:]

    public init() {}

    /// From a checkpoint's figures: those under ``prefix``; others are ignored.
    public init(figures: [String: Int64]) {
        for (key, value) in figures where key.hasPrefix(Self.prefix) { counters[String(key.dropFirst(Self.prefix.count))] = value }
    }

    /// The figures as a checkpoint stores them.
    public var figures: [String: Int64] {
        Dictionary(uniqueKeysWithValues: counters.map { (Self.prefix + $0.key, $0.value) })
    }

    static let prefix = "report\t"

    public mutating func record(_ effect: Effect) {
        switch effect {
        case .touch(let touch):
            add("J\t\(touch.journey)\ttouched")
            add("T\t\(touch.channel)\t\(touch.at.iso8601.prefix(10))")
            mark(touch.at)
        case .outcome(let o):
            let j = "J\t\(o.journey)\t"
            switch o.kind {
            case .entered: add(j + "entered")
            case .reached: add(j + "reached\t\(o.step)")
            case .converted: add(j + "converted\t\(o.detail)")
            case .heldOut: add(j + "held_out\t\(o.detail)")
            case .capped: add(j + "capped")
            case .deferred: add(j + (o.detail == "quiet hours" ? "deferred\tquiet_hours" : "deferred\tcap"))
            case .suppressed: add(j + "suppressed")
            case .skippedLate: add(j + "skipped_late")
            case .exited: add(j + "exited\t" + (o.detail.split(separator: " ").first.map(String.init) ?? o.detail))
            case .updated: return
            case .duplicate:
                add("D\tduplicates")
                return
            case .stageChanged(let from):
                add("S\t\(from)\t\(o.detail)")
                if !o.detail.isEmpty { add("U\t\(o.detail)") }
                if !from.isEmpty { add("U\t\(from)", -1) }
            }
            mark(o.at)
        }
    }

    mutating func add(_ key: String, _ n: Int64 = 1) { counters[key, default: 0] += n }

    /// A touch of `channel` moved from `old` (nil: just queued) to `new`: the final states are counted per
    /// channel (a touch leaves a final state only from in_doubt, when an operator releases it).
    public mutating func recordDelivery(channel: String, from old: DeliveryState?, to new: DeliveryState) {
        guard old != new else { return }
        if let old, old.isFinal { add("O\t\(channel)\t\(old.rawValue)", -1) }
        if new.isFinal { add("O\t\(channel)\t\(new.rawValue)") }
    }

    mutating func mark(_ t: Timestamp) {
        if let first = counters["P\tfirst"], first <= t.milliseconds {} else { counters["P\tfirst"] = t.milliseconds }
        if let last = counters["P\tlast"], last >= t.milliseconds {} else { counters["P\tlast"] = t.milliseconds }
    }

    /// A counter by its key (0 when never counted).
    public subscript(_ key: String) -> Int { Int(counters[key] ?? 0) }

    /// Counters under `prefix` (a key ending in a tab), by the rest of their key.
    public func group(_ prefix: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for (key, value) in counters where key.hasPrefix(prefix) { out[String(key.dropFirst(prefix.count))] = Int(value) }
        return out
    }

    /// The first and last instant an effect was recorded at, if any.
    public var period: (first: Timestamp, last: Timestamp)? {
        guard let first = counters["P\tfirst"], let last = counters["P\tlast"] else { return nil }
        return (Timestamp(milliseconds: first), Timestamp(milliseconds: last))
    }
}
