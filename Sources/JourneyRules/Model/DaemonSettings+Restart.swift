/// Which of `journeyd.yaml`'s daemon settings a reload takes, and which only a restart.
///
/// The embedded daemon reads most of them once, at start — where state lives, the inputs it binds, the
/// checkpoint cadence, logging — and builds the rest into the runtime a reload swaps in: the event-time
/// policy and the renderer's `delivery.expire_after` and `delivery.unsubscribe_url`. A reload that finds
/// a start-only setting changed says so (`journeyd reload` prints it, the journal has it) instead of
/// leaving the operator to believe it took effect. `restartOnly` lists every stored property but the
/// live ones; a test holds the two lists to the type, so a new setting is classified when it is added.
extension DaemonSettings {
    /// The settings a reload applies, by their Swift names.
    public static let liveOnReload: Set<String> = ["expireAfter", "eventTime", "unsubscribeURL"]

    /// The settings read only at start: Swift name, `journeyd.yaml` key, and whether two values differ.
    public static let restartOnly: [(name: String, key: String, differs: @Sendable (DaemonSettings, DaemonSettings) -> Bool)] = [
        ("statePath", "state.path", { $0.statePath != $1.statePath }),
        ("fsyncEveryCommit", "state.durability", { $0.fsyncEveryCommit != $1.fsyncEveryCommit }),
        ("checkpointEvery", "state.checkpoint.every", { $0.checkpointEvery != $1.checkpointEvery }),
        ("checkpointLogBytes", "state.checkpoint.log_bytes", { $0.checkpointLogBytes != $1.checkpointLogBytes }),
        ("logRetention", "state.log_retention", { $0.logRetention != $1.logRetention }),
        ("maxUsersInMemory", "state.max_users_in_memory", { $0.maxUsersInMemory != $1.maxUsersInMemory }),
        ("spoolDirectory", "inputs.spool.directory", { $0.spoolDirectory != $1.spoolDirectory }),
        ("spoolDone", "inputs.spool.done", { $0.spoolDone != $1.spoolDone }),
        ("tailFile", "inputs.tail.path", { $0.tailFile != $1.tailFile }),
        ("socketPath", "inputs.socket.path", { $0.socketPath != $1.socketPath }),
        ("socketListen", "inputs.socket.listen", { $0.socketListen != $1.socketListen }),
        ("batchSize", "inputs.batch", { $0.batchSize != $1.batchSize }),
        ("http", "inputs.http", { $0.http != $1.http }),
        ("controlSocket", "control.socket", { $0.controlSocket != $1.controlSocket }),
        ("watchRules", "reload.watch", { $0.watchRules != $1.watchRules }),
        ("reloadDebounce", "reload.debounce", { $0.reloadDebounce != $1.reloadDebounce }),
        ("logLevel", "logging.level", { $0.logLevel != $1.logLevel }),
        ("hashUserIDs", "logging.user_id", { $0.hashUserIDs != $1.hashUserIDs }),
        ("userIDKey", "logging.user_id_key", { $0.userIDKey != $1.userIDKey }),
        ("deliveryConcurrency", "delivery.concurrency", { $0.deliveryConcurrency != $1.deliveryConcurrency }),
        ("adminListen", "admin.listen", { $0.adminListen != $1.adminListen }),
        ("cluster", "cluster", { $0.cluster != $1.cluster }),
    ]

    /// The `journeyd.yaml` keys of start-only settings whose value here differs from `running`'s.
    public func restartOnlyChanges(from running: DaemonSettings) -> [String] {
        Self.restartOnly.filter { $0.differs(self, running) }.map(\.key)
    }
}
