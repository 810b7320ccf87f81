public import JourneyCore

/// The contract every keeper of instances' input positions keeps (``InputPositionStore``, cluster mode):
/// nothing for an instance that never moved any; a move sets its positions and leaves the others; nil
/// removes one; instances are kept apart; what was moved is read back as it was, through another handle
/// on the same storage (`reopen`) — it is durable, not cached.
///
/// `store` must hold no positions for the instances "a", "b" and "a/2" yet.
public enum InputPositionStoreConformance {
    public static func check(_ store: any InputPositionStore, reopen: @escaping @Sendable () throws -> any InputPositionStore) async throws {
        try require(try await offThread { try store.positions(of: "a") }.isEmpty, "an instance that never moved a position has none")

        let file = "spool/2026-12-06.jsonl"
        try await offThread { try store.move([file: 4_096, file + "#line": 17, "tail//var/log/events.jsonl": 1 << 40], of: "a") }
        let first = try await offThread { try store.positions(of: "a") }
        try require(first == [file: 4_096, file + "#line": 17, "tail//var/log/events.jsonl": 1 << 40],
            "a move sets each position it names, 64-bit values kept (read back \(first))")

        try await offThread { try store.move([file: 8_192, file + "#line": 33], of: "a") }
        let second = try await offThread { try store.positions(of: "a") }
        try require(second == [file: 8_192, file + "#line": 33, "tail//var/log/events.jsonl": 1 << 40],
            "a move sets what it names and leaves the other positions as they were (read back \(second))")

        try await offThread { try store.move(["spool/next.jsonl": 10, "b-only": 1], of: "b") }
        try await offThread { try store.move(["x": 1], of: "a/2") }
        try require(try await offThread { try store.positions(of: "a") } == second, "another instance's moves leave an instance's positions alone")
        try require(try await offThread { try store.positions(of: "b") } == ["spool/next.jsonl": 10, "b-only": 1], "instances are kept apart")

        try await offThread { try store.move([file: nil, file + "#line": nil, "never-set": nil], of: "a") }
        let third = try await offThread { try store.positions(of: "a") }
        try require(third == ["tail//var/log/events.jsonl": 1 << 40],
            "nil removes a position (and removing one that is not there does nothing) (read back \(third))")
        try await offThread { try store.move([:], of: "a") }

        let again = try await offThread { try reopen() }
        let reread = try await offThread { try again.positions(of: "a") }
        try require(reread == third, "positions are read back through another handle as they were moved (read back \(reread))")
        try require(try await offThread { try again.positions(of: "b") } == ["spool/next.jsonl": 10, "b-only": 1],
            "every instance's positions are read back through another handle")
    }
}
