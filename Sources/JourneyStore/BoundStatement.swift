import GRDB
import GRDBSQLite

/// One of a checkpoint's row statements (an `INSERT OR REPLACE` or a `DELETE` by key), bound and stepped
/// through SQLite's C API on GRDB's cached statement.
///
/// Why not `Statement.execute(arguments:)`: a checkpoint writes every changed user, outbox entry, timer
/// and id — 70,000 rows at the end of the bench's spool run — and GRDB's arguments are an array of
/// `DatabaseValueConvertible` existentials, each converted to a `DatabaseValue` and checked against the
/// statement before binding. That was more of the checkpoint's CPU than SQLite itself (issue 9, bench/
/// README.md "The final checkpoint"). Here a value goes straight to `sqlite3_bind_*` (SQLite copies text
/// and blobs: `SQLITE_TRANSIENT`), so an encoded user is not copied into a `Data` first.
///
/// Only inside a `write` transaction of ``SQLiteCheckpointStore``; a failed step throws GRDB's
/// `DatabaseError` with SQLite's message and the statement's SQL, like GRDB would.
struct BoundStatement {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
    }

    /// SQLite copies the bytes before the bind returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ value: Int) {
        sqlite3_bind_int64(handle, index, Int64(value))
    }

    func bind(_ index: Int32, _ value: String) {
        var text = value
        text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in
                guard let start = chars.baseAddress, !chars.isEmpty else {
                    _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)  // "", not NULL
                    return
                }
                _ = sqlite3_bind_text(handle, index, start, Int32(chars.count), Self.transient)
            }
        }
    }

    func bind(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            guard let start = raw.baseAddress, !raw.isEmpty else {
                _ = sqlite3_bind_zeroblob(handle, index, 0)  // an empty blob, not NULL
                return
            }
            _ = sqlite3_bind_blob(handle, index, start, Int32(raw.count), Self.transient)
        }
    }

    /// Runs the statement with the values bound since the last step, then resets it for the next row.
    func step() throws {
        let code = sqlite3_step(handle)
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let message = sqlite3_db_handle(handle).flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
    }
}
