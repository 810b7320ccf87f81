import GRDB
import JourneyCore

extension SQLiteCheckpointStore {
    /// Copies the write-ahead log into the database and truncates it: the pages a forgotten user's rows
    /// were in (zeroed in the database by `secure_delete`) leave the log too.
    func eraseWriteAheadLog() throws(StoreError) {
        do {
            try database.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        } catch {
            throw Self.failure(path, "truncate the write-ahead log after a forget", error)
        }
    }
}
