import JourneyCore
import PropertyBased
import Testing

/// Recurring strings written by number (``StringTable``): whatever goes through a table reads back
/// exactly as written without one, however the table grew between the writes, and only recurring
/// strings are taken in.
@Suite("String table")
struct StringTableTests {
    static let journeys = ["later", "welcome", "winback-2025", "(stages)"]
    static let keys = ["name", "messageId", "properties", "userId", "plan", "é漢"]

    /// A waiting user like the bench's: recurring journey, version and trigger keys; unique ids.
    static func user(_ i: Int, _ random: inout SplitMix) -> UserState {
        var user = UserState(id: "user-\(i)")
        let journey = journeys[Int(random.next() % UInt64(journeys.count))]
        var trigger: [Value.Member] = [.init("name", "signup"), .init("messageId", .string("s-\(i)"))]
        trigger.append(.init(keys[Int(random.next() % UInt64(keys.count))], StateCodingTests.value(&random, depth: 2)))
        var enrollment = Enrollment(
            seq: 1, journey: journey, version: "a452de9fec48526\(random.next() % 3)", key: "", step: 0,
            enteredAt: Timestamp(milliseconds: Int64(i) * 1000), trigger: .object(trigger))
        enrollment.phase = .waiting
        enrollment.timer = UInt64(i)
        user.enrollments = [enrollment]
        user.entries = [EntryRecord(journey: journey, key: "", lastEnteredAt: enrollment.enteredAt)]
        user.traits = StateCodingTests.value(&random, depth: 2)
        return user
    }

    @Test("users read back exactly through a table that grows between their writes, and their encodings shrink")
    func usersReadBack() throws {
        var random = SplitMix(seed: 9)
        var table: StringTable? = StringTable()
        var written: [(UserState, [UInt8])] = []
        for i in 0..<3_000 {
            let user = Self.user(i, &random)
            var writer = ByteWriter()
            swap(&writer.strings, &table)
            user.encode(into: &writer)
            swap(&writer.strings, &table)
            written.append((user, writer.bytes))
        }
        // Read with the table as it is at the end: indices handed out are never taken back.
        for (user, bytes) in written {
            let back = try bytes.read { reader in
                reader.strings = table
                return try UserState(id: user.id, from: &reader)
            }
            #expect(back == user)
        }
        let (last, bytes) = written.last!
        #expect(bytes.count + 40 < last.encoded().count)  // journey twice, version, four trigger strings
        // Recurring strings only: the journeys, versions and trigger keys, not the message ids.
        let interned = (0..<table!.count).compactMap { table!.string(at: $0) }
        #expect(Set(Self.journeys + ["a452de9fec485260", "signup", "name", "messageId"]).isSubset(of: interned))
        #expect(!interned.contains { $0.hasPrefix("s-") })
    }

    /// Two recurring strings counted in the same candidate slot used to reset each other's count at
    /// every alternation, so neither was interned; with two slots per string both are. (200 pairs in
    /// tables of 64 slots: with one slot per string, about three pairs would share it.)
    @Test func twoRecurringStringsThatShareASlotAreBothInterned() {
        for pair in 0..<200 {
            var table = StringTable(threshold: 4, candidateSlots: 64)
            let a = "journey-\(pair)", b = "version-\(pair)"
            for _ in 0..<8 {
                _ = table.index(for: a, utf8Count: a.utf8.count)
                _ = table.index(for: b, utf8Count: b.utf8.count)
            }
            let interned = Set((0..<table.count).compactMap { table.string(at: $0) })
            #expect(interned == [a, b], "pair \(pair)")
        }
    }

    @Test("random values read back through a table, in any order of writes")
    func valuesReadBack() async {
        await propertyCheck(count: 200, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            var random = SplitMix(seed: seed)
            var table: StringTable? = StringTable(threshold: 2, candidateSlots: 16)
            var written: [(Value, [UInt8])] = []
            for _ in 0..<20 {
                let value = Value.object([.init("k0", StateCodingTests.value(&random, depth: 3)), .init("kept", "same")])
                var writer = ByteWriter()
                swap(&writer.strings, &table)
                writer.value(value)
                swap(&writer.strings, &table)
                written.append((value, writer.bytes))
            }
            for (value, bytes) in written {
                #expect(bytes.read { reader in
                    reader.strings = table
                    return try? reader.value()
                } == value)
            }
        }
    }

    @Test("the table stops growing at its capacity, and writes go on in full")
    func capacity() throws {
        var table: StringTable? = StringTable(capacity: 5, threshold: 1)
        var written: [(String, [UInt8])] = []
        for i in 0..<50 {
            var writer = ByteWriter()
            swap(&writer.strings, &table)
            writer.string("string \(i % 25)")
            swap(&writer.strings, &table)
            written.append(("string \(i % 25)", writer.bytes))
        }
        #expect(table!.count == 5)
        for (string, bytes) in written {
            #expect(try bytes.read { reader in
                reader.strings = table
                return try reader.string()
            } == string)
        }
        #expect(written[0].1.count == 1 && written[25].1.count == 1)  // interned: one byte, its index
        #expect(written[30].1.count == 1 + "string 5".utf8.count)  // after the capacity: in full
    }

    @Test("a number not in the table is refused with where, not trapped on")
    func unknownIndex() {
        let bytes: [UInt8] = [0x07]  // index 3, tagged
        #expect(throws: BinaryDecodingError.self) {
            try bytes.read { reader in
                reader.strings = StringTable()
                return try reader.string()
            }
        }
    }
}
