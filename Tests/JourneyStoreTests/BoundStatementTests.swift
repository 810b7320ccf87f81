import Foundation
import GRDB
import Testing

@testable import JourneyStore

/// The checkpoint's rows go through SQLite's C API (``BoundStatement``): what is bound is what is read
/// back, empty values stay values (the tables' columns are NOT NULL), and a failed step says why.
@Suite("Bound statements")
struct BoundStatementTests {
    @Test func whatIsBoundIsWhatIsReadBack() throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL, b BLOB NOT NULL) WITHOUT ROWID")
            let put = try BoundStatement(db, "INSERT INTO t (k, n, b) VALUES (?, ?, ?)")
            let rows: [(String, Int64, [UInt8])] = [
                ("", 0, []), ("é 😀 ascii", Int64.min, [0, 1, 255]), ("u1", Int64.max, [UInt8](repeating: 7, count: 100_000)),
            ]
            for (k, n, b) in rows {
                try put.bind(1, k)
                try put.bind(2, n)
                try put.bind(3, b)
                try put.step()
            }
            try put.bind(1, "int")
            try put.bind(2, Int(-7))
            try put.bind(3, [1])
            try put.step()
            #expect(try Int.fetchOne(db, sql: "SELECT n FROM t WHERE k = 'int'") == -7)
            for (k, n, b) in rows {
                let row = try #require(try Row.fetchOne(db, sql: "SELECT n, b, typeof(b) AS type FROM t WHERE k = ?", arguments: [k]))
                #expect(row["n"] as Int64 == n)
                #expect([UInt8](row["b"] as Data) == b)
                #expect(row["type"] as String == "blob")
            }
        }
    }

    @Test func aFailedStepNamesTheConstraintAndTheStatementIsReusable() throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID")
            let put = try BoundStatement(db, "INSERT INTO t (k) VALUES (?)")
            try put.bind(1, "a")
            try put.step()
            try put.bind(1, "a")
            let error = try #require(throws: DatabaseError.self) { try put.step() }
            #expect(error.resultCode == .SQLITE_CONSTRAINT)
            #expect(error.message?.contains("t.k") == true)
            #expect(error.sql == "INSERT INTO t (k) VALUES (?)")
            try put.bind(1, "b")
            try put.step()
            #expect(try String.fetchAll(db, sql: "SELECT k FROM t ORDER BY k") == ["a", "b"])
        }
    }

    /// A value that cannot be bound throws, and the statement never runs with NULL in its place: a
    /// `DELETE … WHERE k = ?` must not quietly delete nothing.
    @Test func aFailedBindThrowsAndNothingRunsWithoutIt() throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID; INSERT INTO t VALUES ('a')")
            let drop = try BoundStatement(db, "DELETE FROM t WHERE k = ?")
            let error = try #require(throws: DatabaseError.self) { try drop.bind(2, "a") }
            #expect(error.resultCode == .SQLITE_RANGE)
            #expect(error.message?.contains("binding parameter 2") == true, "\(error)")
            #expect(error.sql == "DELETE FROM t WHERE k = ?")
            #expect(try String.fetchAll(db, sql: "SELECT k FROM t") == ["a"])
            try drop.bind(1, "a")
            try drop.step()
            #expect(try String.fetchAll(db, sql: "SELECT k FROM t").isEmpty)
        }
    }
}
