import Foundation
import ServiceLifecycle

/// Sleeps for `duration`, or less when graceful shutdown begins meanwhile: periodic services notice a
/// shutdown at once instead of at their next tick. In a cancelled task it returns at once: a loop around it
/// checks `Task.isCancelled`, or it spins.
func nap(_ duration: Duration) async {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { try? await Task.sleep(for: duration) }
        group.addTask { try? await gracefulShutdown() }
        await group.next()
        group.cancelAll()
    }
}

/// Runs blocking work — a SQLite transaction, an fsync, a `poll(2)` — on a thread of its own and awaits
/// it, so the few threads Swift concurrency shares are never held by a disk or a socket.
func blocking<T: Sendable>(_ name: String = "journeyd worker", _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}

func blocking<T: Sendable>(_ name: String = "journeyd worker", _ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}
