/// Why the daemon cannot start or go on: what, where and why.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// The configuration is wrong (not the machine): restarting will not help (exit status 78, EX_CONFIG).
    public var isConfiguration = false
    /// The state could not be stored (the disk, the store): exit status 74 (EX_IOERR), restart from the log.
    public var isStorage = false

    public init(_ description: String, configuration: Bool = false, storage: Bool = false) {
        self.description = description
        self.isConfiguration = configuration
        self.isStorage = storage
    }
}
