import GRDB
import GRDBSQLite

/// One of a checkpoint's row statements (an `INSERT OR REPLACE` or a `DELETE` by key), bound and stepped
/// through SQLite's C API on GRDB's cached statement.
///
/// Why not `Statement.execute(arguments:)`: a checkpoint writes every changed user, outbox entry, timer
/// and id — 70,000 rows at the end of the bench's spool run — and GRDB's arguments are an array of
/// `DatabaseValueConvertible` existentials, each converted to a `DatabaseValue` and checked against the
/// statement before binding. That was more of the checkpoint's CPU than SQLite itself (issue 9,
/// bench/README.md "The last checkpoint of a spool run, and replay as a process"). Here a value goes
/// straight to `sqlite3_bind_*` (SQLite copies text and blobs: `SQLITE_TRANSIENT`), so an encoded user is
/// not copied into a `Data` first.
///
/// Only inside a `write` transaction of ``SQLiteCheckpointStore``. A failed bind or step throws GRDB's
/// `DatabaseError` with SQLite's message and the statement's SQL, like GRDB would: a value that cannot be
/// bound must never run the statement with NULL in its place (a `DELETE … WHERE id = NULL` of a
/// forgotten user would delete nothing and say nothing). GRDB's bookkeeping around a statement it runs
/// itself (observers, its record of the arguments) is bypassed, so these statements' SQL is run only
/// through this type.
struct BoundStatement {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
    }

    /// SQLite copies the bytes before the bind returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ value: Int64) throws {
        try check(sqlite3_bind_int64(handle, index, value), binding: index)
    }

    func bind(_ index: Int32, _ value: Int) throws {
        try check(sqlite3_bind_int64(handle, index, Int64(value)), binding: index)
    }

    func bind(_ index: Int32, _ value: String) throws {
        var text = value
        let code = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in
                guard let start = chars.baseAddress, !chars.isEmpty else {
                    return sqlite3_bind_text(handle, index, "", 0, Self.transient)  // "", not NULL
                }
                guard chars.count <= Int32.max else { return SQLITE_TOOBIG }
                return sqlite3_bind_text(handle, index, start, Int32(chars.count), Self.transient)
            }
        }
        try check(code, binding: index)
    }

    func bind(_ index: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in try bind(index, raw) }
    }

    func bind(_ index: Int32, _ raw: UnsafeRawBufferPointer) throws {
        let code: Int32
        if let start = raw.baseAddress, !raw.isEmpty {
            code = raw.count <= Int32.max ? sqlite3_bind_blob(handle, index, start, Int32(raw.count), Self.transient) : SQLITE_TOOBIG
        } else {
            code = sqlite3_bind_zeroblob(handle, index, 0)  // an empty blob, not NULL
        }
        try check(code, binding: index)
    }

    private func check(_ code: Int32, binding index: Int32) throws {
        guard code != SQLITE_OK else { return }
        _ = sqlite3_clear_bindings(handle)
        let reason = sqlite3_db_handle(handle).flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "error \(code)"
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "binding parameter \(index): \(reason)", sql: statement.sql)
    }

    /// Runs the statement with the values bound since the last step, then resets it for the next row.
    func step() throws {
        let code = sqlite3_step(handle)
        defer {
            _ = sqlite3_reset(handle)
            _ = sqlite3_clear_bindings(handle)
        }
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let message = sqlite3_db_handle(handle).flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
    }
}
