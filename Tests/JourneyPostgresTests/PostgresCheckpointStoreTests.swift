import Foundation
import JourneyCore
import JourneyPostgres
import JourneyTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite(.serialized, .sharedPostgres)
struct PostgresCheckpointStoreTests {
    @Test func passesTheCheckpointStoreConformanceKit() async throws {
        let configuration = try await SharedPostgres.database()
        let opened = Mutex<[PostgresCheckpointStore]>([])
        defer { for store in opened.withLock({ $0 }) { store.close() } }
        try await offThread {
            try CheckpointStoreConformance.check {
                let store = try PostgresCheckpointStore(configuration)
                opened.withLock { $0.append(store) }
                return store
            }
        }
    }

    @Test func passesTheInputPositionStoreConformanceKit() async throws {
        let configuration = try await SharedPostgres.database()
        let opened = Mutex<[PostgresCheckpointStore]>([])
        defer { for store in opened.withLock({ $0 }) { store.close() } }
        let open: @Sendable () throws -> PostgresCheckpointStore = {
            let store = try PostgresCheckpointStore(configuration)
            opened.withLock { $0.append(store) }
            return store
        }
        try await InputPositionStoreConformance.check(try await offThread { try open() }, reopen: open)
    }

    /// Users are kept per partition: an id two partitions hold (an identify or alias in one naming a user
    /// whose events go to the other) is two users, each read and written by its own partition only.
    @Test func usersAreKeptPerPartition() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let t0 = Timestamp(milliseconds: 1_736_157_600_000)
        @Sendable func checkpoint(_ partition: Int, _ users: [UserState], removed: [String] = [], forgotten: [String] = []) -> Checkpoint {
            var c = Checkpoint(partition: partition, logSequence: 1, rulesVersion: "r", timerSeq: 0, takenAt: t0)
            c.users = users
            c.removedUsers = removed
            c.forgottenUsers = forgotten
            return c
        }
        var anonymous = UserState(id: "anon-7")
        anonymous.traits = ["seen": "pricing page"]
        var pointer = UserState(id: "anon-7")
        pointer.mergedInto = "u-1"
        try await offThread { [anonymous, pointer] in
            try store.write(checkpoint(3, [anonymous]))
            try store.write(checkpoint(5, [pointer]))
        }
        #expect(try store.user("anon-7", partition: 3)?.traits == ["seen": "pricing page"], "partition 5's write left partition 3's user alone")
        #expect(try store.user("anon-7", partition: 5)?.mergedInto == "u-1")
        #expect(try store.user("anon-7", partition: 4) == nil)
        #expect(try store.users(["anon-7", "u-1"], partition: 3).mapValues(\.traits) == ["anon-7": ["seen": "pricing page"]])
        #expect(try store.users(["anon-7"], partition: 5)["anon-7"]?.mergedInto == "u-1")
        #expect(try store.user("anon-7") != nil && store.users(["anon-7"]).count == 1, "asked without a partition: one of them")
        try await offThread { try store.write(checkpoint(5, [], removed: ["anon-7"])) }
        #expect(try store.user("anon-7", partition: 5) == nil)
        #expect(try store.user("anon-7", partition: 3)?.traits == ["seen": "pricing page"], "removing it in one partition keeps the other's")
        try await offThread { try store.write(checkpoint(3, [], forgotten: ["anon-7"])) }
        #expect(try store.user("anon-7", partition: 3) == nil)
        #expect(try store.restore(partition: 3).hasUsers == false)
    }

    /// Partitions' owners checkpoint at the same time from threads of their own, each through a
    /// connection of its own: every checkpoint lands whole, in its partition.
    @Test func concurrentCheckpointsOfSeveralPartitions() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let t0 = Timestamp(milliseconds: 1_736_157_600_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for partition in 0..<6 {
                group.addTask {
                    try await offThread {
                        for n in 1...20 {
                            var checkpoint = Checkpoint(partition: partition, logSequence: UInt64(n), rulesVersion: "r", timerSeq: UInt64(n), takenAt: t0)
                            var user = UserState(id: "p\(partition)-u\(n)")
                            user.traits = ["n": .number(Double(n))]
                            checkpoint.users = [user]
                            checkpoint.timersArmed = [TimerEntry(due: t0 + .minutes(Int64(n)), seq: UInt64(n), user: user.id, purpose: .enrollment(1))]
                            if n > 1 { checkpoint.timersDone = [UInt64(n - 1)] }
                            try store.write(checkpoint)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for partition in 0..<6 {
            let restored = try await offThread { try store.restore(partition: partition) }
            #expect(restored.logSequence == 20 && restored.timers.map(\.seq) == [20] && restored.hasUsers)
            #expect(try await offThread { try store.user("p\(partition)-u20") }?.traits["n"] == .number(20))
        }
    }

    @Test func migratesOnceAndRecordsTheSchemaVersion() async throws {
        let configuration = try await SharedPostgres.database()
        // Several instances opening an empty database at once: each migration is applied once.
        let stores = try await withThrowingTaskGroup(of: PostgresCheckpointStore.self) { group in
            for _ in 0..<3 { group.addTask { try await offThread { try PostgresCheckpointStore(configuration) } } }
            var stores: [PostgresCheckpointStore] = []
            for try await store in group { stores.append(store) }
            return stores
        }
        defer { for store in stores { store.close() } }
        let server = try #require(SharedPostgres.server)
        let versions = try await server.psql(configuration.database, "SELECT string_agg(version::text, ',' ORDER BY version) FROM journeyd_migrations")
        #expect(versions == "1,2,3,4,5,6,7")
        let tables = try await server.psql(
            configuration.database,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('checkpoints', 'partition_leases', 'instance_positions')")
        #expect(tables == "3")
    }

    /// The fencing history is kept for `historyRetention`: a partition's checkpoint deletes its own older
    /// commits, a grant its partition's older grants; younger rows and other partitions' stay.
    @Test func theFencingHistoryIsKeptForItsRetentionOnly() async throws {
        var configuration = try await SharedPostgres.database()
        configuration.historyRetention = .seconds(3 * 86_400)
        let store = try await offThread { [configuration] in try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let server = try #require(SharedPostgres.server)
        let db = configuration.database
        _ = try await server.psql(
            db,
            """
            INSERT INTO checkpoint_commits (partition, token, log_sequence, committed_at) VALUES
              (3, 1, 5, now() - interval '4 days'), (3, 1, 6, now() - interval '2 days'), (4, 1, 7, now() - interval '4 days');
            INSERT INTO lease_grants (partition, token, owner, granted_at) VALUES
              (3, 10, 'old', now() - interval '4 days'), (3, 11, 'recent', now() - interval '2 days'), (4, 10, 'old', now() - interval '4 days')
            """)
        let t0 = Timestamp(milliseconds: 1_736_157_600_000)
        try await offThread { try store.write(Checkpoint(partition: 3, logSequence: 8, rulesVersion: "r", timerSeq: 1, takenAt: t0)) }
        #expect(try await server.psql(db, "SELECT string_agg(partition || ':' || log_sequence, ',' ORDER BY partition, log_sequence) FROM checkpoint_commits") == "3:6,3:8,4:7")
        let leases = PostgresPartitionLeases(store)
        let token = try await offThread { try leases.acquire(partition: 3, owner: "i1", ttl: .seconds(60)) }
        #expect(token != nil)
        #expect(try await server.psql(db, "SELECT string_agg(partition || ':' || owner, ',' ORDER BY partition, token) FROM lease_grants") == "3:i1,3:recent,4:old")
    }

    @Test func refusesADatabaseWithANewerSchema() async throws {
        let configuration = try await SharedPostgres.database()
        try await offThread { try PostgresCheckpointStore(configuration).close() }
        let server = try #require(SharedPostgres.server)
        _ = try await server.psql(configuration.database, "INSERT INTO journeyd_migrations (version, name) VALUES (99, 'from the future')")
        let error = await #expect(throws: StoreError.self) { try await offThread { try PostgresCheckpointStore(configuration) } }
        #expect(error?.isNewerSchema == true)
        #expect("\(error!)".contains("schema version 99"))
        #expect("\(error!)".contains(configuration.database))
    }

    @Test func aCallFromAnEventLoopThreadIsRefusedNotBlocked() async throws {
        let configuration = try await SharedPostgres.database()
        let store = try await offThread { try PostgresCheckpointStore(configuration) }
        defer { store.close() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let answer = try await group.next().submit { () -> String in
            do {
                _ = try store.user("ada")
                return "answered"
            } catch {
                return "\(error)"
            }
        }.get()
        try await group.shutdownGracefully()
        #expect(answer.contains("event loop thread"), "\(answer)")
        #expect(try await offThread { try store.user("ada") } == nil, "the same call from a thread that may block is answered")
    }

    @Test func anUnreachableServerIsNamedInTheError() async throws {
        let configuration = PostgresStoreConfiguration(
            endpoint: .unixSocket(path: NSTemporaryDirectory() + "/no-such-dir/.s.PGSQL.5432"), database: "nowhere", user: "journeyd")
        let error = await #expect(throws: StoreError.self) { try await offThread { try PostgresCheckpointStore(configuration) } }
        #expect("\(error!)".contains("postgresql://journeyd@/nowhere"), "\(error!)")
    }
}
