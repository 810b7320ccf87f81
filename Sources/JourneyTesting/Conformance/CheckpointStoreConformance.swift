public import JourneyCore

/// The contract every checkpoint store keeps (SQLite embedded, in memory, PostgreSQL in cluster mode):
/// a checkpoint is applied whole — users, removals, timers armed and done, deduplication ids and their
/// horizon, outbox entries, input positions, the log position, rules version, timer sequence and clock —
/// and `restore` hands back exactly what a restart needs, per partition; the archive keeps rule sets and
/// journey versions by hash; the outbox reader counts and lists what was written.
///
/// `open` must return the same store each time (reopened from its storage where it has one).
public enum CheckpointStoreConformance {
    public static func check(open: () throws -> any CheckpointStore & JourneyArchive & OutboxReader) throws {
        var store = try open()
        let empty = try store.restore(partition: 0)
        try require(empty.logSequence == 0 && empty.timers.isEmpty && empty.outbox.isEmpty && empty.positions.isEmpty,
            "a new store restores an empty partition at log position 0")
        try require(try store.user("nobody") == nil, "an unknown user reads as nil")
        try require(try store.users(["nobody", "ada"]).isEmpty && store.users([]).isEmpty, "unknown users read as absent from a batch")

        let t0 = Timestamp(milliseconds: 1_736_157_600_000)
        var ada = UserState(id: "ada")
        ada.traits = ["first_name": "Ada", "tier": "gold", "visits": 3, "tags": ["a", "b"], "nested": ["x": .null]]
        ada.history = [HistoryTrack(event: "purchase", at: t0, propertyCount: 1)]
        ada.history[0].count = 2
        ada.history[0].sums = [150.5]
        ada.history[0].recent = [HistoryEntry(at: t0, values: [150.5])]
        var enrollment = Enrollment(seq: 1, journey: "cart", version: "v1", key: "c1", step: 2, enteredAt: t0, trigger: ["event": "cart_add"])
        enrollment.phase = .waitingForEvent
        enrollment.timer = 7
        enrollment.due = t0 + .hours(1)
        enrollment.variant = "b"
        ada.enrollments = [enrollment]
        ada.entries = [EntryRecord(journey: "cart", key: "c1", lastEnteredAt: t0)]
        ada.touchLog = [TouchRecord(at: t0, journey: "cart", channel: "email")]
        ada.segments = ["vip"]
        ada.dateSchedules = [DateSchedule(journey: "birthday", timer: 8, due: t0 + .days(30))]
        ada.nextEnrollmentSeq = 2
        // Identity (docs/IDENTITY.md): the ids merged into ada, and the merged id's row, only a pointer.
        ada.aliases = ["anon-1"]
        ada.traitsChangedAt = t0 - .days(2)
        ada.rechecks = [DateSchedule(journey: "lapsed", timer: 11, due: t0 + .days(29))]
        var anon = UserState(id: "anon-1")
        anon.mergedInto = "ada"
        let bob = UserState(id: "bob")
        let timers = [
            TimerEntry(due: t0 + .hours(1), seq: 7, user: "ada", purpose: .enrollment(1)),
            TimerEntry(due: t0 + .days(30), seq: 8, user: "ada", purpose: .dateTrigger("birthday")),
            TimerEntry(due: t0 + .hours(2), seq: 9, user: "bob", purpose: .enrollment(1)),
            TimerEntry(due: t0 + .days(29), seq: 11, user: "ada", purpose: .segmentRecheck("lapsed")),
        ]
        let touch = Touch(
            id: "0123456789abcdef", user: "ada", journey: "cart", version: "v1", enrollment: "ada#1", step: "remind", channel: "email",
            template: "cart_reminder", at: t0, transactional: false,
            origin: .init(key: "c1", enteredAt: t0, trigger: ["event": "cart_add"], variant: "b"))
        let message = RenderedMessage(subject: "Your cart", text: "Hi Ada", html: "<p>Hi Ada</p>", unsubscribeURL: "https://u.example/ada")
        var first = Checkpoint(partition: 0, logSequence: 120, rulesVersion: "rules-1", timerSeq: 9, takenAt: t0)
        first.clock = t0 + .minutes(5)
        first.users = [ada, bob, anon]
        first.timersArmed = timers
        first.dedupAdded = [.init(key: .init("m1"), at: t0), .init(key: .init("m2", namespace: "http:shop"), at: t0 + .minutes(1))]
        first.dedupHorizon = t0 - .days(7)
        first.outbox = [
            OutboxEntry(touch: touch, message: message, expiresAt: t0 + .hours(6)),
            OutboxEntry(
                touch: Touch(id: "fedcba9876543210", user: "bob", journey: "cart", version: "v1", enrollment: "bob#1", step: "remind",
                    channel: "sms", template: "t", at: t0), message: RenderedMessage(text: "x"), state: .sent, attempts: 1),
        ]
        first.positions = ["spool/a.jsonl@1": 4096, "spool/a.jsonl@1#line": 20, "tail/x": 10]
        // The report's figures (``ReportFigures``) are kept among them: keys with tabs and empty parts.
        first.figures = ["active:cart": 1, "report\tJ\tcart\tentered": 3, "report\tS\t\tvisitor": 2, "report\tP\tfirst": 1_740_000_000_000]
        first.channels = ["email": [1, 2, 3], "sms": []]
        try store.write(first)

        store = try open()
        let restored = try store.restore(partition: 0)
        try require(restored.logSequence == 120 && restored.rulesVersion == "rules-1" && restored.timerSeq == 9,
            "restore gives the checkpoint's log position, rules version and timer sequence")
        try require(restored.clock == t0 + .minutes(5), "restore gives the checkpoint's clock")
        try require(Set(restored.timers) == Set(timers), "every armed timer is restored")
        try require(Set(restored.dedup.map(\.key)) == [DedupWindow.Key("m1"), DedupWindow.Key("m2", namespace: "http:shop")],
            "deduplication ids are restored with their namespace")
        try require(restored.outbox.map(\.touch.id) == [touch.id], "only touches still to deliver are restored (not the sent one)")
        try require(restored.outbox.first == first.outbox.first, "an outbox entry comes back whole: touch, origin, message, expiry")
        try require(restored.positions == ["spool/a.jsonl@1": 4096, "spool/a.jsonl@1#line": 20, "tail/x": 10], "input positions are restored")
        try require(try store.user("ada") == ada, "a user comes back whole")
        try require(restored.figures == first.figures, "figures are restored, the report's among them")
        try require(restored.channels == ["email": [1, 2, 3], "sms": []], "channel states are restored")
        try require(try store.user("bob") == bob, "a user with nothing but an id comes back")
        try require(try store.user("anon-1")?.mergedInto == "ada", "a merged id comes back as a pointer to its owner (the alias map)")
        try require(try store.users(["bob", "nobody", "ada", "anon-1"]) == ["ada": ada, "bob": bob, "anon-1": try store.user("anon-1")!],
            "a batch read gives those it holds, each whole, and leaves out the rest")

        // A second checkpoint: changes only.
        var second = Checkpoint(partition: 0, logSequence: 300, rulesVersion: "rules-2", timerSeq: 10, takenAt: t0 + .minutes(1))
        var adaLater = ada
        adaLater.traits = ["first_name": "Ada"]
        second.users = [adaLater]
        second.removedUsers = ["bob", "anon-1"]
        second.timersArmed = [TimerEntry(due: t0 + .hours(3), seq: 10, user: "ada", purpose: .enrollment(1))]
        second.timersDone = [7, 9]
        second.dedupAdded = [.init(key: .init("m3"), at: t0 + .days(8))]
        second.dedupHorizon = t0 + .days(1)
        var sent = first.outbox[0]
        sent.state = .sent
        sent.attempts = 1
        sent.reason = "provider id 42"
        second.outbox = [sent]
        second.positions = ["spool/a.jsonl@1": nil, "spool/a.jsonl@1#line": nil, "tail/x": 99]
        try store.write(second)

        store = try open()
        let again = try store.restore(partition: 0)
        try require(again.logSequence == 300 && again.rulesVersion == "rules-2" && again.timerSeq == 10, "a later checkpoint moves the position")
        try require(Set(again.timers.map(\.seq)) == [8, 10, 11], "timers done are gone, new ones armed (\(again.timers.map(\.seq)))")
        try require(again.dedup.map(\.key) == [DedupWindow.Key("m3")], "ids before the horizon are forgotten")
        try require(again.outbox.isEmpty, "a touch that was sent is no longer restored")
        try require(again.positions == ["tail/x": 99], "positions set to nil are removed, others updated")
        try require(again.channels == ["email": [1, 2, 3], "sms": []], "a checkpoint without channel states keeps the last ones")
        try require(try store.user("ada") == adaLater, "a changed user is replaced whole")
        try require(try store.user("bob") == nil, "a removed user is gone")
        try require(try store.user("anon-1") == nil, "a removed alias row is gone (forget of its owner)")
        try require(try store.users(["ada", "bob", "anon-1"]) == ["ada": adaLater], "a batch read sees the later checkpoint")
        let counts = try store.outboxCounts()
        try require(counts[.sent] == 2 && counts[.pending] == nil, "the outbox counts by state: \(counts)")
        try require(try store.outbox(of: "ada").map(\.reason) == ["provider id 42"], "a user's touches are listed with their outcome")
        try require(try store.outbox(in: .sent, limit: 10).count == 2, "touches are listed by state")

        // Partitions are separate.
        var other = Checkpoint(partition: 1, logSequence: 5, rulesVersion: "rules-2", timerSeq: 3, takenAt: t0)
        other.positions = ["tail/x": 1]
        try store.write(other)
        try require(try store.restore(partition: 1).positions == ["tail/x": 1] && (try store.restore(partition: 0)).positions == ["tail/x": 99],
            "each partition has its own positions")
        try require(try store.restore(partition: 1).logSequence == 5 && (try store.restore(partition: 0)).logSequence == 300,
            "each partition has its own log position")

        // The archive.
        let snapshot = RuleSnapshot(files: ["journeys/a.yaml": "journey: a\n", "templates/t.liquid": "Hi {{ user.first_name }}"])
        try store.keep(snapshot)
        try store.keep(snapshot)
        try require(try store.snapshot(version: snapshot.version) == snapshot, "a rule set comes back by its version")
        try require(try store.snapshot(version: "unknown") == nil, "an unknown rule set version is nil")
        let journeys = [StoredJourney(version: "v1", journey: "a", file: "journeys/a.yaml", source: "journey: a\n")]
        try store.keep(journeys: journeys, at: t0)
        try store.keep(journeys: journeys, at: t0 + .days(1))
        try require(try store.keptJourneyVersions() == journeys, "journey versions are kept once each")
    }
}
