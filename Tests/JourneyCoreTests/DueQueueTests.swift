import JourneyCore
import Testing

/// The outbox's schedule: keys (slots) due at times, rescheduled and withdrawn at will. Checked against
/// a plain model — every scheduled key with its time and the order it was scheduled in — over long random
/// runs of every operation, with slots reused as the outbox reuses them.
@Suite("DueQueue")
struct DueQueueTests {
    struct Model {
        var scheduled: [Int: (at: Timestamp, order: Int)] = [:]
        var order = 0

        mutating func schedule(_ key: Int, at: Timestamp) {
            order += 1
            scheduled[key] = (at, order)
        }

        func earliest() -> (key: Int, at: Timestamp)? {
            scheduled.min { ($0.value.at, $0.value.order) < ($1.value.at, $1.value.order) }.map { ($0.key, $0.value.at) }
        }

        mutating func popDue(by now: Timestamp) -> Int? {
            guard let (key, at) = earliest(), at <= now else { return nil }
            scheduled[key] = nil
            return key
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func agreesWithAPlainModel(seed: UInt64) {
        var random = SplitMix(seed: seed)
        var queue = DueQueue()
        var model = Model()
        // Few keys and few distinct times: reschedules, ties and stale heap entries are the common case.
        for step in 0..<20_000 {
            let key = Int(random.next() % 64)
            let at = Timestamp(milliseconds: Int64(random.next() % 200))
            switch random.next() % 6 {
            case 0, 1:
                queue.schedule(key, at: at)
                model.schedule(key, at: at)
            case 2:
                queue.remove(key)
                model.scheduled[key] = nil
            case 3:
                #expect(queue.popDue(by: at) == model.popDue(by: at), "step \(step)")
            case 4:
                #expect(queue.nextDue() == model.earliest()?.at, "step \(step)")
            default:
                #expect(queue.contains(key) == (model.scheduled[key] != nil), "step \(step)")
            }
            #expect(queue.count == model.scheduled.count, "step \(step)")
        }
        // Drained in order.
        while let expected = model.popDue(by: .distantFuture) {
            #expect(queue.popDue(by: .distantFuture) == expected)
        }
        #expect(queue.popDue(by: .distantFuture) == nil && queue.count == 0)
    }

    @Test func aKeyNeverScheduledIsNotContainedAndRemovingItChangesNothing() {
        var queue = DueQueue()
        queue.schedule(3, at: Timestamp(milliseconds: 10))
        #expect(!queue.contains(0) && !queue.contains(4) && !queue.contains(1_000))
        queue.remove(1_000)
        #expect(queue.count == 1 && queue.popDue(by: Timestamp(milliseconds: 9)) == nil)
        #expect(queue.popDue(by: Timestamp(milliseconds: 10)) == 3)
    }
}
