import Foundation
import Synchronization
import Testing

@testable import JourneyDaemon

@Suite("Deferred release")
struct DeferredReleaseTests {
    /// The threads tracked objects were freed on.
    final class Frees: Sendable {
        let threads = Mutex<[pthread_t]>([])
        var all: [pthread_t] { threads.withLock { $0 } }
    }

    /// Records the thread its last reference went on.
    final class Tracked: Sendable {
        let frees: Frees
        init(_ frees: Frees) { self.frees = frees }
        deinit { frees.threads.withLock { $0.append(pthread_self()) } }
    }

    @Test func whatIsHandedOverIsFreedOnAnotherThread() {
        let frees = Frees()
        let release = DeferredRelease(label: "test release")
        var batch: [Tracked] = (0..<100).map { _ in Tracked(frees) }
        batch.append(Tracked(frees))
        release.release(consume batch)
        release.drain()
        #expect(frees.all.count == 101)
        #expect(frees.all.allSatisfy { pthread_equal($0, pthread_self()) == 0 })
    }
}
