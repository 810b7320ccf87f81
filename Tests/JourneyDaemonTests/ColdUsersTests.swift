import Testing

@testable import JourneyDaemon

@Suite("Compacted users kept in arena chunks")
struct ColdUsersTests {
    /// A deterministic generator (SplitMix64), so a failure replays.
    struct Mix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func encoding(_ i: Int, length: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) } }

    @Test("every user reads back its own bytes through stores, replacements, takes, removals and reclaims")
    func readsBackUnderChurn() {
        var cold = ColdUsers()
        var expected: [String: [UInt8]] = [:]
        var random = Mix(state: 42)
        for round in 0..<60_000 {
            let id = "user-\(Int.random(in: 0..<12_000, using: &random))"
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let bytes = Self.encoding(round, length: Int.random(in: 1..<400, using: &random))
                cold.store(id, bytes)
                expected[id] = bytes
            case 5..<8:
                #expect(cold.take(id) == expected.removeValue(forKey: id))
            default:
                cold.remove(id)
                expected[id] = nil
            }
            if round % 5_000 == 0 { cold.reclaim() }
        }
        cold.reclaim()
        #expect(cold.count == expected.count)
        for (id, bytes) in expected { #expect(cold.bytes(of: id) == bytes) }
        #expect(cold.bytes.live == expected.values.reduce(0) { $0 + $1.count })
    }

    @Test("users taken out leave holes that a reclaim gives back, chunk by chunk")
    func reclaimFreesChunks() {
        var cold = ColdUsers()
        for i in 0..<60_000 { cold.store("user-\(i)", Self.encoding(i, length: 150)) }
        let full = cold.bytes
        #expect(full.live == 60_000 * 150 && full.garbage == 0)
        // Two users in three leave: holes outweigh half of what is live.
        for i in 0..<60_000 where i % 3 != 0 { _ = cold.take("user-\(i)") }
        #expect(cold.hasWork)
        cold.reclaim()
        #expect(!cold.hasWork)
        #expect(cold.bytes.live == 20_000 * 150)
        #expect(cold.bytes.garbage < ColdArena.chunkSize)
        for i in stride(from: 0, to: 60_000, by: 3) { #expect(cold.bytes(of: "user-\(i)") == Self.encoding(i, length: 150)) }
    }

    @Test("a user larger than a chunk gets a chunk of its own, freed when it leaves")
    func largeUser() {
        var arena = ColdArena()
        let small = arena.store([1, 2, 3])
        let large = arena.store([UInt8](repeating: 7, count: ColdArena.chunkSize * 3))
        #expect(arena.chunkCount == 2)
        #expect(arena.bytes(at: large).count == ColdArena.chunkSize * 3)
        #expect(arena.bytes(at: small) == [1, 2, 3])
        arena.remove(large)
        #expect(arena.chunkCount == 1)
        #expect(arena.liveBytes == 3 && arena.garbageBytes == 0)
    }

    @Test("the allocator's free pages can be given back here")
    func heapTrim() {
        #expect(HeapTrim.releaseFreePages())
    }
}
