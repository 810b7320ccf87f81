public import JourneyCore

/// `cluster:` in journeyd.yaml: run as one of several instances on NATS JetStream (the event log) and
/// PostgreSQL (the state), DESIGN §6, docs/CLUSTER.md. Absent: the embedded mode. Secrets (the NATS
/// credentials, the PostgreSQL DSN with its password) are named by file or systemd credential, never
/// written here.
public struct ClusterSettings: Sendable, Equatable {
    /// `cluster.instance`: this instance's name in leases and metrics (default: the host name).
    public var instance: String?
    /// `cluster.partitions`: P, fixed when the stream is created (an instance configured otherwise refuses to start).
    public var partitions: Int = 64
    /// `cluster.nats.url`.
    public var natsURL: String
    /// `cluster.nats.credentials_file` / `credentials_credential`: a NATS `.creds` file.
    public var natsCredentials: Secret?
    /// `cluster.stream`: the JetStream stream (subjects `journeyd.events.<partition>`).
    public var stream: String = "JOURNEYD"
    /// `cluster.postgres.dsn_file` / `dsn_credential`: a libpq URI, `postgresql://user:password@host:port/database?sslmode=…`.
    public var postgresDSN: Secret
    /// `cluster.lease.ttl`: how long a partition stays leased to an instance that stopped renewing. The
    /// default, 5 s, bounds a takeover after a kill to about 5 s plus the partitions' restore.
    public var leaseTTL: TimeSpan = Self.defaultLeaseTTL
    public static let defaultLeaseTTL = TimeSpan.seconds(5)
    /// `cluster.stall_after`: how long an owned partition may stay behind its subject's end without
    /// progress (its follower or processor stuck) before it is reported and let go, to start afresh.
    public var stallAfter: TimeSpan = Self.defaultStallAfter
    public static let defaultStallAfter = TimeSpan.seconds(60)

    /// Where a secret is read from when the daemon starts.
    public enum Secret: Sendable, Equatable {
        /// A path (relative paths are relative to the rule directory).
        case file(String)
        /// A file in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
        case credential(String)
    }

    public init(natsURL: String, postgresDSN: Secret) {
        self.natsURL = natsURL
        self.postgresDSN = postgresDSN
    }
}
