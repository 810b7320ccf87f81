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
        guard !changes.isEmpty else { return }
        try pool.transaction("move the input positions of instance \(instance)") { s in
            try Self.move(changes, in: "instance_positions", keyedBy: "instance", instance, s)
        }
    }
}
