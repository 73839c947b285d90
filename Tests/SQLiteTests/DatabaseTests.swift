import Foundation
import SQLite
import XCTest

final class DatabaseTests: XCTestCase {
    func open(_ dir: TempDirectory, _ name: String = "test.db") throws -> Database {
        let db = try Database(path: dir.file(name))
        try db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, n INTEGER)")
        return db
    }

    /// Reads column `c` back as the SQLValue it holds.
    func value(_ s: Statement, _ c: Int32) -> SQLValue {
        s.isNull(c) ? .null : .int(s.int(c))
    }

    func testCreatesTheFileOnDisk() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        try db.run("INSERT INTO item (name) VALUES (?)", .text("x"))
        XCTAssertEqual(db.path, dir.file("test.db"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("test.db")))
        db.close()
        let again = try Database(path: dir.file("test.db"), readOnly: true)
        XCTAssertEqual(try again.first("SELECT name FROM item") { $0.text(0) }, "x")
    }

    func testEveryValueKindRoundTrips() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        let withZeros: [UInt8] = [0, 1, 0, 0, 255, 0]
        let rows: [(SQLValue, SQLValue, SQLValue)] = [
            (.text("plain"), .blob(withZeros), .int(42)),
            (.text("吴磊 ✓ émoji 🚦 e\u{301}"), .blob([]), .int(Int64.min)),
            (.text(""), .null, .int(Int64.max)),
            (.null, .blob([UInt8](repeating: 0, count: 1000)), .null),
            (.text("big"), .blob((0..<100_000).map { UInt8(truncatingIfNeeded: $0) }), .int(0)),
        ]
        for (name, data, n) in rows {
            XCTAssertEqual(try db.run("INSERT INTO item (name, data, n) VALUES (?, ?, ?)", name, data, n), 1)
        }
        XCTAssertEqual(db.lastInsertRowID, Int64(rows.count))

        let back = try db.query("SELECT name, data, n, typeof(name), typeof(data) FROM item ORDER BY id") { s in
            (s.isNull(0) ? SQLValue.null : .text(s.text(0)),
             s.isNull(1) ? SQLValue.null : .blob(s.blob(1)),
             value(s, 2), s.text(3), s.text(4))
        }
        XCTAssertEqual(back.count, rows.count)
        for (row, (expected, got)) in zip(rows, back).enumerated() {
            XCTAssertEqual(got.0, expected.0, "row \(row) name")
            XCTAssertEqual(got.1, expected.1, "row \(row) data")
            XCTAssertEqual(got.2, expected.2, "row \(row) n")
        }
        XCTAssertEqual(back.map(\.3), ["text", "text", "text", "null", "text"])
        // A zero-length blob is a blob, not NULL.
        XCTAssertEqual(back.map(\.4), ["blob", "blob", "null", "blob", "blob"])
    }

    func testTextWithAnEmbeddedNULRoundTrips() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        try db.run("INSERT INTO item (name) VALUES (?)", .text("before\u{0}after"))
        XCTAssertEqual(try db.first("SELECT length(CAST(name AS BLOB)) FROM item") { $0.int(0) }, 12, "stored whole")
        try db.execute("INSERT INTO item (name) VALUES (CAST(x'6100620063' AS TEXT))")
        XCTAssertEqual(try db.first("SELECT name FROM item WHERE id = 2") { $0.text(0) }, "a\u{0}b\u{0}c", "read back whole")
    }

    func testParametersAreBoundNotInterpolated() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        let hostile = "x'); DROP TABLE item; --"
        try db.run("INSERT INTO item (name) VALUES (?)", .text(hostile))
        XCTAssertEqual(try db.first("SELECT name FROM item WHERE name = ?", .text(hostile)) { $0.text(0) }, hostile)
        XCTAssertEqual(try db.first("SELECT count(*) FROM item") { $0.int(0) }, 1)
    }

    func testConstraintViolationIsReportedAndTheStatementStaysUsable() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        let insert = "INSERT INTO item (name, n) VALUES (?, ?)"
        try db.run(insert, .text("alice"), .int(1))
        XCTAssertThrowsError(try db.run(insert, .text("alice"), .int(2))) { error in
            let e = error as? SQLiteError
            XCTAssertEqual(e?.isConstraint, true, "\(error)")
            XCTAssertEqual(e?.isBusy, false)
            XCTAssertTrue(e?.message.contains("UNIQUE") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try db.run("INSERT INTO item (id, name) VALUES (1, 'other')")) { error in
            XCTAssertEqual((error as? SQLiteError)?.isConstraint, true, "\(error)")
        }
        // The cached statement is reset after the failure and works again.
        XCTAssertEqual(try db.run(insert, .text("bob"), .int(3)), 1)
        XCTAssertEqual(try db.query("SELECT name, n FROM item ORDER BY id") { "\($0.text(0))=\($0.int(1))" }, ["alice=1", "bob=3"])
    }

    func testCachedStatementsGiveFreshResultsEveryTime() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        for i in 1...10 {
            try db.run("INSERT INTO item (name, n) VALUES (?, ?)", .text("n\(i)"), .int(Int64(i)))
        }
        let sql = "SELECT n FROM item WHERE n > ? ORDER BY n"
        XCTAssertEqual(try db.query(sql, .int(7)) { $0.int(0) }, [8, 9, 10])
        XCTAssertEqual(try db.query(sql, .int(8)) { $0.int(0) }, [9, 10])
        // `first` stops after one row; the next use of the same statement starts over.
        XCTAssertEqual(try db.first(sql, .int(0)) { $0.int(0) }, 1)
        XCTAssertEqual(try db.first(sql, .int(5)) { $0.int(0) }, 6)
        XCTAssertEqual(try db.query(sql, .int(0)) { $0.int(0) }, Array(1...10))
        // The same statement, prepared once, is what `statement` returns each time.
        XCTAssertTrue(try db.statement(sql) === db.statement(sql))
        // A statement abandoned mid-way is reset when it is used again.
        let s = try db.statement(sql)
        try s.bind([.int(0)])
        XCTAssertTrue(try s.step())
        XCTAssertEqual(s.int(0), 1)
        XCTAssertEqual(try db.query(sql, .int(9)) { $0.int(0) }, [10])
    }

    func testBindingsDoNotLeakIntoTheNextUse() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        try db.run("INSERT INTO item (name, n) VALUES (?, ?)", .text("a"), .int(5))
        // Second use binds only the first parameter: the second must be NULL again, not 5.
        try db.run("INSERT INTO item (name, n) VALUES (?, ?)", .text("b"))
        XCTAssertEqual(try db.first("SELECT n IS NULL FROM item WHERE name = 'b'") { $0.int(0) }, 1)
    }

    func testFirstReturnsNilWithoutRows() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        XCTAssertNil(try db.first("SELECT name FROM item") { $0.text(0) })
        try db.run("INSERT INTO item (name) VALUES ('x')")
        XCTAssertNil(try db.first("SELECT name FROM item WHERE name = ?", .text("y")) { $0.text(0) })
        XCTAssertEqual(try db.first("SELECT name FROM item WHERE name = ?", .text("x")) { $0.text(0) }, "x")
        XCTAssertEqual(try db.query("SELECT name FROM item WHERE name = ?", .text("y")) { $0.text(0) }, [])
    }

    func testRunReportsChangedRows() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        for i in 0..<5 { try db.run("INSERT INTO item (n) VALUES (?)", .int(Int64(i))) }
        XCTAssertEqual(try db.run("UPDATE item SET data = x'00' WHERE n % 2 = 0"), 3)
        XCTAssertEqual(try db.run("DELETE FROM item WHERE n > ?", .int(10)), 0)
        XCTAssertEqual(try db.run("DELETE FROM item"), 5)
    }

    func testBadSQLThrows() throws {
        let dir = try TempDirectory()
        let db = try open(dir)
        XCTAssertThrowsError(try db.statement("SELEC nonsense"))
        XCTAssertThrowsError(try db.run("INSERT INTO missing VALUES (1)")) { error in
            XCTAssertTrue((error as? SQLiteError)?.message.contains("missing") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try db.execute("CREATE TABLE item (x)")) { error in
            XCTAssertTrue((error as? SQLiteError)?.message.contains("already exists") ?? false, "\(error)")
        }
    }

    func testOpeningAMissingFileReadOnlyThrows() throws {
        let dir = try TempDirectory()
        let path = dir.file("missing.db")
        XCTAssertThrowsError(try Database(path: path, readOnly: true)) { error in
            let e = error as? SQLiteError
            XCTAssertNotNil(e)
            XCTAssertTrue(e?.description.contains(path) ?? false, "\(error)")
        }
        XCTAssertThrowsError(try Database(path: path, create: false))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing was created")
        XCTAssertThrowsError(try Database(path: dir.file("no/such/dir/x.db")))
    }

    func testReadOnlyConnectionCannotWrite() throws {
        let dir = try TempDirectory()
        let writer = try open(dir)
        try writer.run("INSERT INTO item (name) VALUES ('x')")
        let reader = try Database(path: dir.file("test.db"), readOnly: true)
        XCTAssertEqual(try reader.first("SELECT count(*) FROM item") { $0.int(0) }, 1)
        XCTAssertThrowsError(try reader.run("INSERT INTO item (name) VALUES ('y')"))
    }
}
