import Dispatch
import Foundation
import Logging
import SQLite
import Synchronization

/// Copies the WAL back into the database file on its own thread and connection,
/// so the reactor's commits never stall on a checkpoint (SQLite allows one
/// checkpointer beside one writer in WAL mode; PASSIVE never blocks the writer).
final class Checkpointer: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let truncateFlag = Atomic<Bool>(false)
    private let oversizeFlag = Atomic<Bool>(false)
    /// Rounds in a row in which the WAL was reported over its bound.
    static let oversizeRoundsBeforeTruncate = 5
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(path: String, intervalMs: Int = 1000, logger: Logger) {
        let thread = Thread { [self] in
            defer { self.done.signal() }
            guard let db = try? Database(path: path) else {
                logger.warning("checkpointer: cannot open \(path)")
                return
            }
            defer { db.close() }
            var oversizeRounds = 0
            while !self.stopFlag.load(ordering: .acquiring) {
                _ = self.wake.wait(timeout: .now() + .milliseconds(intervalMs))
                // An oversized WAL shrinks by itself once a PASSIVE checkpoint catches up (the
                // writer restarts it and cuts it to journal_size_limit); only one that stays over
                // its bound for several rounds is truncated, since TRUNCATE holds the writer off.
                oversizeRounds = self.oversizeFlag.exchange(false, ordering: .acquiringAndReleasing) ? oversizeRounds + 1 : 0
                if oversizeRounds >= Self.oversizeRoundsBeforeTruncate {
                    oversizeRounds = 0
                    self.truncateFlag.store(true, ordering: .releasing)
                }
                do {
                    if self.truncateFlag.exchange(false, ordering: .acquiringAndReleasing) {
                        // Deleted content (burn messages) must not linger in old WAL frames.
                        // A TRUNCATE checkpoint holds the writer off while it copies, so the WAL is
                        // copied first without blocking anyone (PASSIVE) and TRUNCATE is left only
                        // the frames written since: the reactor's next transaction waited the whole
                        // copy of an oversized WAL before (40–450 ms measured; due reminders fired that late).
                        // The first column is 1 when a reader or the writer was in the way: next round.
                        try? db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        let blocked = (try? db.first("PRAGMA wal_checkpoint(TRUNCATE)") { $0.int(0) }) ?? 1
                        if blocked != 0 { self.truncateFlag.store(true, ordering: .releasing) }
                    } else {
                        try db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    }
                } catch let error as SQLiteError where error.isBusy {
                    continue
                } catch {
                    logger.warning("checkpoint failed: \(error)")
                }
            }
        }
        thread.name = "sealpost-checkpoint"
        thread.start()
    }

    /// Asks for a TRUNCATE checkpoint soon (after burn messages were deleted): the WAL
    /// file is emptied, so the frames that held their content are gone from it.
    func requestTruncate() {
        if !truncateFlag.exchange(true, ordering: .acquiringAndReleasing) { wake.signal() }
    }

    /// The WAL file is over its bound (`limits.wal_max_mb`): said on every storage check while
    /// it is. It is truncated after `oversizeRoundsBeforeTruncate` rounds in a row of this.
    func reportOversizedWAL() {
        oversizeFlag.store(true, ordering: .releasing)
    }

    /// Stops the thread and waits for it.
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        wake.signal()
        done.wait()
    }
}
