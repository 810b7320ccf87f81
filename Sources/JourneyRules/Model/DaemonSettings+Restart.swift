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

    /// Start-only settings that a cluster instance reads each time it takes a partition (the partition's
    /// checkpointer, dispatcher and user cache are built then): a reload changes them for the partitions
    /// it takes from then on.
    public static let takenWithPartition: Set<String> = [
        "checkpointEvery", "checkpointLogBytes", "logRetention", "maxUsersInMemory", "deliveryConcurrency",
    ]

    /// What a reload says about the start-only settings it found changed from `running`'s (nil: none):
    /// which wait for a restart and — in cluster mode — which apply to partitions taken from now on.
    public func reloadWarning(from running: DaemonSettings, cluster: Bool = false) -> String? {
        let changed = Self.restartOnly.filter { $0.differs(self, running) }
        guard !changed.isEmpty else { return nil }
        let byPartition = cluster ? changed.filter { Self.takenWithPartition.contains($0.name) }.map(\.key) : []
        let atStart = changed.map(\.key).filter { !byPartition.contains($0) }
        var parts: [String] = []
        if !atStart.isEmpty {
            parts.append(
                "\(atStart.joined(separator: ", ")) changed: read only at start, \(atStart.count == 1 ? "it takes" : "they take") effect at the next "
                    + "restart (systemctl restart journeyd)")
        }
        if !byPartition.isEmpty {
            parts.append(
                "\(byPartition.joined(separator: ", ")) changed: partitions this instance takes from now on use the new value; those it "
                    + "holds keep the old one until they move or it restarts")
        }
        return parts.joined(separator: "; ") + "; the rest of this reload is live"
    }
}
