import JourneyCore
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

    /// What an entry takes in the arena: its length, the id's length and the id, the bytes.
    static func footprint(_ id: String, _ bytes: [UInt8]) -> Int {
        func varint(_ n: Int) -> Int { n < 0x80 ? 1 : n < 0x4000 ? 2 : 3 }
        let entry = varint(id.utf8.count) + id.utf8.count + bytes.count
        return varint(entry) + entry
    }

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
        #expect(cold.bytes.live == expected.reduce(0) { $0 + Self.footprint($1.key, $1.value) })
    }

    @Test("users taken out leave holes that a reclaim gives back, chunk by chunk")
    func reclaimFreesChunks() {
        var cold = ColdUsers()
        for i in 0..<60_000 { cold.store("user-\(i)", Self.encoding(i, length: 150)) }
        let full = cold.bytes
        #expect(full.live == (0..<60_000).reduce(0) { $0 + Self.footprint("user-\($1)", Self.encoding($1, length: 150)) } && full.garbage == 0)
        // Two users in three leave: holes outweigh half of what is live.
        for i in 0..<60_000 where i % 3 != 0 { _ = cold.take("user-\(i)") }
        #expect(cold.hasWork)
        cold.reclaim()
        #expect(!cold.hasWork)
        #expect(cold.bytes.live == stride(from: 0, to: 60_000, by: 3).reduce(0) { $0 + Self.footprint("user-\($1)", Self.encoding($1, length: 150)) })
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
        #expect(arena.liveBytes == 4 && arena.garbageBytes == 0)  // its length, its bytes
    }

    static func waitingUser(_ id: String, _ i: Int, journey: String) -> UserState {
        var user = UserState(id: id)
        var enrollment = Enrollment(
            seq: 1, journey: journey, version: "a452de9fec485264", key: "", step: 0, enteredAt: Timestamp(milliseconds: Int64(i) * 1000),
            trigger: .object([.init("name", "signup"), .init("messageId", .string("s-\(i)")), .init("properties", .emptyObject)]))
        enrollment.phase = .waiting
        enrollment.timer = UInt64(i + 1)
        user.enrollments = [enrollment]
        user.entries = [EntryRecord(journey: journey, key: "", lastEnteredAt: enrollment.enteredAt)]
        user.traits = .object([.init("first_name", .string("Ada \(i)"))])
        return user
    }

    @Test("users compacted with shared strings decode to exactly what was stored, through takes, removals and reclaims")
    func usersReadBackUnderChurn() throws {
        var cold = ColdUsers()
        var expected: [String: UserState] = [:]
        var random = Mix(state: 7)
        let journeys = ["later", "welcome", "winback"]
        for round in 0..<40_000 {
            let i = Int.random(in: 0..<8_000, using: &random)
            let id = "user-\(i)"
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<6:
                let user = Self.waitingUser(id, round, journey: journeys[i % 3])
                cold.store(id, user: user)
                expected[id] = user
            case 6..<9:
                #expect(try cold.take(user: id) == expected.removeValue(forKey: id))
            default:
                cold.remove(id)
                expected[id] = nil
            }
            if round % 5_000 == 0 { cold.reclaim() }
        }
        #expect(cold.count == expected.count)
        for (id, user) in expected {
            #expect(try cold.user(id) == user)
            #expect(try cold.traits(id) == user.traits, "the traits alone, without decoding the rest")
        }
        #expect(try cold.traits("never-stored") == nil)
        // The journeys, the version and the trigger's names are kept once, not in every user.
        #expect(cold.sharedStrings >= 7 && cold.sharedStrings < 20)
        let plain = expected.values.reduce(0) { $0 + $1.encoded().count }
        #expect(cold.bytes.live + 40 * expected.count < plain)
    }

    @Test("the index finds what a dictionary finds, with long probe runs of equal fingerprints, through growth, tombstones and rebuilds")
    func indexAgreesWithDictionary() {
        // Ids are chunk numbers; their hash collides often (99 homes, 3 fingerprints).
        func hash(_ id: Int) -> Int { (id % 3) << 62 | id % 99 }
        var index = ColdIndex()
        var model: [Int: ColdArena.Place] = [:]
        var random = Mix(state: 5)
        for round in 0..<50_000 {
            let id = Int.random(in: 0..<2_000, using: &random)
            let found = index.find(hash: hash(id)) { Int($0.chunk) == id }
            #expect(found.map { index.place(at: $0) } == model[id])
            if Int.random(in: 0..<10, using: &random) < 6 {
                let place = ColdArena.Place(chunk: UInt32(id), offset: UInt32(round % (1 << 20)))
                if let found { index.replace(at: found, with: place) } else { index.insert(hash: hash(id), place: place) { hash(Int($0.chunk)) } }
                model[id] = place
            } else if let found {
                index.remove(at: found)
                model[id] = nil
            }
            #expect(index.count == model.count)
        }
        for (id, place) in model { #expect(index.find(hash: hash(id)) { Int($0.chunk) == id }.map { index.place(at: $0) } == place) }
        #expect(Set(index.places(.max).map(\.chunk)) == Set(model.keys.map { UInt32($0) }))
        #expect(index.capacity <= 8 * max(model.count, 16))  // sized by the count at the last rebuild
    }

    @Test("ids equal as strings but spelled apart are one user, as in a dictionary")
    func canonicallyEqualIDs() {
        var cold = ColdUsers()
        cold.store("caf\u{E9}", [1])
        #expect(cold.contains("cafe\u{301}"))
        cold.store("cafe\u{301}", [2])
        #expect(cold.count == 1)
        #expect(cold.take("caf\u{E9}") == [2])
    }

    @Test("the allocator's free pages can be given back here, and large blocks mapped on their own")
    func allocator() {
        #expect(CAllocator.releaseFreePages())
        #expect(CAllocator.mapLargeBlocks())
    }
}
