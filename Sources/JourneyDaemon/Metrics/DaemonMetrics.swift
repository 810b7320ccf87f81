import CoreMetrics
import Foundation
import JourneyCore
import Synchronization

/// What the daemon measures, through the swift-metrics API (exported by whatever factory the
/// composition root bootstrapped — Prometheus at the admin listener's `/metrics`).
///
/// Label values come from the rules and the configuration only — journey, step and channel names,
/// source names, outcome and reason categories — never from event data or user ids, so the number of
/// series is bounded by the rules. Handles are created once per label set and cached: the hot paths
/// (a batch applied, a delivery decided) pay a dictionary lookup, not a factory call.
final class DaemonMetrics: Sendable {
    /// A handle's identity: its name and its label values, in the order its call site names them (a
    /// name always comes with the same label names). Hashing it builds no string.
    struct Key: Hashable, Sendable {
        var label: String
        var a = ""
        var b = ""
        var c = ""
    }

    private let counters = Mutex<[Key: CoreMetrics.Counter]>([:])
    private let gauges = Mutex<[Key: CoreMetrics.Gauge]>([:])
    private let timers = Mutex<[Key: CoreMetrics.Timer]>([:])
    /// This instance among others (tests make several): the key of its handles in each thread's cache.
    private let id = DaemonMetrics.instances.add(1, ordering: .relaxed).newValue
    private static let instances = Atomic<Int>(0)

    init() {}

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> Key {
        var key = Key(label: label)
        if dimensions.count > 0 { key.a = dimensions[0].1 }
        if dimensions.count > 1 { key.b = dimensions[1].1 }
        if dimensions.count > 2 { key.c = dimensions[2].1 }
        precondition(dimensions.count <= 3, "\(label): at most three labels")
        return key
    }

    /// The handle for `key`, made (with the dimensions) only the first time.
    private static func cached<Handle>(
        _ cache: borrowing Mutex<[Key: Handle]>, _ key: Key, _ dimensions: () -> [(String, String)],
        make: (String, [(String, String)]) -> Handle
    ) -> Handle {
        cache.withLock { made in
            if let handle = made[key] { return handle }
            let handle = make(key.label, dimensions())
            made[key] = handle
            return handle
        }
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
        Self.cached(counters, Self.key(label, dimensions), { dimensions }) { CoreMetrics.Counter(label: $0, dimensions: $1) }
    }

    /// A counter on the hot path: the label values alone find it; `dimensions` is built on first use.
    /// Found in the calling thread's own cache first: cluster mode runs a processor thread per owned
    /// partition (64 by default), and one lock for all of them made them queue on it (21 % of an
    /// instance's CPU in `Mutex` slow paths under load).
    func counter(_ key: Key, _ dimensions: @autoclosure () -> [(String, String)]) -> CoreMetrics.Counter {
        threadCached(&ThreadHandles.current.counters, counters, key, dimensions) { CoreMetrics.Counter(label: $0, dimensions: $1) }
    }

