import Foundation
import Testing

@testable import JourneyStore

/// Touches are written to the checkpoint in the order SQLite's B-tree keeps them.
@Suite("Checkpoint key order")
struct CheckpointKeyOrderTests {
    @Test func hexTouchIdsSortAsTheirStringsDo() {
        var generator = SystemRandomNumberGenerator()
        let ids = (0..<2000).map { _ in String(format: "%016llx", UInt64.random(in: .min ... .max, using: &generator)) }
            + ["0000000000000000", "ffffffffffffffff", "000000000000000a", "0000000000000009"]
        let order = SQLiteCheckpointStore.keyOrder(ids)
        #expect(order.map { ids[$0] } == ids.sorted())
    }

    @Test func otherIdsFallBackToTheirStringOrder() {
        let ids = ["b", "A0000000000000000", "0123456789ABCDEF", "0123456789abcdef", "a"]
        #expect(SQLiteCheckpointStore.keyOrder(ids).map { ids[$0] } == ids.sorted())
    }
}
