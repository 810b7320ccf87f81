/// Why a source cannot work: which source, what, and the system's reason.
public struct SourceError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The configuration is wrong (a path that cannot be bound, a bad address): restarting will not help.
    public var isConfiguration: Bool

    public init(_ description: String, configuration: Bool = false) {
        self.description = description
        self.isConfiguration = configuration
    }
}
