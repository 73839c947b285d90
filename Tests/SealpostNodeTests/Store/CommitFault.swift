import Foundation
import SQLite
import XCTest

/// Makes a real node's COMMIT fail, in real SQLite: a trigger, installed in the node's
/// database file from a second connection, adds a deferred foreign-key violation when a
/// chosen row is written. The writes of the cycle all succeed; its COMMIT then fails
/// (SQLITE_CONSTRAINT_FOREIGNKEY) and the node rolls the batch back. `disarm` drops the
/// trigger, so the test decides how many commits fail (one: disarm once it has failed).
final class CommitFault {
    let db: Database

    init(databasePath: String) throws {
        db = try Database(path: databasePath, create: false)
        try db.execute("""
            CREATE TABLE IF NOT EXISTS fault_parent(id INTEGER PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS fault_child(
                parent INTEGER NOT NULL REFERENCES fault_parent(id) DEFERRABLE INITIALLY DEFERRED);
            """)
    }

    /// Fails every commit that inserts (or updates, with `event: "UPDATE"`) a row of
    /// `table` for which the SQL `condition` (over `NEW`) holds, until `disarm`.
    func arm(_ table: String, event: String = "INSERT", when condition: String = "1") throws {
        try db.execute("""
            DROP TRIGGER IF EXISTS fault_once;
            CREATE TRIGGER fault_once AFTER \(event) ON \(table) WHEN \(condition)
            BEGIN INSERT INTO fault_child(parent) VALUES(1); END;
            """)
    }

    func disarm() throws {
        try db.execute("DROP TRIGGER IF EXISTS fault_once")
    }

    deinit { db.close() }
}
