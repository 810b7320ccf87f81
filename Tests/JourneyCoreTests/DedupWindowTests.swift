import JourneyCore
import Testing

/// The deduplication window against a plain model (a set beside a list, as it was written before it was
/// made compact): the same answers for every insert, the same ids remembered in the same order, through
/// the ring's growth, wrap-around and shrinking.
@Suite("Deduplication window")
struct DedupWindowTests {
    /// The obvious implementation the compact one must agree with.
    struct Model {
        var window: TimeSpan
        var maxEntries: Int
        var order: [DedupWindow.Entry] = []
        var seen: Set<DedupWindow.Key> = []

        mutating func insert(_ key: DedupWindow.Key, at: Timestamp) -> Bool {
            expire(before: at - window)
            if seen.contains(key) { return false }
            while order.count >= maxEntries { seen.remove(order.removeFirst().key) }
            seen.insert(key)
            order.append(.init(key: key, at: at))
            return true
        }

        mutating func expire(before horizon: Timestamp) {
            while let first = order.first, first.at < horizon { seen.remove(order.removeFirst().key) }
        }
    }

    /// Inserts `key` at `now` into both; false (and an issue naming `what`) when they answer differently.
    static func insert(_ key: DedupWindow.Key, at now: Timestamp, into window: inout DedupWindow, and model: inout Model, _ what: String) -> Bool {
        let expected = model.insert(key, at: now)
        let actual = window.insert(key, at: now)
        #expect(actual == expected, "insert of \(what)")
        return actual == expected
    }

    @Test("answers as the model does through bursts, quiet spells, duplicates and the size limit", arguments: [1, 2, 3, 4])
    func agreesWithTheModel(seed: UInt64) {
        var random = SplitMix(seed: seed)
        let maxEntries = [50, 1_000, 5_000, 1_000_000][Int(seed - 1)]
        var window = DedupWindow(window: .minutes(5), maxEntries: maxEntries)
        var model = Model(window: .minutes(5), maxEntries: maxEntries)
        var now = Timestamp(milliseconds: 1_700_000_000_000)
        var inserted = 0
        for round in 0..<40 {
            // Alternate bursts (the ring grows) with quiet spells (ids expire, the ring shrinks).
            let burst = round % 3 == 2 ? 20 : Int(random.next() % 3_000)
            let step = round % 3 == 2 ? TimeSpan.seconds(40) : TimeSpan.milliseconds(Int64(random.next() % 50))
            for _ in 0..<burst {
                now = now + step
                // A third of the ids repeat a recent one.
                let id = random.next() % 3 == 0 ? "m-\(max(0, inserted - Int(random.next() % 200)))" : "m-\(inserted)"
                inserted += 1
                let key = DedupWindow.Key(id, namespace: "http:web")
                guard Self.insert(key, at: now, into: &window, and: &model, "\(id) at round \(round)") else { return }
            }
            #expect(window.count == model.order.count)
            #expect(window.oldest == model.order.first)
        }
        #expect(window.entries == model.order, "the same ids, oldest first")
        for entry in model.order.prefix(500) { #expect(window.contains(entry.key)) }
        #expect(!window.contains(DedupWindow.Key("never-seen")))
    }

    @Test("keys whose hashes agree in the 32 bits a bucket keeps are still told apart, and expire in order")
    func keysSharingTheBucketTag() {
        // Every key has the same low 32 bits (same home bucket, same tag in the index): one long probe run,
        // each probe a tag match that only the key itself can refute, and every expiry a backward shift.
        var window = DedupWindow(window: .minutes(1), maxEntries: 1_000_000)
        var model = Model(window: .minutes(1), maxEntries: 1_000_000)
        var now = Timestamp(milliseconds: 1_700_000_000_000)
        var random = SplitMix(seed: 9)
        for i in 0..<3_000 {
            now = now + .milliseconds(Int64(random.next() % 100))
            let n = random.next() % 4 == 0 ? UInt64(max(0, i - Int(random.next() % 50))) : UInt64(i)
            let key = DedupWindow.Key(high: n &* 31, low: n << 32 | 0xDEAD_BEEF)
            guard Self.insert(key, at: now, into: &window, and: &model, "\(i) (key \(n))") else { return }
        }
        #expect(window.entries == model.order)
        #expect(!window.contains(DedupWindow.Key(high: 1, low: 0xDEAD_BEEF)))
    }

    @Test("a restored window remembers what the checkpoint held, in order, and refuses those ids")
    func restore() {
        var window = DedupWindow(window: .hours(1))
        let t0 = Timestamp(milliseconds: 1_700_000_000_000)
        for i in 0..<10_000 { _ = window.insert(DedupWindow.Key("m-\(i)"), at: t0 + .milliseconds(Int64(i))) }
        var restored = DedupWindow(window: .hours(1))
        restored.restore(window.entries)
        #expect(restored.entries == window.entries)
        let again = restored.insert(DedupWindow.Key("m-9999"), at: t0 + .seconds(20))
        let new = restored.insert(DedupWindow.Key("m-10000"), at: t0 + .seconds(20))
        #expect(!again && new)
        // An hour later every restored id is forgotten, and may come again; m-10000 (20 s) is still held.
        let later = restored.insert(DedupWindow.Key("m-0"), at: t0 + .hours(1) + .seconds(11))
        #expect(later)
        #expect(restored.entries.map(\.key) == [DedupWindow.Key("m-10000"), DedupWindow.Key("m-0")])
    }

    @Test("ids are per namespace: the same messageId from two sources is two ids")
    func namespaces() {
        var window = DedupWindow()
        let t0 = Timestamp(milliseconds: 0)
        let web = window.insert(DedupWindow.Key("m-1", namespace: "http:web"), at: t0)
        let ios = window.insert(DedupWindow.Key("m-1", namespace: "http:ios"), at: t0)
        let webAgain = window.insert(DedupWindow.Key("m-1", namespace: "http:web"), at: t0)
        #expect(web && ios && !webAgain)
    }

    @Test("ids are forgotten when the model forgets them, even as times go back and forth")
    func expiryFollowsTheModelWhenTimeGoesBack() {
        // Event time can go backwards (late events): expiry stops at the first id seen since the horizon,
        // as in the model; repeats reach back to ids at the edge of the window.
        var window = DedupWindow(window: .seconds(30), maxEntries: 400)
        var model = Model(window: .seconds(30), maxEntries: 400)
        var now = Timestamp(milliseconds: 1_700_000_000_000)
        var random = SplitMix(seed: 11)
        for i in 0..<20_000 {
            let jump = Int64(random.next() % 1_000) - (random.next() % 5 == 0 ? 2_500 : 0)
            now = now + .milliseconds(jump)
            let n = random.next() % 3 == 0 ? max(0, i - Int(random.next() % 120)) : i
            guard Self.insert(DedupWindow.Key("m-\(n)"), at: now, into: &window, and: &model, "\(i) (m-\(n))") else { return }
            if i % 97 == 0 {
                #expect(window.count == model.order.count)
                #expect(window.oldest == model.order.first)
                let probe = DedupWindow.Key("m-\(max(0, i - 60))")
                #expect(window.contains(probe) == model.seen.contains(probe), "contains m-\(max(0, i - 60)) at \(i)")
            }
        }
        #expect(window.entries == model.order)
        var restored = DedupWindow(window: .seconds(30), maxEntries: 400)
        restored.restore(window.entries)
        #expect(restored.entries == model.order)
    }
}
