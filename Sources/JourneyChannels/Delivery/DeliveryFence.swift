/// Whether a delivery may start now, asked by ``DeliveryPipeline`` right before each attempt — the last
/// moment before a message leaves the process.
///
/// In cluster mode a partition's touches may be sent only by the instance that holds the partition's
/// lease: a stale owner (its lease lapsed while it was paused or overloaded, and another instance took
/// the partition over) must not start a send the new owner cannot know of — that is how a keyless channel
/// gets a touch twice. The fence closes on the stale owner's own clock, before the lease can expire in
/// the database, independently of how soon its ownership loop notices and stops the partition. A touch
/// refused at the fence is not attempted: it is reported held (attempts unchanged) and left for the owner.
/// In embedded mode the fence is always open.
public struct DeliveryFence: Sendable {
    /// Why deliveries are refused while the fence is closed (in the touch's report and the log).
    public let reason: String
    private let check: @Sendable () -> Bool

    /// - Parameter isOpen: asked before every attempt, on any thread; cheap and non-blocking.
    public init(reason: String, isOpen: @escaping @Sendable () -> Bool) {
        self.reason = reason
        self.check = isOpen
    }

    /// Whether an attempt may start now.
    public var isOpen: Bool { check() }

    /// The fence of a process that owns all its touches (embedded mode).
    public static let open = DeliveryFence(reason: "", isOpen: { true })
}
