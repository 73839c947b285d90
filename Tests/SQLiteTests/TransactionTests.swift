import SQLite
import XCTest

final class TransactionTests: XCTestCase {
    struct Abort: Error, Equatable { let reason: String }

    func open(_ dir: TempDirectory) throws -> Database {
        let db = try Database(path: dir.file("tx.db"))
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
        return db
    }

    func count(_ db: Database) throws -> Int64 { try db.first("SELECT count(*) FROM t") { $0.int(0) } ?? -1 }

    func testCommitsWhenTheBodyReturns() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        let result = try db.transaction { () throws -> Int in
            try db.run("INSERT INTO t (v) VALUES ('a')")
            try db.run("INSERT INTO t (v) VALUES ('b')")
            return 7
        }
        XCTAssertEqual(result, 7)
        XCTAssertEqual(try count(db), 2)
        // Durable: another connection sees it.
        let other = try Database(path: dir.file("tx.db"))
        XCTAssertEqual(try count(other), 2)
    }

    func testRollsBackWhenTheBodyThrows() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        try db.run("INSERT INTO t (v) VALUES ('kept')")
        XCTAssertThrowsError(try db.transaction {
            try db.run("INSERT INTO t (v) VALUES ('a')")
            try db.run("DELETE FROM t WHERE v = 'kept'")
            throw Abort(reason: "changed my mind")
        }) { error in
            XCTAssertEqual(error as? Abort, Abort(reason: "changed my mind"), "the body's own error comes out")
        }
        XCTAssertEqual(try db.query("SELECT v FROM t") { $0.text(0) }, ["kept"])
        // The connection is usable and not left inside a transaction.
        XCTAssertEqual(try db.transaction { try db.run("INSERT INTO t (v) VALUES ('after')") }, 1)
        XCTAssertEqual(try count(db), 2)
    }

    func testRollsBackWhenAStatementFails() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        try db.run("INSERT INTO t (v) VALUES ('dup')")
        XCTAssertThrowsError(try db.transaction {
            try db.run("INSERT INTO t (v) VALUES ('new')")
            try db.run("INSERT INTO t (v) VALUES ('dup')")
        }) { error in
            XCTAssertEqual((error as? SQLiteError)?.isConstraint, true, "\(error)")
        }
        XCTAssertEqual(try db.query("SELECT v FROM t ORDER BY id") { $0.text(0) }, ["dup"])
    }

    func testUncommittedWritesAreInvisibleToOtherConnections() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        let other = try Database(path: dir.file("tx.db"))
        try db.transaction {
            try db.run("INSERT INTO t (v) VALUES ('pending')")
            XCTAssertEqual(try count(db), 1)
            XCTAssertEqual(try count(other), 0)
        }
        XCTAssertEqual(try count(other), 1)
    }

    func testManyRowsInOneTransaction() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        try db.transaction {
            for i in 0..<1_000 { try db.run("INSERT INTO t (v) VALUES (?)", .text("row \(i)")) }
        }
        XCTAssertEqual(try count(db), 1_000)
        XCTAssertEqual(try db.first("SELECT v FROM t WHERE id = ?", .int(1_000)) { $0.text(0) }, "row 999")
    }
}
