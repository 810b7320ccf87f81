import Testing

@testable import JourneyCore

/// The timer queue (packed 40-byte entries, journey ids by index) against a plain model: an array of
/// ``TimerEntry`` searched for its earliest. The same timers come out in the same order — due, then
/// armed first — through bursts, restores and forgotten users, and memory follows the count down.
@Suite("Timer queue")
struct TimerQueueTests {
    static func purpose(_ random: inout SplitMix) -> TimerEntry.Purpose {
        let journeys = ["later", "welcome", "(stages)", "é漢 journey"]
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return .dateTrigger(journeys.randomElement(using: &random)!)
        case 1: return .segmentRecheck(journeys.randomElement(using: &random)!)
        case 2: return .enrollment(UInt64.random(in: (1 << 62)...UInt64.max, using: &random))  // kept aside
        default: return .enrollment(UInt64.random(in: 0..<1_000, using: &random))
        }
    }

    @Test("pops what the model pops, in due-then-seq order, through schedules, pops, removals and restores", arguments: [1, 2, 3])
    func agreesWithModel(seed: UInt64) {
        var random = SplitMix(seed: seed)
        var queue = TimerQueue()
        var model: [TimerEntry] = []
        var seq: UInt64 = 0
        for round in 0..<8_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                seq += 1
                // Few distinct due times, so many timers tie and the sequence number decides.
                let timer = TimerEntry(
                    due: Timestamp(milliseconds: Int64.random(in: -50..<200, using: &random)), seq: seq,
                    user: "user-\(Int.random(in: 0..<300, using: &random))", purpose: Self.purpose(&random))
                queue.schedule(timer)
                model.append(timer)
            case 5..<9:
                let now = Timestamp(milliseconds: Int64.random(in: -60..<220, using: &random))
                let due = model.filter { $0.due <= now }
                let users = queue.dueUsers(by: now, limit: .max)
                #expect(users.sorted() == due.map(\.user).sorted(), "the users of exactly the due timers")
                #expect(queue.dueUsers(by: now, limit: 3).count == min(3, due.count))
                let expected = due.min()
                if let expected { model.removeAll { $0 == expected } }
                #expect(queue.popDue(by: now) == expected)
            default:
                let user = "user-\(Int.random(in: 0..<300, using: &random))"
                let removed = queue.removeAll(of: user)
                #expect(Set(removed) == Set(model.filter { $0.user == user }))
                model.removeAll { $0.user == user }
            }
            #expect(queue.count == model.count)
            #expect(queue.nextDue == model.min()?.due)
            #expect(queue.lastSeq == seq)
            if round % 2_000 == 0 {
                #expect(Set(queue.unordered) == Set(model))
                queue = TimerQueue(queue.unordered, lastSeq: queue.lastSeq)  // a restore from a checkpoint
            }
        }
        var drained: [TimerEntry] = []
        while let timer = queue.popDue(by: .distantFuture) { drained.append(timer) }
        #expect(drained == model.sorted())
    }

    @Test("after a burst fired, the storage shrinks with the count")
    func shrinksAfterBurst() {
        var queue = TimerQueue()
        for i in 0..<100_000 {
            queue.schedule(TimerEntry(due: Timestamp(milliseconds: Int64(i)), seq: UInt64(i + 1), user: "u\(i)", purpose: .enrollment(1)))
        }
        var heap = TimerHeap()
        for i in 0..<100_000 { heap.insert(PackedTimer(due: Int64(i), seq: UInt64(i), user: "", purpose: 0)) }
        #expect(heap.capacity >= 100_000)
        while heap.count > 1_000 { _ = heap.popMin() }
        #expect(heap.capacity <= 4 * 1_000 + TimerHeap.shrinkFloor)
        var due: Int64 = 99_000
        while let timer = heap.popMin() {
            #expect(timer.due == due)
            due += 1
        }
        #expect(MemoryLayout<PackedTimer>.stride == 40)
        while queue.count > 10 { _ = queue.popDue(by: .distantFuture) }
        #expect(queue.popDue(by: .distantFuture)?.seq == 99_991)
    }
}
