import Foundation

/// Waits until `condition` holds, polling every `interval`, for at most `timeout` — generous by default:
/// the deadline only tells a hang from a slow, shared machine; it never decides a test's outcome while
/// the condition can still become true. Suspends, never blocks a thread.
public func eventually(
    timeout: Duration = .seconds(90), interval: Duration = .milliseconds(20), _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try condition()
}

/// The same, for conditions that need to await (a request to a peer).
public func eventually(
    timeout: Duration = .seconds(90), interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Lets real time pass where a test must show that something does *not* happen within a while (a
/// debounce that must not fire twice). Suspends, never blocks a thread.
public func pause(_ duration: Duration) async {
    try? await Task.sleep(for: duration)
}

/// Runs blocking work (a `read(2)` with a timeout, a `connect(2)`) on a thread of its own and awaits its
/// result, so the few threads every test's tasks share are never blocked. Keep expectations out of
/// `work`: they belong to the test's own task.
public func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// The non-throwing form.
public func offThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