    func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
        Self.cached(gauges, Self.key(label, dimensions), { dimensions }) { CoreMetrics.Gauge(label: $0, dimensions: $1) }
    }

    func timer(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Timer {
        Self.cached(timers, Self.key(label, dimensions), { dimensions }) { CoreMetrics.Timer(label: $0, dimensions: $1) }
    }

    /// A timer on the hot path (a delivery's duration, per touch): found like ``counter(_:_:)-(Key,_)``,
    /// in the calling thread's cache first, without building a key string or taking the lock.
    func timer(_ key: Key, _ dimensions: @autoclosure () -> [(String, String)]) -> CoreMetrics.Timer {
        threadCached(&ThreadHandles.current.timers, timers, key, dimensions) { CoreMetrics.Timer(label: $0, dimensions: $1) }
    }

    /// The handle for `key` from the calling thread's cache (`local`, that thread's ``ThreadHandles``),
    /// else from the shared one, which makes it the first time.
    private func threadCached<Handle>(
        _ local: inout [Int: [Key: Handle]], _ shared: borrowing Mutex<[Key: Handle]>, _ key: Key, _ dimensions: () -> [(String, String)],
        make: (String, [(String, String)]) -> Handle
    ) -> Handle {
        if let handle = local[id]?[key] { return handle }
        let handle = Self.cached(shared, key, dimensions, make: make)
        local[id, default: [:]][key] = handle
        return handle
    }

    // MARK: - Names (Prometheus conventions: base units, _total for counters)

    func eventsReceived(source: String, count: Int) {
        counter(Key(label: "journeyd_events_received_total", a: source), [("source", source)]).increment(by: count)
    }

    func eventsRejected(source: String, reason: RejectionCategory, count: Int = 1) {
        counter(Key(label: "journeyd_events_rejected_total", a: source, b: reason.rawValue), [("source", source), ("reason", reason.rawValue)])
            .increment(by: count)
    }

    /// An input that reports its troubles has its series from the start, at 0: an alert on them works
    /// before the first trouble, and `absent()` tells an input that is not there.
    func inputWatched(source: String) {
        gauge("journeyd_input_blocked", [("source", source)]).record(0)
        _ = counter(Key(label: "journeyd_input_problems_total", a: source), [("source", source)])
    }

    /// An input's trouble (``InputNotice``): blocked from its beginning to its end; every beginning and
    /// every entry passed over counted.
    func input(_ notice: InputNotice, source: String) {
        switch notice.change {
        case .began:
            gauge("journeyd_input_blocked", [("source", source)]).record(1)
            counter(Key(label: "journeyd_input_problems_total", a: source), [("source", source)]).increment()
        case .ended:
            gauge("journeyd_input_blocked", [("source", source)]).record(0)
        case .noted:
            counter(Key(label: "journeyd_input_problems_total", a: source), [("source", source)]).increment()
        }
    }

    func eventsDuplicate(source: String, count: Int) {
        counter(Key(label: "journeyd_events_duplicate_total", a: source), [("source", source)]).increment(by: count)
    }

    func touchProduced(journey: String, step: String, channel: String) {
        counter(Key(label: "journeyd_touches_total", a: journey, b: step, c: channel), [("journey", journey), ("step", step), ("channel", channel)])
            .increment()
    }

    func policyOutcome(journey: String, outcome: String) {
        counter(Key(label: "journeyd_policy_outcomes_total", a: journey, b: outcome), [("journey", journey), ("outcome", outcome)]).increment()
    }

    func enrollment(journey: String, event: String) {
        counter(Key(label: "journeyd_enrollments_total", a: journey, b: event), [("journey", journey), ("event", event)]).increment()
    }

    func delivery(channel: String, outcome: String, seconds: Double?) {
        counter(Key(label: "journeyd_deliveries_total", a: channel, b: outcome), [("channel", channel), ("outcome", outcome)]).increment()
        if let seconds { timer(Key(label: "journeyd_delivery_duration_seconds", a: channel), [("channel", channel)]).recordSeconds(seconds) }
    }

    func reload(ok: Bool, version: String?) {
        counter("journeyd_reloads_total", [("result", ok ? "ok" : "refused")]).increment()
        if ok, let version { rulesLive(version: version) }
    }

    private let liveVersion = Mutex<String?>(nil)

    /// The live rules' content hash as an info metric (1 for the live version, 0 for the previous one).
    func rulesLive(version: String) {
        let previous = liveVersion.withLock { current in
            defer { current = version }
            return current
        }
        if let previous, previous != version { gauge("journeyd_rules_info", [("version", previous)]).record(0) }
        gauge("journeyd_rules_info", [("version", version)]).record(1)
        gauge("journeyd_rules_loaded_timestamp_seconds").record(Date().timeIntervalSince1970)
    }

    /// Cluster mode: how many partitions this instance owns now.
    func partitionsOwned(_ count: Int) {
        gauge("journeyd_cluster_partitions_owned").record(count)
    }

    /// Cluster mode: whether the instance's lease renewals or ownership turns fail now (PostgreSQL away).
    func clusterFailing(_ failing: Bool) {
        gauge("journeyd_cluster_ownership_failing").record(failing ? 1 : 0)
    }

    /// Cluster mode: a partition's graceful stop did not end within its bound (never expected).
    func partitionStopHung() {
        counter("journeyd_cluster_partition_stop_hung_total").increment()
    }

    /// Cluster mode: an owned partition found stalled (behind its subject's end, no progress) and let go.
    func partitionStalled() {
        counter("journeyd_cluster_partition_stalls_total").increment()
    }

    /// Cluster mode: a record a stale owner appended after the partition was taken over, skipped.
    func staleRecordSkipped() {
        counter("journeyd_cluster_stale_records_skipped_total").increment()
    }

    /// Cluster mode: a merge of an id another partition held, joined by a hand-over.
    func handover() {
        counter("journeyd_cluster_identity_handovers_total").increment()
    }

    /// Cluster mode: a merge of an id another partition held, with nothing to join.
    func mergeNotJoined() {
        counter("journeyd_cluster_identity_merges_not_joined_total").increment()
    }

    func logSync(nanoseconds: UInt64, records: Int) {
        timer("journeyd_log_sync_duration_seconds").recordNanoseconds(Int64(nanoseconds))
    }

    func batchDurable(nanoseconds: UInt64) {
        timer("journeyd_batch_duration_seconds").recordNanoseconds(Int64(nanoseconds))
    }

    func checkpoint(nanoseconds: UInt64) {
        timer("journeyd_checkpoint_duration_seconds").recordNanoseconds(Int64(nanoseconds))
    }

    /// The figures a processor publishes, as gauges.
    func publish(_ f: PartitionFigures, activeEnrollments: [String: Int], outboxByState: [DeliveryState: Int]) {
        gauge("journeyd_intake_queue_events").record(f.intakeQueued)
        gauge("journeyd_timers_pending").record(f.timers)
        gauge("journeyd_users_in_memory").record(f.usersInMemory)
        gauge("journeyd_log_sequence").record(Int64(f.logSequence))
        gauge("journeyd_log_durable_sequence").record(Int64(f.durableSequence))
        for (journey, count) in activeEnrollments { gauge("journeyd_enrollments_active", [("journey", journey)]).record(count) }
        for state in [DeliveryState.pending, .attempting, .retry] {
            gauge("journeyd_outbox_touches", [("state", state.rawValue)]).record(outboxByState[state] ?? 0)
        }
    }

    func breaker(channel: String, state: Int) {
        gauge("journeyd_channel_breaker_state", [("channel", channel)]).record(state)
    }
}

