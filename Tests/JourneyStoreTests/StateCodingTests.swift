import JourneyCore
import PropertyBased
import Testing

/// The binary forms checkpoints and the log store: whatever is written reads back the same, and bad
/// bytes are refused with where, never trapped on.
@Suite("State coding")
struct StateCodingTests {
    /// A random JSON-like value, `depth` levels deep at most.
    static func value(_ random: inout SplitMix, depth: Int) -> Value {
        switch random.next() % (depth > 0 ? 8 : 6) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .number(Double(Int64(bitPattern: random.next()) % 1_000_000))
        case 3: return .number(Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF))
        case 4: return .number(Double(Int64(bitPattern: random.next() >> 1)))
        case 5: return .string(String((0..<Int(random.next() % 12)).map { _ in Character(Unicode.Scalar(UInt8(32 + random.next() % 90))) }) + "é漢")
        case 6: return .array((0..<Int(random.next() % 4)).map { _ in value(&random, depth: depth - 1) })
        default: return .object((0..<Int(random.next() % 4)).map { .init("k\($0)", value(&random, depth: depth - 1)) })
        }
    }

    @Test func valuesReadBackAsWritten() async {
        await propertyCheck(count: 500, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            var random = SplitMix(seed: seed)
            let value = Self.value(&random, depth: 4)
            var writer = ByteWriter()
            writer.value(value)
            let back = writer.bytes.read { reader in try? reader.value() }
            #expect(back == value)
        }
    }

    @Test func truncatedUserStateIsRefusedWithAnOffset() throws {
        var user = UserState(id: "u")
        user.traits = ["a": "b", "n": 3]
        user.enrollments = [Enrollment(seq: 1, journey: "j", version: "v", key: "", step: 0, enteredAt: .distantPast, trigger: .null)]
        let bytes = user.encoded()
        #expect(try UserState(id: "u", encoded: bytes) == user)
        for cut in 0..<bytes.count {
            #expect(throws: BinaryDecodingError.self) { try UserState(id: "u", encoded: Array(bytes.prefix(cut))) }
        }
    }

    /// A user waiting for a hand-over (cluster mode) keeps its held events through a checkpoint, in
    /// order; a user without one is written in format 5, which a journeyd before hand-overs reads.
    @Test func aPendingHandOverReadsBackAndOthersKeepTheOlderFormat() throws {
        var user = UserState(id: "k")
        user.traits = ["email": "k@example.com"]
        #expect(user.encoded().first == 5)
        user.handover = PendingHandover(
            request: "0123abcd", source: "anon-1",
            held: [
                HeldEvent(line: Array(#"{"type":"identify","userId":"k","anonymousId":"anon-1"}"#.utf8), receivedAt: Timestamp(milliseconds: 1_000), origin: "socket", namespace: ""),
                HeldEvent(line: Array(#"{"type":"track","event":"purchase","userId":"k"}"#.utf8), receivedAt: Timestamp(milliseconds: 2_000), origin: "http", namespace: "key-1"),
            ])
        let bytes = user.encoded()
        #expect(bytes.first == 6)
        #expect(try UserState(id: "k", encoded: bytes) == user)
        for cut in 0..<bytes.count {
            #expect(throws: BinaryDecodingError.self) { try UserState(id: "k", encoded: Array(bytes.prefix(cut))) }
        }
    }

    /// Timers that came due while the user waited are kept with the hold, in order (format 7, written only
    /// then: a hold without them stays readable by a journeyd of format 6).
    @Test func timersHeldWithAHandOverReadBack() throws {
        var user = UserState(id: "k")
        user.handover = PendingHandover(
            request: "0123abcd", source: "anon-1",
            held: [HeldEvent(line: Array(#"{"type":"identify","userId":"k","anonymousId":"anon-1"}"#.utf8), receivedAt: Timestamp(milliseconds: 1_000), origin: "socket", namespace: "")],
            timers: [
                TimerEntry(due: Timestamp(milliseconds: 1_500), seq: 7, user: "k", purpose: .enrollment(3)),
                TimerEntry(due: Timestamp(milliseconds: 1_800), seq: 9, user: "k", purpose: .segmentRecheck("vip")),
            ])
        let bytes = user.encoded()
        #expect(bytes.first == 7)
        #expect(try UserState(id: "k", encoded: bytes) == user)
        for cut in 0..<bytes.count {
            #expect(throws: BinaryDecodingError.self) { try UserState(id: "k", encoded: Array(bytes.prefix(cut))) }
        }
    }
}
