import Foundation
import SQLite
import Synchronization
import XCTest

/// `Database.backup`: an online copy that is one snapshot while another connection writes.
final class BackupTests: XCTestCase {
    func testBackupWhileAnotherConnectionCommitsIsOneConsistentSnapshot() throws {
        let dir = try TempDirectory()
        let writer = try Database(path: dir.file("live.db"))
        try writer.execute("PRAGMA journal_mode=WAL; CREATE TABLE item (id INTEGER PRIMARY KEY, data BLOB NOT NULL);")
        // Some megabytes, so the copy takes many steps.
        try writer.transaction {
            for _ in 0..<4000 { try writer.run("INSERT INTO item (data) VALUES (?)", .blob([UInt8](repeating: 7, count: 1000))) }
        }
        let stop = Atomic<Bool>(false)
        let commits = Atomic<Int>(0)
        let path = dir.file("live.db")
        let thread = Thread {
            guard let db = try? Database(path: path) else { return }
            defer { db.close() }
            while !stop.load(ordering: .acquiring) {
                _ = try? db.transaction {
                    // Every commit adds one row and changes every row's total: a torn copy shows.
                    try db.run("INSERT INTO item (data) VALUES (?)", .blob([UInt8](repeating: 9, count: 1000)))
                }
                commits.add(1, ordering: .relaxed)
            }
        }
        thread.start()
        while commits.load(ordering: .relaxed) < 20 { usleep(1000) }
        let source = try Database(path: path)
        var steps = 0
        try source.backup(to: dir.file("copy.db"), pagesPerStep: 16) { _, _ in
            steps += 1
            usleep(200) // let the writer commit between steps
        }
        source.close()
        let during = commits.load(ordering: .relaxed)
        stop.store(true, ordering: .releasing)
        while !thread.isFinished { usleep(1000) }
        XCTAssertGreaterThan(steps, 50, "many steps: the writer committed in between")
        XCTAssertGreaterThan(during, 20)
        let copy = try Database(path: dir.file("copy.db"), readOnly: true)
        XCTAssertEqual(try copy.first("PRAGMA integrity_check") { $0.text(0) }, "ok")
        let rows = try XCTUnwrap(copy.first("SELECT COUNT(*) FROM item") { $0.int(0) })
        XCTAssertGreaterThanOrEqual(rows, 4020)
        XCTAssertEqual(try copy.first("SELECT MAX(id) FROM item") { $0.int(0) }, rows, "no row missing from the snapshot")
        let live = try XCTUnwrap(writer.first("SELECT COUNT(*) FROM item") { $0.int(0) })
        XCTAssertGreaterThan(live, rows, "the copy is the snapshot of its start, not of its end")
    }
}
