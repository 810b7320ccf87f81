import JourneyCore
import JourneyEngine
import JourneyRules
import Logging

/// The rules a partition starts under, in either mode (``Daemon``, ``OwnedPartition``).
extension Daemon {
    /// The rules a partition's replay starts under — those its checkpoint was taken with — and the
    /// engine on them, keeping every older journey version the archive holds.
    static func startingRuntime(
        partition: Int, restored: RestoredPartition, live: Runtime, archive: any JourneyArchive, logger: Logger
    ) throws -> (Runtime, Engine) {
        var initial = live
        if let version = restored.rulesVersion, !version.isEmpty, version != live.version {
            guard let snapshot = try archive.snapshot(version: version) else {
                throw DaemonError(
                    "partition \(partition): the last checkpoint names rule set \(version), which the archive does not hold", storage: true)
            }
            initial = try RuntimeBuilder.build(snapshot: snapshot)
        }
        var engine = Engine(rules: initial.rules)
        engine.retain(try olderVersions(store: archive, current: initial.rules, logger: logger))
        return (initial, engine)
    }

    /// Journey versions the archive holds that the current rules do not: users pinned to them keep
    /// running them.
    static func olderVersions(store: any JourneyArchive, current: RuleSet, logger: Logger) throws -> [Journey] {
        let live = Set(current.journeys.map(\.version))
        var older: [Journey] = []
        for stored in try store.keptJourneyVersions() where !live.contains(stored.version) {
            let (journey, diagnostics) = RuleLoader.compileJourney(
                source: stored.source, file: stored.file, channels: Set(current.channels.map(\.name)), templates: Set(current.templates.keys))
            if let journey {
                older.append(journey)
            } else {
                logger.warning(
                    "journey \(stored.journey) version \(stored.version) can no longer be compiled; its users exit when they wake: \(diagnostics.first?.description ?? "")",
                    metadata: [
                        RecordField.kind: "\(RecordKind.versionRetired.rawValue)", RecordField.journey: "\(stored.journey)",
                        RecordField.journeyVersion: "\(stored.version)",
                    ])
            }
        }
        return older
    }
}
