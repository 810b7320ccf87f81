import Synchronization

/// A flag set once and read from any thread (a partition's services ended, a follower asked to stop, a
/// warning already logged): a class, so that tasks and escaping closures can share it.
final class SharedFlag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }

    func set() { value.store(true, ordering: .releasing) }

    /// Sets the flag; true only for the call that set it first.
    func setFirst() -> Bool { !value.exchange(true, ordering: .acquiringAndReleasing) }
}
