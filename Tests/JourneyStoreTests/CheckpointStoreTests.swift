import Foundation
import GRDB
import JourneyCore
import JourneyTesting
import Testing

@testable import JourneyStore

@Suite("Checkpoint stores")
struct CheckpointStoreTests {
    @Test func theSQLiteStoreKeepsTheStoreContract() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            try CheckpointStoreConformance.check { try SQLiteCheckpointStore(path: dir + "/state.sqlite") }
            #expect(try SQLiteCheckpointStore(path: dir + "/state.sqlite").integrityCheck() == "ok")
        }
    }

    @Test func theMemoryStoreKeepsTheStoreContract() throws {
        let store = MemoryCheckpointStore()
        try CheckpointStoreConformance.check { store }
    }

    @Test func theMemoryInputPositionsKeepTheirContract() async throws {
        let store = MemoryInputPositions()
        try await InputPositionStoreConformance.check(store, reopen: { store })
    }

    @Test func aReadOnlyStoreAnswersQuestionsAboutAStoppedDaemon() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            let path = dir + "/state.sqlite"
            var checkpoint = Checkpoint(partition: 0, logSequence: 3, rulesVersion: "r", timerSeq: 0, takenAt: .distantPast)
            checkpoint.users = [UserState(id: "ada")]
            try SQLiteCheckpointStore(path: path).write(checkpoint)
            let reader = try SQLiteCheckpointStore(path: path, readOnly: true)
            #expect(try reader.user("ada") != nil && reader.userCount == 1)
            #expect(throws: StoreError.self) { try reader.write(checkpoint) }
        }
    }

    /// A clean stop closes the store: the write-ahead log is folded into the file and removed (even after
    /// reads opened connections of their own), so the file alone is the state — what a copy of it takes.
    @Test func aClosedStoreLeavesItsStateInTheFileAlone() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            let path = dir + "/state.sqlite"
            var checkpoint = Checkpoint(partition: 0, logSequence: 3, rulesVersion: "r", timerSeq: 0, takenAt: .distantPast)
            checkpoint.users = [UserState(id: "ada")]
            let store = try SQLiteCheckpointStore(path: path)
            try store.write(checkpoint)
            #expect(try store.users(["ada"]).count == 1)  // a reader connection
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            try store.close()
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            #expect(throws: StoreError.self) { try store.write(checkpoint) }
            let copy = dir + "/copy.sqlite"
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            #expect(try SQLiteCheckpointStore(path: copy).restore(partition: 0).logSequence == 3)
        }
    }

    /// A damaged row is refused with what and where, never read as something else: the timer and user
    /// rows a restart decodes in place (no copy), and a batch read of users.
    @Test func aDamagedRowIsReportedAsCorruptNamingTheRecord() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            let path = dir + "/state.sqlite"
            var checkpoint = Checkpoint(partition: 0, logSequence: 3, rulesVersion: "r", timerSeq: 1, takenAt: .distantPast)
            checkpoint.users = [UserState(id: "ada")]
            checkpoint.timersArmed = [TimerEntry(due: .distantPast, seq: 1, user: "ada", purpose: .enrollment(1))]
            try SQLiteCheckpointStore(path: path).write(checkpoint)
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in
                try db.execute(sql: "UPDATE timer_state SET entry = x'FF'")
                try db.execute(sql: "UPDATE user_state SET state = x'FFFF'")
            }
            try queue.close()
            let store = try SQLiteCheckpointStore(path: path)
            for (what, read) in [("timer", { _ = try store.restore(partition: 0) }), ("user", { _ = try store.users(["ada"]) })] as [(String, () throws -> Void)] {
                do {
                    try read()
                    Issue.record("a damaged \(what) row was read")
                } catch let error as StoreError {
                    guard case .corrupt(let detail) = error else { Issue.record("\(error)"); continue }
                    #expect(detail.contains(what), "\(detail)")
                }
            }
        }
    }

    /// A database the daemon before the event log wrote (schema v3): opening it converts users,
    /// timers, deduplication ids, the outbox and positions into the checkpoint at log position 0.
    @Test func aVersion3DatabaseIsConvertedInPlaceLosingNothing() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            let path = dir + "/state.sqlite"
            let queue = try DatabaseQueue(path: path)
            var migrator = SQLiteSchema.migrator
            try migrator.migrate(queue, upTo: "v3: rendered content and expiry in the outbox")
            let user = #"{"traits":{"first_name":"Ada"},"history":[["purchase",2,1736157600000,1736157600000,[150],[[1736157600000,[150]]]]],"enrollments":[{"seq":1,"journey":"cart","version":"v1","key":"c1","step":1,"phase":"waiting_for_event","entered":1736157600000,"trigger":null,"timer":5,"due":1736161200000,"touches":0,"variant":null}],"entries":[["cart","c1",1736157600000]],"touches":[],"segments":[],"dates":[],"next":2}"#
            try queue.write { db in
                try db.execute(sql: "INSERT INTO users (id, state) VALUES ('ada', ?)", arguments: [user])
                try db.execute(sql: "INSERT INTO timers (seq, due, user, kind, target) VALUES (5, 1736161200000, 'ada', 'enrollment', '1')")
                try db.execute(sql: "INSERT INTO dedup (id, at) VALUES ('m-1', 1736157600000)")
                try db.execute(
                    sql: """
                        INSERT INTO outbox (touch_id, user, journey, version, enrollment, step, channel, template, due, transactional,
                            status, attempts, content)
                        VALUES ('t1', 'ada', 'cart', 'v1', 'ada#1', 'remind', 'email', 'cart_reminder', 1736157600000, 0, 'retry', 2,
                            '{"subject":"Hi","text":"Hello Ada"}')
                        """)
                try db.execute(sql: "INSERT INTO positions (source, position) VALUES ('spool/a.jsonl@12', 4096)")
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('timer_seq', 5)")
            }
            try queue.close()

            let store = try SQLiteCheckpointStore(path: path)
            let ada = try #require(try store.user("ada"))
            #expect(ada.traits == ["first_name": "Ada"] && ada.enrollments.first?.phase == .waitingForEvent && ada.nextEnrollmentSeq == 2)
            #expect(ada.history.first?.sums == [150])
            let restored = try store.restore(partition: 0)
            #expect(restored.logSequence == 0 && restored.timerSeq == 5)
            #expect(restored.timers == [TimerEntry(due: Timestamp(milliseconds: 1_736_161_200_000), seq: 5, user: "ada", purpose: .enrollment(1))])
            #expect(restored.dedup.map(\.key) == [DedupWindow.Key("m-1")])
            #expect(restored.outbox.first?.message == RenderedMessage(subject: "Hi", text: "Hello Ada"))
            #expect(restored.outbox.first?.state == .retry && restored.outbox.first?.attempts == 2)
            #expect(restored.positions == ["spool/a.jsonl@12": 4096])
            #expect(try store.integrityCheck() == "ok")
        }
    }
    /// Touches are keyed by user and only those not yet final are indexed by due (v6): a checkpoint writes
    /// a sent touch into one B-tree, not three, and the restore and the listing of waiting touches still
    /// read through the index. A v5 database's touches are carried over.
    @Test func aVersion5OutboxIsKeyedByUserWithOnlyWaitingTouchesIndexed() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            let path = dir + "/state.sqlite"
            func touch(_ id: String, of user: String = "ada", at ms: Int64, _ state: DeliveryState) -> OutboxEntry {
                let touch = Touch(
                    id: id, user: user, journey: "cart", version: "v1", enrollment: user + "#1", step: "remind", channel: "email",
                    template: "cart_reminder", at: Timestamp(milliseconds: ms))
                return OutboxEntry(touch: touch, message: RenderedMessage(text: id), state: state)
            }
            let queue = try DatabaseQueue(path: path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v5: tombstones of forgotten users")
            try queue.write { db in
                for entry in [touch("t3", at: 3, .retry), touch("t1", at: 1, .sent), touch("t2", at: 2, .pending), touch("t4", at: 4, .deadLetter)] {
                    var w = ByteWriter()
                    entry.encode(into: &w)
                    try db.execute(
                        sql: "INSERT INTO outbox_entries (touch_id, partition, user, state, due, entry) VALUES (?, 0, ?, ?, ?, ?)",
                        arguments: [entry.touch.id, entry.touch.user, entry.state.rawValue, entry.touch.at.milliseconds, Data(w.bytes)])
                }
            }
            try queue.close()

            let store = try SQLiteCheckpointStore(path: path)
            #expect(try store.restore(partition: 0).outbox.map(\.touch.id) == ["t2", "t3"])
            var checkpoint = Checkpoint(partition: 0, logSequence: 3, rulesVersion: "r", timerSeq: 0, takenAt: .distantPast)
            checkpoint.outbox = [touch("t5", of: "bob", at: 0, .pending), touch("t2", at: 2, .sent)]
            try store.write(checkpoint)
            #expect(try store.restore(partition: 0).outbox.map(\.touch.id) == ["t5", "t3"])
            #expect(try store.outbox(in: .retry, limit: 10).map(\.touch.id) == ["t3"])
            #expect(try store.outbox(in: .sent, limit: 10).map(\.touch.id) == ["t1", "t2"])
            #expect(try store.outbox(in: .deadLetter, limit: 10).map(\.touch.id) == ["t4"])
            #expect(try store.outbox(of: "ada").map(\.touch.id) == ["t1", "t2", "t3", "t4"])
            #expect(try store.integrityCheck() == "ok")

            let reader = try DatabaseQueue(path: path)
            defer { try? reader.close() }
            try reader.read { db in
                let indexed = try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM outbox_entries INDEXED BY outbox_entries_waiting WHERE \(SQLiteSchema.waitingCondition)")
                #expect(indexed == 2)
                for query in [
                    "SELECT entry FROM outbox_entries WHERE partition = 0 AND \(SQLiteSchema.waitingCondition) ORDER BY due",
                    "SELECT entry FROM outbox_entries WHERE \(SQLiteSchema.waitingCondition) AND state = 'retry' ORDER BY due, touch_id",
                ] {
                    let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query).map { $0["detail"] as String }.joined(separator: "; ")
                    #expect(plan.contains("outbox_entries_waiting"), "\(query): \(plan)")
                }
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT entry FROM outbox_entries WHERE user = 'ada'").map { $0["detail"] as String }
                #expect(plan.joined().contains("PRIMARY KEY"), "\(plan)")
            }
        }
    }

    /// Every checkpoint inserts its changed touches one statement at a time, and SQLite checks the
    /// waiting index's condition for each row: an `IN` list of three built an ephemeral table each time
    /// (twice per `INSERT OR REPLACE`). Since v7 the condition is plain comparisons, and the statements a
    /// checkpoint runs per row build none.
    @Test func aCheckpointsRowStatementsBuildNoTemporaryTables() throws {
        try withTemporaryDirectory(prefix: "journeyd-store") { dir in
            let path = dir + "/state.sqlite"
            _ = try SQLiteCheckpointStore(path: path)
            let reader = try DatabaseQueue(path: path)
            defer { try? reader.close() }
            try reader.read { db in
                for statement in [
                    "INSERT OR REPLACE INTO outbox_entries (touch_id, partition, user, state, due, entry) VALUES ('t1', 0, 'ada', 'sent', 1, x'00')",
                    "INSERT OR REPLACE INTO user_state (id, partition, state) VALUES ('ada', 0, x'00')",
                    "INSERT OR REPLACE INTO timer_state (seq, partition, entry) VALUES (1, 0, x'00')",
                    "INSERT OR REPLACE INTO dedup_state (high, low, partition, at) VALUES (1, 2, 0, 3)",
                    "DELETE FROM outbox_entries WHERE user = 'ada'",
                ] {
                    let opcodes = try Row.fetchAll(db, sql: "EXPLAIN " + statement).map { $0["opcode"] as String }
                    #expect(!opcodes.isEmpty)
                    #expect(!opcodes.contains("OpenEphemeral"), "\(statement)")
                }
            }
        }
    }
}
