/// The kinds of records journeyd logs, each with a stable journald `MESSAGE_ID` (explained to operators
/// by `systemd/journeyd.catalog` through `journalctl -x`). A record's kind never changes its id: alerting
/// rules and saved `journalctl MESSAGE_ID=…` queries depend on it.
public enum RecordKind: String, Sendable, CaseIterable {
    case started
    case ready
    case stopping
    case stopped
    case rulesReloaded = "rules_reloaded"
    case rulesRefused = "rules_refused"
    case eventRejected = "event_rejected"
    case touchQueued = "touch_queued"
    case touchSent = "touch_sent"
    case touchRetry = "touch_retry"
    case touchFailed = "touch_failed"
    case touchDeadLettered = "touch_dead_lettered"
    case touchInDoubt = "touch_in_doubt"
    case touchSuppressed = "touch_suppressed"
    case touchDeferred = "touch_deferred"
    case touchCapped = "touch_capped"
    case channelDisabled = "channel_disabled"
    case storeFailure = "store_failure"
    case inputFailure = "input_failure"
    case versionRetired = "version_retired"
    case clockJump = "clock_jump"
    case eventOutOfBounds = "event_out_of_bounds"
    case diskFull = "disk_full"

    /// 128-bit id, 32 lowercase hex digits, as journald's `MESSAGE_ID=` expects.
    public var messageID: String {
        switch self {
        case .started: "aff2dbdc451b457b97719b2180997556"
        case .ready: "89e97afd8a454464a43f5bc77f19b640"
        case .stopping: "fbabdaae842d47e794ca775f89ee0e95"
        case .stopped: "91f83d052254478ca12b07d7342f2414"
        case .rulesReloaded: "5cc195bdd0fd409bbc0879e438fe0f72"
        case .rulesRefused: "6b88242a14f34f0db2fdbaee1a118c11"
        case .eventRejected: "ed3746f70129449d97cb2dec23d37f34"
        case .touchQueued: "ca3205db800c4eb6945d1ed59b3086e3"
        case .touchSent: "ff51fe4431ae47abab3ebe9ec9637331"
        case .touchRetry: "43be493fe97f4728a7bf80874019245f"
        case .touchFailed: "ec9e6371060f4c1292df58ba6e4be21f"
        case .touchDeadLettered: "c101354dc7114f5e9cf6b8e8198aa277"
        case .touchInDoubt: "38fe17853482412db522154620a3aac7"
        case .touchSuppressed: "69a11d4e97b6460991a3fa5de13d1c0c"
        case .touchDeferred: "688024e5140f49288b81465bf389fdcf"
        case .touchCapped: "2ab5c1fd27aa494a8419988b9f705443"
        case .channelDisabled: "e73cb1c6942641c8a946815a439bbea1"
        case .storeFailure: "9e1d5eaa97194347a482b2698f285cfb"
        case .inputFailure: "bc6edec1eb7642e7a887789ea714b891"
        case .versionRetired: "ffddbd02b87948cba6b2584a7910ccc8"
        case .clockJump: "56cd0b7c45844a3d94c6d55cb031ebb4"
        case .eventOutOfBounds: "de9ce7789a494f1fb65ed7210a672ffe"
        case .diskFull: "9fc9cfd6069549fc8dce39c18820b4e6"
        }
    }
}

/// Metadata keys of journeyd's log records. A journald handler writes each as an upper-case field
/// (`journey` → `JOURNEY=`); the stderr handler prints them as `key=value`.
public enum RecordField {
    /// The record's ``RecordKind`` raw value; the journald handler turns it into `MESSAGE_ID=`.
    public static let kind = "kind"
    public static let journey = "journey"
    public static let journeyVersion = "journey_version"
    public static let step = "step"
    /// The user id (the journald handler may hash it, see its configuration).
    public static let userID = "user_id"
    public static let touchID = "touch_id"
    public static let channel = "channel"
    public static let outcome = "outcome"
    public static let source = "source"
    public static let reason = "reason"
}
