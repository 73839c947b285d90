import Foundation
@testable import SealpostNode
import SQLite
import Synchronization
import XCTest

/// The checkpointer's round against a writer that commits without pause, as the reactor does
/// under a steady stream of messages: the WAL must start again from its beginning, not grow
/// with the stream until it is truncated as oversized (which held the writer off 119 ms).
final class CheckpointerTests: XCTestCase {
    /// Frames in the WAL, as a PASSIVE checkpoint reports them.
    private func frames(_ db: Database) throws -> Int64 {
        try db.first("PRAGMA wal_checkpoint(PASSIVE)") { $0.int(1) } ?? 0
    }

    func testTheWALStartsAgainUnderAStreamOfCommits() throws {
        let path = NSTemporaryDirectory() + "sealpost-checkpointer-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let setUp = try Database(path: path)
        try setUp.execute("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(a INTEGER PRIMARY KEY, b BLOB)")
        setUp.close()
        let stop = Atomic<Bool>(false)
        let commits = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        // The writer's own thread and connection, like the reactor's: a commit (one fsync) every
        // 0.2 ms or so, never waiting for the checkpointer.
        let thread = Thread {
            defer { done.signal() }
            do {
                let writer = try Database(path: path)
                defer { writer.close() }
                try writer.execute("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0")
                let blob = SQLValue.blob([UInt8](repeating: 7, count: 300))
                while !stop.load(ordering: .acquiring) {
                    try writer.transaction { try writer.run("INSERT INTO t(b) VALUES(?)", blob) }
                    commits.add(1, ordering: .relaxed)
                    usleep(200)
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        thread.start()
        defer {
            stop.store(true, ordering: .releasing)
            done.wait()
        }

        let checkpointer = try Database(path: path)
        defer { checkpointer.close() }
        checkpointer.setBusyTimeout(ms: Checkpointer.busyTimeoutMs)
        // Rounds until the WAL was started again five times (it holds fewer frames than at the
        // round before), with the writer going on. Now and then a checkpoint happens to end
        // between two commits and the WAL starts again by itself; five times in 100 rounds it
        // does not (PASSIVE alone: 0–2 times, measured).
        var last: Int64 = 0
        var restarts = 0
        for _ in 0..<100 where restarts < 5 {
            let held = try Checkpointer.round(checkpointer, restartOverFrames: 16).frames
            if held < last { restarts += 1 }
            last = held
            usleep(20_000)
        }
        XCTAssertNil(failure.withLock { $0 }, "the writer failed")
        XCTAssertEqual(restarts, 5, "the WAL only grew: \(last) frames after \(commits.load(ordering: .relaxed)) commits")
        // And it stays about one round of writes, not the whole stream.
        let later = try frames(checkpointer)
        XCTAssertLessThan(later, Int64(commits.load(ordering: .relaxed)), "the WAL holds the whole stream")
    }

    /// A reader on an old snapshot (a backup's read) keeps frames the passes cannot copy: the
    /// round does not try a RESTART, which would hold the writer off while it waited for that
    /// reader (50 ms every round for as long as the backup reads); once the reader is done it does.
    func testNoRestartWhileAReaderHoldsAnOldSnapshot() throws {
        let path = NSTemporaryDirectory() + "sealpost-checkpointer-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let writer = try Database(path: path)
        defer { writer.close() }
        try writer.execute("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(a INTEGER PRIMARY KEY, b BLOB)")
        let blob = SQLValue.blob([UInt8](repeating: 7, count: 3000))
        func write(_ n: Int) throws { for _ in 0..<n { try writer.transaction { try writer.run("INSERT INTO t(b) VALUES(?)", blob) } } }
        try write(10)
        let reader = try Database(path: path)
        defer { reader.close() }
        try reader.execute("BEGIN")
        _ = try reader.first("SELECT COUNT(*) FROM t") { $0.int(0) }
        try write(40)
        let checkpointer = try Database(path: path)
        defer { checkpointer.close() }
        checkpointer.setBusyTimeout(ms: Checkpointer.busyTimeoutMs)
        let held = try Checkpointer.round(checkpointer, restartOverFrames: 16)
        XCTAssertGreaterThan(held.frames, 16)
        XCTAssertEqual(held.restart, .skippedForReader)
        try reader.execute("COMMIT")
        XCTAssertEqual(try Checkpointer.round(checkpointer, restartOverFrames: 16).restart, .restarted)
    }
}
