import JourneyCore
import Testing

@testable import JourneyDaemon

/// The log records of identity hand-overs (cluster mode) read back as written, and cut ones are refused.
@Suite("Hand-over records")
struct HandoverRecordTests {
    static let records: [JournalRecord.Handover] = [
        .request(id: "9f00aa", source: "anon-1", explicit: false, target: "user-1", partition: 63),
        .request(id: "9f00ab", source: "prev-é", explicit: true, target: "user-2", partition: 0),
        .answer(id: "9f00aa", target: "user-1", .joined(user: "anon-1", state: UserState(id: "anon-1").encoded(), aliases: ["anon-0", "anon-2"])),
        .answer(id: "9f00ab", target: "user-2", .notJoined(reason: "prev-é already belongs to user-9")),
        .forget(user: "anon-1"),
    ]

    @Test(arguments: records)
    func aHandOverRecordReadsBackAsWritten(_ handover: JournalRecord.Handover) throws {
        var w = ByteWriter()
        JournalRecord.handover(handover).encode(into: &w)
        let bytes = w.bytes
        let back = try bytes.withUnsafeBytes { try JournalRecord.decode($0) }
        guard case .handover(let decoded)? = back else {
            Issue.record("decoded as \(String(describing: back))")
            return
        }
        #expect(decoded == handover)
        for cut in 1..<bytes.count {
            #expect(throws: BinaryDecodingError.self) { try Array(bytes.prefix(cut)).withUnsafeBytes { try JournalRecord.decode($0) } }
        }
    }
}
