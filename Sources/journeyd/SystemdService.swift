import Glibc
import JourneyCore
import JourneyDaemon
import JourneyRules
import JourneySystemd
import Logging

/// The daemon's ``ServiceManager`` under systemd: notify messages through ``SystemdNotifier`` and
/// socket-activated listeners through ``ListenFDs``.
final class SystemdServiceManager: ServiceManager, @unchecked Sendable {
    let notifier: SystemdNotifier
    let listeners: ListenFDs

    init(notifier: SystemdNotifier = SystemdNotifier(), listeners: ListenFDs = ListenFDs()) {
        self.notifier = notifier
        self.listeners = listeners
    }

    /// Whether journeyd was started by systemd (as a notify service, or with sockets handed over).
    static var isSupervised: Bool { getenv("NOTIFY_SOCKET") != nil || getenv("LISTEN_FDS") != nil }

    func ready(status: String) { notifier.ready(status: status) }
    func reloading() { notifier.reloading(status: "reloading the rules") }
    func reloaded(status: String) { notifier.ready(status: status) }
    func status(_ text: String) { notifier.status(text) }
    func alive() { notifier.watchdog() }
    func extendTimeout(microseconds: UInt64) { notifier.extendTimeout(microseconds: microseconds) }
    func stopping() { notifier.stopping(status: "stopping: finishing the batch in hand") }
    func takeListeningSocket(named name: String) -> Int32? { listeners.take(named: name) }
    var watchdogInterval: UInt64? { notifier.watchdogInterval }
}

/// Logging for the commands: journal fields when standard error goes to the journal (journeyd run as a
/// service), readable lines on standard error otherwise. Bootstrapped once per process.
enum CommandLogging {
    /// `logging.user_id` (`plain`, the default, or `hash`) and `logging.user_id_key` (32 hex digits;
    /// default: a key derived from this machine's id) in journeyd.yaml.
    static func userIDPolicy(_ settings: DaemonSettings) -> Result<UserIDPolicy, ValidationFailure> {
        switch settings.hashUserIDs {
        case false:
            return .success(.plain)
        case true:
            if let hex = settings.userIDKey {
                guard let hasher = UserIDHasher(hexKey: hex) else {
                    return .failure(.init(description: "journeyd.yaml: logging.user_id_key must be 32 hex digits"))
                }
                return .success(.hashed(hasher))
            }
            guard let hasher = UserIDHasher.machineKeyed() else {
                return .failure(
                    .init(
                        description: "journeyd.yaml: logging.user_id: hash needs /etc/machine-id or logging.user_id_key"
                    )
                )
            }
            return .success(.hashed(hasher))
        }
    }

    static func bootstrap(userIDs: UserIDPolicy, level: Logger.Level = .info) {
        let journal = JournalLogHandler.isStandardErrorJournal()
        LoggingSystem.bootstrap { _ in
            var handler: any LogHandler =
                journal ? JournalLogHandler(userIDs: userIDs) : StandardErrorLogHandler(userIDs: userIDs)
            handler.logLevel = level
            return handler
        }
    }

    struct ValidationFailure: Error, CustomStringConvertible {
        var description: String
    }
}
