import Foundation
import Testing

@testable import JourneyStore

/// Touches are written to the checkpoint in the order SQLite's B-tree keeps them: by user, then touch id,
/// each as UTF-8 bytes.
@Suite("Checkpoint key order")
struct CheckpointKeyOrderTests {
    @Test func hexTouchIdsSortAsTheirStringsDo() {
        var generator = SystemRandomNumberGenerator()
        let ids = (0..<2000).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max, using: &generator)) }
            + ["0000000000000000", "ffffffffffffffff", "000000000000000a", "0000000000000009"]
        let order = SQLiteCheckpointStore.keyOrder(ids.map { ("ada", $0) })
        #expect(order.map { ids[$0] } == ids.sorted())
    }

    @Test func otherIdsFallBackToTheirStringOrder() {
        let ids = ["b", "A0000000000000000", "0123456789ABCDEF", "0123456789abcdef", "a"]
        #expect(SQLiteCheckpointStore.keyOrder(ids.map { ("ada", $0) }).map { ids[$0] } == ids.sorted())
    }

    @Test func touchesSortByUserFirstAsBytesDo() {
        let keys: [(user: String, id: String)] = [
            ("zoë", "0000000000000001"), ("bob", "00000000000000ff"), ("zoe", "0000000000000002"), ("bob", "0000000000000003"),
            ("Ada", "0000000000000004"), ("bob", "0000000000000000"),
        ]
        let sorted = SQLiteCheckpointStore.keyOrder(keys).map { "\(keys[$0].user)/\(keys[$0].id.suffix(2))" }
        #expect(sorted == ["Ada/04", "bob/00", "bob/03", "bob/ff", "zoe/02", "zoë/01"])
        let mixed: [(user: String, id: String)] = [("bob", "b"), ("ada", "z"), ("bob", "a")]
        #expect(SQLiteCheckpointStore.keyOrder(mixed) == [1, 2, 0])
    }
}
