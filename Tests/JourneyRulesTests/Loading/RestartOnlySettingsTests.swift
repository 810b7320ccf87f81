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
}
