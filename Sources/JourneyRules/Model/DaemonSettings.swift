public import JourneyCore

/// The daemon's part of `journeyd.yaml`: where state lives, which inputs feed it, how it reloads.
/// Validated at load with every other rule file (so `journeyd check` reports a typo in `inputs` at its
/// line and column); command-line flags of `journeyd run` override these.
public struct DaemonSettings: Sendable, Equatable {
    /// `state.path`: the SQLite database.
    public var statePath: String?
    /// `state.durability`: fsync every commit (`full`, the default) or not (`normal`).
    public var fsyncEveryCommit: Bool = true
    /// `inputs.spool.directory`.
    public var spoolDirectory: String?
    /// `inputs.spool.done`: what happens to a finished spool file.
    public var spoolDone: SpoolDone = .archive
    /// `inputs.tail.path`: a JSON-lines file to follow.
    public var tailFile: String?
    /// `inputs.socket.path`: a Unix stream socket for newline-delimited events.
    public var socketPath: String?
    /// `inputs.socket.listen`: a TCP address (`127.0.0.1:5170`, `[::1]:5170`) for newline-delimited events.
    public var socketListen: String?
    /// `inputs.batch`: events per transaction at most.
    public var batchSize: Int?
    /// `control.socket`: the control socket of `journeyd reload` and `journeyd status`.
    public var controlSocket: String?
    /// `reload.watch`: reload when files in the rule directory change (debounced).
    public var watchRules: Bool = false
    /// `reload.debounce`: how long the rule directory must stay quiet before a watched change reloads.
    public var reloadDebounce: TimeSpan = .milliseconds(500)
    /// `logging.user_id`: `plain` or `hash` (user ids in log records as a keyed hash).
    public var hashUserIDs: Bool = false
    /// `logging.level`: the least severe records logged (`debug` adds a record per touch sent and per
    /// policy decision).
    public var logLevel: String = "info"
    /// `logging.user_id_key`: the key of that hash (32 hex digits); by default derived from /etc/machine-id.
    public var userIDKey: String?
    /// `state.checkpoint.every`: the longest time between checkpoints while events arrive.
    public var checkpointEvery: TimeSpan = .seconds(30)
    /// `state.checkpoint.log_bytes`: a checkpoint is taken sooner once the log since the last one holds this much.
    public var checkpointLogBytes: Int = 256 << 20
    /// `state.log_retention`: how long log segments a checkpoint covers are kept (for forensics); 0: deleted at once.
    public var logRetention: TimeSpan = .zero
    /// `state.max_users_in_memory`: beyond this, users a checkpoint holds leave memory (read back on use).
    public var maxUsersInMemory: Int = 2_000_000
    /// `delivery.expire_after`: a touch not delivered this long after it was due is dead-lettered as expired.
    public var expireAfter: TimeSpan?
    /// `events.*`: the clock-skew correction and the bounds on event times.
    public var eventTime = EventTimePolicy()
    /// `delivery.concurrency`: deliveries in flight at once, over all channels (each channel also has its own).
    public var deliveryConcurrency: Int = 64
    /// `delivery.unsubscribe_url`: a Liquid template giving each message its unsubscribe link.
    public var unsubscribeURL: String?

    /// `inputs.http`: the Segment HTTP Tracking API input.
    public var http: HTTPInput?
    /// `admin.listen`: where `/metrics`, `/healthz` and `/readyz` are served (host:port). Off unless set,
    /// or unless systemd passes a socket named `admin` (journeyd-admin.socket listens on the default).
    public var adminListen: String?
    public static let defaultAdminListen = "127.0.0.1:9464"
    /// `cluster`: one of several instances on NATS JetStream and PostgreSQL; nil in the embedded mode.
    public var cluster: ClusterSettings?

    public struct HTTPInput: Sendable, Equatable {
        /// `inputs.http.listen` (default 127.0.0.1:8088).
        public var listen: String = "127.0.0.1:8088"
        /// `inputs.http.sources`: each write key names a source (its events' deduplication namespace).
        public var sources: [Source] = []
        /// `inputs.http.tls`: serve HTTPS with these PEM files.
        public var tls: TLS?
        /// `inputs.http.queue`: events waiting for the processor at most; beyond, requests get 429.
        public var queue: Int = 50_000
        /// `inputs.http.idle_timeout`: a connection with no request in progress and nothing read for this
        /// long is closed (clients reconnect; an idle one no longer holds a descriptor of the budget).
        public var idleTimeout: TimeSpan = .seconds(60)

        public struct Source: Sendable, Equatable {
            public var name: String
            public var key: Key
            public enum Key: Sendable, Equatable {
                /// `key_file: PATH` (relative paths are relative to the rule directory).
                case file(String)
                /// `key_credential: NAME`: a file in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
                case credential(String)
            }
        }

        public struct TLS: Sendable, Equatable {
            public var certificate: String
            public var key: String
        }

        public init() {}
    }

    public enum SpoolDone: String, Sendable, Equatable {
        /// Move to `<spool>/done/` (the default).
        case archive
        /// Remove.
        case delete
    }

    public init() {}
}
