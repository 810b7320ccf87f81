import Dispatch
import Synchronization

/// Frees what the processor is done with on a thread of its own. A batch of 2,048 events is thousands
/// of heap objects (each event's raw line, its properties, its strings); freeing them where the last
/// reference went — the processor's thread, at the end of each turn — took about a tenth of that thread's
/// time in the spool run of issue 9, and the processor's thread is the daemon's critical path while the
/// other core has room. Whatever is handed over here is only released, never read.
///
/// Bounded: while `limit` hand-overs wait (the releasing thread starved of CPU), the next is freed on the
/// caller's thread as before, so garbage never piles up faster than it is freed.
final class DeferredRelease: Sendable {
    private let queue: DispatchQueue
    private let waiting = Atomic<Int>(0)
    private let limit: Int

    init(label: String, limit: Int = 64) {
        queue = DispatchQueue(label: label, qos: .utility)
        self.limit = limit
    }

    /// Hands `garbage` over: its last reference should be the one passed (`consume` it), or this only
    /// moves a reference count.
    func release<T>(_ garbage: consuming T) {
        guard waiting.add(1, ordering: .relaxed).newValue <= limit else {
            waiting.subtract(1, ordering: .relaxed)
            return  // freed here, as the parameter ends
        }
        let box = Box(garbage)
        queue.async {
            box.empty()
            self.waiting.subtract(1, ordering: .relaxed)
        }
    }

    /// Waits until everything handed over is freed (tests).
    func drain() { queue.sync {} }

    /// Holds the garbage until the releasing thread empties it (a closure's captures may be released on
    /// either thread; the box's content is released where `empty` runs).
    private final class Box<Content>: @unchecked Sendable {
        private var content: Content?
        init(_ content: consuming Content) { self.content = content }
        func empty() { content = nil }
    }
}
