import Foundation
import Logging
import Synchronization

/// What channel adapters are built with, besides their own options: where relative paths point, where
/// systemd credentials are, the logger, and whether to read secrets at all.
public struct ChannelContext: Sendable {
    /// Relative `path`s of `file` channels are under this directory (the daemon's state directory).
    public var stateDirectory: String
    /// Relative `…_file` secret paths are under this directory (the rules directory), if set.
    public var configurationDirectory: String?
    /// `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`): where `…_credential: NAME` secrets are.
    public var credentialsDirectory: String?
    /// False for `journeyd check` on a machine without the credentials: secret references are checked for
    /// shape only and their files are not read.
    public var readSecrets: Bool
    /// Adapters log through this (with `channel` metadata added). It never receives a secret.
    public var logger: Logger

    /// Open `file` channels by absolute path, shared so that two channels writing one file share one
    /// descriptor and one set of written touch ids.
    let files: FileSinks

    /// Replaces the shared HTTP transports (tests: a resolver that lies, to test the connect-time check).
    var transportOverride: HTTPTransport?

    /// The HTTP transport for a channel with (or without) `allow_private`.
    func transport(allowPrivate: Bool) -> HTTPTransport {
        transportOverride ?? (allowPrivate ? .unguarded : .guarded)
    }

    public init(
        stateDirectory: String = FileManager.default.currentDirectoryPath,
        configurationDirectory: String? = nil,
        credentialsDirectory: String? = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"],
        readSecrets: Bool = true,
        logger: Logger = Logger(label: "journeyd.channels")
    ) {
        self.stateDirectory = stateDirectory
        self.configurationDirectory = configurationDirectory
        self.credentialsDirectory = credentialsDirectory
        self.readSecrets = readSecrets
        self.logger = logger
        self.files = FileSinks()
    }
}