/// Why an event was rejected, as a bounded label: the reason texts themselves name fields and values.
enum RejectionCategory: String {
    case tooLarge = "too_large"
    case invalidJSON = "invalid_json"
    case invalidUTF8 = "invalid_utf8"
    case missingField = "missing_field"
    case invalidField = "invalid_field"
    case timestamp
    case other

    init(reason: String, path: String) {
        let r = reason.lowercased()
        if r.contains("exceeds") { self = .tooLarge }
        else if r.contains("utf-8") || r.contains("utf8") { self = .invalidUTF8 }
        else if path.contains("timestamp") || path.contains("sentAt") || r.contains("timestamp") { self = .timestamp }
        else if r.contains("missing") || r.contains("required") || r.contains("empty") { self = .missingField }
        else if path == "$" || r.contains("json") || r.contains("expected") || r.contains("duplicate key") { self = .invalidJSON }
        else if path.hasPrefix("$.") { self = .invalidField }
        else { self = .other }
    }
}

/// One thread's counter and timer handles, per ``DaemonMetrics`` instance: read and written by that
/// thread only (POSIX thread-specific data), released when the thread ends.
private final class ThreadHandles {
    var counters: [Int: [DaemonMetrics.Key: CoreMetrics.Counter]] = [:]
    var timers: [Int: [DaemonMetrics.Key: CoreMetrics.Timer]] = [:]

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<ThreadHandles>.fromOpaque(pointer).release() }
        }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    static var current: ThreadHandles {
        if let pointer = pthread_getspecific(key) { return Unmanaged<ThreadHandles>.fromOpaque(pointer).takeUnretainedValue() }
        let handles = ThreadHandles()
        pthread_setspecific(key, Unmanaged.passRetained(handles).toOpaque())
        return handles
    }
}
