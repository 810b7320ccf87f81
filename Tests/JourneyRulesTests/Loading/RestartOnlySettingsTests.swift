import JourneyCore
import JourneyRules
import Testing

/// Which daemon settings a reload applies and which wait for a restart.
@Suite("Settings read only at start")
struct RestartOnlySettingsTests {
    /// Every stored property of DaemonSettings is classified: a setting added later must be put in one
    /// list or the other, or this fails.
    @Test func everySettingIsEitherLiveOnReloadOrReadOnlyAtStart() {
        let properties = Set(Mirror(reflecting: DaemonSettings()).children.compactMap(\.label))
        let restartOnly = Set(DaemonSettings.restartOnly.map(\.name))
        #expect(restartOnly.isDisjoint(with: DaemonSettings.liveOnReload))
        #expect(properties == restartOnly.union(DaemonSettings.liveOnReload), "unclassified: \(properties.subtracting(restartOnly.union(DaemonSettings.liveOnReload)))")
    }

    @Test func theChangesAreNamedByTheirKeysInJourneydYaml() {
        let running = DaemonSettings()
        var next = running
        #expect(next.restartOnlyChanges(from: running).isEmpty)
        next.checkpointEvery = .minutes(5)
        next.http = .init()
        next.expireAfter = .days(2)  // live: not listed
        next.unsubscribeURL = "https://example.com/u/{{ user.id }}"
        #expect(next.restartOnlyChanges(from: running) == ["state.checkpoint.every", "inputs.http"])
    }

    /// In cluster mode a few start-only settings are read again whenever a partition is taken: the
    /// warning says which wait for a restart and which for the next partitions.
    @Test func aClusterReloadTellsSettingsTakenWithAPartitionApart() {
        #expect(DaemonSettings.takenWithPartition.isSubset(of: Set(DaemonSettings.restartOnly.map(\.name))))
        let running = DaemonSettings()
        #expect(running.reloadWarning(from: running, cluster: true) == nil)
        var next = running
        next.deliveryConcurrency = 3
        #expect(
            next.reloadWarning(from: running, cluster: true)
                == "delivery.concurrency changed: partitions this instance takes from now on use the new value; those it holds keep the old one "
                + "until they move or it restarts; the rest of this reload is live")
        next.logLevel = "debug"
        #expect(
            next.reloadWarning(from: running)
                == "logging.level, delivery.concurrency changed: read only at start, they take effect at the next restart (systemctl restart "
                + "journeyd); the rest of this reload is live", "embedded: both wait for a restart")
    }
}
