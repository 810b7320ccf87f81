public import JourneyCore
import PostgresNIO

/// Each instance's spool and tail positions (``InputPositionStore``), in `instance_positions`
/// (schema v4): a move is one transaction, so a batch's offset and line number move together.
extension PostgresCheckpointStore: InputPositionStore {
    public func positions(of instance: String) throws(StoreError) -> [String: Int64] {
        try pool.withConnection("read the input positions of instance \(instance)") { s in
            var positions: [String: Int64] = [:]
            for row in try s.run("SELECT source, position FROM instance_positions WHERE instance = \(instance)") {
                let (source, position) = try row.decode((String, Int64).self)
                positions[source] = position
            }
            return positions
        }
    }

    public func move(_ changes: [String: Int64?], of instance: String) throws(StoreError) {
        let set = changes.compactMap { source, position in position.map { (source, $0) } }
        let dropped = changes.filter { $0.value == nil }.map(\.key)
        guard !set.isEmpty || !dropped.isEmpty else { return }
        try pool.transaction("move the input positions of instance \(instance)") { s in
            if !set.isEmpty {
                try s.run(
                    """
                    INSERT INTO instance_positions (instance, source, position)
                    SELECT \(instance), source, position FROM unnest(\(set.map(\.0))::text[], \(set.map(\.1))::bigint[]) AS i(source, position)
                    ON CONFLICT (instance, source) DO UPDATE SET position = EXCLUDED.position
                    """)
            }
            if !dropped.isEmpty {
                try s.run("DELETE FROM instance_positions WHERE instance = \(instance) AND source = ANY(\(dropped)::text[])")
            }
        }
    }
}
