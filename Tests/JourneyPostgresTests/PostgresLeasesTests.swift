import Foundation
import JourneyCore
import JourneyPostgres
import JourneyTesting
import Synchronization
import Testing

@Suite(.serialized, .sharedPostgres)
struct PostgresLeasesTests {
    @Test func passesThePartitionLeasesConformanceKit() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        try await PartitionLeasesConformance.check(PostgresPartitionLeases(store))
        // Every grant is in the history, tokens of a partition in order.
        let server = try #require(SharedPostgres.server)
        let grants = try await server.psql(configuration.database, "SELECT string_agg(token::text, ',' ORDER BY granted_at, token) FROM lease_grants WHERE partition = 0")
        #expect(grants == "1,2,3")
    }

    /// Two owners: the first's lease expires, the second takes the partition over and commits; the
    /// first's late checkpoint is refused — nothing of it written — and the state is the second's.
    @Test func aStaleOwnersLateCheckpointIsRefused() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store)
        let t0 = Timestamp(milliseconds: 1_736_157_600_000)

        let first = try #require(try await offThread { try leases.acquire(partition: 7, owner: "i1", ttl: .milliseconds(50)) })
        var early = Checkpoint(partition: 7, logSequence: 10, rulesVersion: "r", timerSeq: 1, takenAt: t0)
        early.fence = first
        early.users = [UserState(id: "ada")]
        try await offThread { [early] in try store.write(early) }

        // i1 stalls past its lease; i2 takes over from the committed sequence and commits.
        let taken = Mutex<FencingToken?>(nil)
        #expect(try await eventually(interval: .milliseconds(25)) {
            let token = try await offThread { try leases.acquire(partition: 7, owner: "i2", ttl: .seconds(120)) }
            taken.withLock { $0 = token }
            return token != nil
        })
        let second = try #require(taken.withLock { $0 })
        #expect(second > first)
        #expect(try await offThread { try store.restore(partition: 7) }.logSequence == 10, "the new owner starts from the committed sequence")
        var takeover = Checkpoint(partition: 7, logSequence: 20, rulesVersion: "r", timerSeq: 2, takenAt: t0)
        takeover.fence = second
        var bob = UserState(id: "bob")
        bob.traits = ["owner": "i2"]
        takeover.users = [bob]
        try await offThread { [takeover] in try store.write(takeover) }

        // i1 wakes up and writes what it processed meanwhile.
        var late = Checkpoint(partition: 7, logSequence: 15, rulesVersion: "r", timerSeq: 9, takenAt: t0)
        late.fence = first
        var stale = UserState(id: "bob")
        stale.traits = ["owner": "i1"]
        late.users = [stale, UserState(id: "cy")]
        late.positions = ["tail/x": 5]
        let error = await #expect(throws: StoreError.self) { try await offThread { [late] in try store.write(late) } }
        #expect(error?.isFenced == true)
        let text = "\(error!)"
        #expect(text.contains("partition 7") && text.contains("token \(first.value)") && text.contains("token \(second.value)"), "\(text)")
        #expect(!(try await offThread { try leases.renew(partition: 7, owner: "i1", token: first, ttl: .seconds(1)) }))

        let restored = try await offThread { try store.restore(partition: 7) }
        #expect(restored.logSequence == 20 && restored.timerSeq == 2 && restored.positions.isEmpty, "the state is the second owner's")
        #expect(restored.fence == second, "the restored checkpoint says which lease wrote it (a replay after it skips staler owners' records)")
        #expect(try await offThread { try store.user("bob") }?.traits["owner"] == "i2")
        #expect(try await offThread { try store.user("cy") } == nil, "nothing of the refused checkpoint was written")
        #expect(try await offThread { try store.user("ada") } != nil)
    }

    /// An owner renews all its leases in one statement; the answer leaves out a lease it lost.
    @Test func leasesAreRenewedTogetherAndALostOneIsLeftOut() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store)
        var held: [Int: FencingToken] = [:]
        for p in [1, 2, 5] { held[p] = try #require(try await offThread { try leases.acquire(partition: p, owner: "i1", ttl: .seconds(120)) }) }
        held[9] = try #require(try await offThread { try leases.acquire(partition: 9, owner: "i1", ttl: .milliseconds(50)) })
        // Partition 9's lease expires and i2 takes it; i1 still thinks it holds it.
        #expect(try await eventually(interval: .milliseconds(25)) { try await offThread { try leases.acquire(partition: 9, owner: "i2", ttl: .seconds(120)) } != nil })
        let renewed = try await offThread { [held] in try leases.renew(held, owner: "i1", ttl: .seconds(120)) }
        #expect(renewed == [1, 2, 5])
        #expect(try await offThread { try leases.renew([:], owner: "i1", ttl: .seconds(1)) }.isEmpty)
        let current = try await offThread { try leases.leases() }
        #expect(current[9]?.owner == "i2" && current[1]?.owner == "i1" && current[1]?.live == true)
    }

    /// A takeover claims a dead instance's partitions in one statement: the free ones are granted, one
    /// another owner holds is left out, and each grant is in the history.
    @Test func aBatchAcquireGrantsTheFreePartitionsOnly() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store)
        let first = try await offThread { try leases.acquire(partitions: [3, 1, 2], owner: "i1", ttl: .seconds(120)) }
        #expect(first.keys.sorted() == [1, 2, 3] && first.values.allSatisfy { $0.value == 1 })
        let second = try await offThread { try leases.acquire(partitions: [2, 3, 4], owner: "i2", ttl: .seconds(120)) }
        #expect(second.keys.sorted() == [4])
        #expect(try await offThread { try leases.acquire(partitions: [], owner: "i2", ttl: .seconds(1)) }.isEmpty)
        let current = try await offThread { try leases.leases() }
        #expect(current[2]?.owner == "i1" && current[4]?.owner == "i2" && current[4]?.live == true)
        #expect((current[4]?.remaining ?? 0) > 100_000 && (current[4]?.remaining ?? 0) <= 120_000)
        let server = try #require(SharedPostgres.server)
        let grants = try await server.psql(configuration.database, "SELECT string_agg(partition || ':' || owner, ',' ORDER BY partition) FROM lease_grants")
        #expect(grants == "1:i1,2:i1,3:i1,4:i2")
    }

    /// An instance every lease of which expired since its last heartbeat is dead (a live one renews them
    /// all together): it is left out of the live instances at once, though its heartbeat has not expired;
    /// its next heartbeat (a restart under the same name) counts it again.
    @Test func anInstanceWhoseLeasesAllLapsedIsNotLive() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store)
        let ttl = Duration.seconds(120)
        _ = try await offThread { try leases.heartbeat(owner: "i1", ttl: ttl) }
        _ = try await offThread { try leases.acquire(partitions: [1], owner: "i1", ttl: ttl) }
        _ = try await offThread { try leases.heartbeat(owner: "i3", ttl: ttl) }
        // i3's leases last 5 s: live until then (a busy machine may take seconds between these statements),
        // then every lease of it has lapsed.
        _ = try await offThread { try leases.acquire(partitions: [5, 6], owner: "i3", ttl: .seconds(5)) }
        #expect(try await offThread { try leases.heartbeat(owner: "i2", ttl: ttl) } == ["i1", "i2", "i3"])
        #expect(await eventually(timeout: .seconds(120), interval: .milliseconds(100)) { (try? await offThread { try leases.heartbeat(owner: "i2", ttl: ttl) }) == ["i1", "i2"] })
        #expect(try await offThread { try leases.heartbeat(owner: "i3", ttl: ttl) } == ["i1", "i2", "i3"])
        #expect(try await offThread { try leases.heartbeat(owner: "i1", ttl: ttl) } == ["i1", "i2", "i3"])
    }

    /// A checkpoint in progress holds its lease row against a takeover — the new grant waits for the commit —
    /// but not against its owner's renewal: an owner whose checkpoint takes longer than the ttl keeps its
    /// leases. (Reading the row `FOR SHARE`, as before schema v7, the renewal waited for the checkpoint, and
    /// an instance writing slow last checkpoints lost every partition at once.)
    @Test func aCheckpointInProgressHoldsOffATakeoverButNotItsOwnersRenewal() async throws {
        let configuration = try await SharedPostgres.database()
        let database = configuration.database
        let server = try #require(SharedPostgres.server)
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store)
        let t0 = Timestamp(milliseconds: 1_736_157_600_000)
        let first = try #require(try await offThread { try leases.acquire(partition: 4, owner: "i1", ttl: .seconds(120)) })
        _ = try #require(try await offThread { try leases.acquire(partition: 5, owner: "i1", ttl: .seconds(120)) })

        // The checkpoint is held up after it read its lease (the table of users is locked by another session),
        // as a large one under load is.
        let blocker = try server.session(
            database,
            // Bounded (statement_timeout) should the test fail before it cancels the session.
            "BEGIN; SET LOCAL statement_timeout = '300s'; LOCK TABLE user_state IN SHARE MODE; SELECT pg_sleep(600); COMMIT;",
            application: "journeyd-test-blocker")
        let tableLocked = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'user_state' AND l.granted AND l.mode = 'ShareLock'"
        #expect(await eventually(timeout: .seconds(120), interval: .milliseconds(50)) { (try? await server.psql(database, tableLocked)) == "1" })
        var checkpoint = Checkpoint(partition: 4, logSequence: 10, rulesVersion: "r", timerSeq: 1, takenAt: t0)
        checkpoint.fence = first
        checkpoint.users = [UserState(id: "ada")]
        let writing = Task { [checkpoint] in try await offThread { try store.write(checkpoint) } }
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND wait_event_type = 'Lock'"
        #expect(await eventually(timeout: .seconds(120), interval: .milliseconds(50)) { (try? await server.psql(database, waiting)) == "1" })

        // The owner renews both leases meanwhile (the one being checkpointed among them), at once.
        let renewed = Mutex<Set<Int>?>(nil)
        let renewing = Task {
            let result = try await offThread { try leases.renew([4: first, 5: FencingToken(1)], owner: "i1", ttl: .milliseconds(1)) }
            renewed.withLock { $0 = result }
        }
        let answered = await eventually(timeout: .seconds(120), interval: .milliseconds(50)) {
            if renewed.withLock({ $0 }) != nil { return true }
            return (try? await server.psql(database, waiting)) == "2"
        }
        #expect(answered && renewed.withLock { $0 } == [4, 5], "the renewal waited for the checkpoint (or failed)")

        // The lease (renewed with a ttl of 1 ms) has expired: another instance's grant waits for the checkpoint.
        #expect(await eventually(timeout: .seconds(60), interval: .milliseconds(10)) { (try? await offThread { try leases.leases() })?[4]?.live == false })
        let taking = Task { try await offThread { try leases.acquire(partition: 4, owner: "i2", ttl: .seconds(120)) } }
        #expect(await eventually(timeout: .seconds(120), interval: .milliseconds(50)) { Int((try? await server.psql(database, waiting)) ?? "") ?? 0 >= 2 })
        #expect(try await server.cancel(application: "journeyd-test-blocker", in: database) == 1)
        try await writing.value  // committed under the token it read: it began before the grant
        let second = try await taking.value
        #expect(second == FencingToken(first.value + 1), "granted after the checkpoint committed")
        try await renewing.value
        _ = await blocker.exit()
        let restored = try await offThread { try store.restore(partition: 4) }
        #expect(restored.logSequence == 10 && restored.fence == first)
        var late = Checkpoint(partition: 4, logSequence: 11, rulesVersion: "r", timerSeq: 2, takenAt: t0)
        late.fence = first
        let error = await #expect(throws: StoreError.self) { try await offThread { [late] in try store.write(late) } }
        #expect(error?.isFenced == true, "the old owner's next checkpoint is refused")
    }

    /// A database that stops answering (here: another session holds the leases table locked, as a frozen
    /// server or a host gone without a reset would leave a statement waiting) holds an owner no longer
    /// than its bound: the operation fails saying so, its connection is closed and the server's side of it
    /// ends too, though it was waiting for the lock (it checks that the client is still there), and once
    /// the database answers again the next operation works, on a new connection. Without the bound the
    /// read waited for the lock for as long as the other session held it (ten minutes here); without the
    /// check its server process waited on for the lock after the client had gone.
    @Test func anOperationTheDatabaseDoesNotAnswerFailsWithinItsBound() async throws {
        let configuration = try await SharedPostgres.database()
        let database = configuration.database
        let server = try #require(SharedPostgres.server)
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store, answerWithin: .seconds(1))
        let token = try #require(try await offThread { try leases.acquire(partition: 2, owner: "i1", ttl: .seconds(120)) })

        let blocker = try server.session(
            database, "BEGIN; SET LOCAL statement_timeout = '300s'; LOCK TABLE partition_leases IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600); COMMIT;",
            application: "journeyd-test-blocker")
        let tableLocked =
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'partition_leases' AND l.granted AND l.mode = 'AccessExclusiveLock'"
        #expect(await eventually(timeout: .seconds(120), interval: .milliseconds(50)) { (try? await server.psql(database, tableLocked)) == "1" })

        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) { try await offThread { try leases.leases() } }
        let waited = ContinuousClock.now - started
        #expect("\(error.map { "\($0)" } ?? "")".contains("no answer within 1000 ms; the connection was closed"), "\(String(describing: error))")
        #expect(waited >= .seconds(1) && waited < .seconds(300), "gave up after \(waited), not at the bound or when the lock went")
        let renewal = await #expect(throws: StoreError.self) { try await offThread { try leases.renew([2: token], owner: "i1", ttl: .seconds(120)) } }
        #expect("\(renewal.map { "\($0)" } ?? "")".contains("no answer within"), "a renewal is bounded too")
        let waitingForTheLock = "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND wait_event_type = 'Lock'"
        let gone = await eventually(timeout: .seconds(120), interval: .milliseconds(100)) { (try? await server.psql(database, waitingForTheLock)) == "0" }
        let stillWaiting = gone ? "0" : ((try? await server.psql(database, waitingForTheLock)) ?? "?")
        #expect(gone, "the abandoned statements' server processes end while the lock is still held: \(stillWaiting) still waiting")

        #expect(try await server.cancel(application: "journeyd-test-blocker", in: database) == 1)
        _ = await blocker.exit()
        #expect(try await offThread { try leases.leases() }[2]?.owner == "i1", "answered again on a new connection")
    }

    @Test func aCheckpointWithoutATokenIsRefusedForALeasedPartition() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let leases = PostgresPartitionLeases(store)
        let t0 = Timestamp(milliseconds: 1_736_157_600_000)
        _ = try #require(try await offThread { try leases.acquire(partition: 3, owner: "i1", ttl: .seconds(120)) })
        let unfenced = Checkpoint(partition: 3, logSequence: 1, rulesVersion: "r", timerSeq: 0, takenAt: t0)
        let error = await #expect(throws: StoreError.self) { try await offThread { try store.write(unfenced) } }
        #expect("\(error!)".contains("carries no token"), "\(error!)")
        var fenced = Checkpoint(partition: 4, logSequence: 1, rulesVersion: "r", timerSeq: 0, takenAt: t0)
        fenced.fence = FencingToken(1)
        let unleased = await #expect(throws: StoreError.self) { try await offThread { [fenced] in try store.write(fenced) } }
        #expect(unleased?.isFenced == true, "a token for a partition never leased is not current")
    }
}
