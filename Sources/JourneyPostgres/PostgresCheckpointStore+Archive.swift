public import JourneyCore
import NIOCore
import PostgresNIO

extension PostgresCheckpointStore {
    public func outboxCounts() throws(StoreError) -> [DeliveryState: Int] {
        try pool.withConnection("count the outbox") { s in
            var counts: [DeliveryState: Int] = [:]
            for row in try s.run("SELECT state, count(*) FROM outbox_entries GROUP BY state") {
                let (state, count) = try row.decode((String, Int64).self)
                if let state = DeliveryState(rawValue: state) { counts[state] = Int(count) }
            }
            return counts
        }
    }

    public func outbox(of user: String) throws(StoreError) -> [OutboxEntry] {
        try entries("SELECT entry FROM outbox_entries WHERE user_id = \(user) ORDER BY due, touch_id")
    }

    public func outbox(in state: DeliveryState, limit: Int) throws(StoreError) -> [OutboxEntry] {
        try entries("SELECT entry FROM outbox_entries WHERE state = \(state.rawValue) ORDER BY due, touch_id LIMIT \(limit)")
    }

    private func entries(_ query: PostgresQuery) throws(StoreError) -> [OutboxEntry] {
        try pool.withConnection("read the outbox") { s in
            try s.run(query).map { row in try Self.decode(row, "outbox entry") { r throws(BinaryDecodingError) in try OutboxEntry(from: &r) } }
        }
    }

    /// The log position each partition's checkpoint covers (the committed stream sequence in cluster mode).
    public func checkpointSequences() throws(StoreError) -> [Int: UInt64] {
        try pool.withConnection("read the checkpoints") { s in
            var result: [Int: UInt64] = [:]
            for row in try s.run("SELECT partition, log_sequence FROM checkpoints") {
                let (partition, sequence) = try row.decode((Int, Int64).self)
                result[partition] = UInt64(bitPattern: sequence)
            }
            return result
        }
    }
}

extension PostgresCheckpointStore {
    public func keep(_ snapshot: RuleSnapshot) throws(StoreError) {
        let files = ByteBuffer(bytes: snapshot.encodedFiles())
        try pool.withConnection("keep a rule set") { s in
            try s.run(
                """
                INSERT INTO rule_sets (version, files, kept_at) VALUES (\(snapshot.version), \(files), \(WallClock().now.milliseconds))
                ON CONFLICT (version) DO NOTHING
                """)
        }
    }

    public func snapshot(version: String) throws(StoreError) -> RuleSnapshot? {
        try pool.withConnection("read a rule set") { s in
            guard let row = try s.run("SELECT files FROM rule_sets WHERE version = \(version)").first else { return nil }
            return try Self.decode(row, "rule set \(version)") { r throws(BinaryDecodingError) in try RuleSnapshot(encodedFiles: &r) }
        }
    }

    public func keep(journeys: [StoredJourney], at now: Timestamp) throws(StoreError) {
        guard !journeys.isEmpty else { return }
        try pool.withConnection("keep journey versions") { s in
            try s.run(
                """
                INSERT INTO journey_versions (version, journey, file, source, loaded_at)
                SELECT version, journey, file, source, \(now.milliseconds)
                FROM unnest(\(journeys.map(\.version))::text[], \(journeys.map(\.journey))::text[], \(journeys.map(\.file))::text[],
                            \(journeys.map(\.source))::text[]) AS j(version, journey, file, source)
                ON CONFLICT (version) DO NOTHING
                """)
        }
    }

    public func keptJourneyVersions() throws(StoreError) -> [StoredJourney] {
        try pool.withConnection("read journey versions") { s in
            try s.run("SELECT version, journey, file, source FROM journey_versions ORDER BY loaded_at, version").map { row in
                let (version, journey, file, source) = try row.decode((String, String, String, String).self)
                return StoredJourney(version: version, journey: journey, file: file, source: source)
            }
        }
    }
}
