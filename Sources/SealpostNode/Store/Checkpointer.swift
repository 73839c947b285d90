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
            // A RESTART or TRUNCATE checkpoint waits for the writer and then holds it off while it
            // waits for readers: never long. What it cannot do now it does next round.
            db.setBusyTimeout(ms: Self.busyTimeoutMs)
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
                        try Self.round(db)
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

    /// How long a RESTART or TRUNCATE waits for the writer's transaction, or for readers.
    static let busyTimeoutMs: Int32 = 50
    /// A WAL holding more frames than this (4 KiB each) after the PASSIVE passes is restarted.
    static let restartOverFrames: Int64 = 256

    /// What a round did after its PASSIVE passes.
    enum Restart: Equatable {
        /// The WAL held `restartOverFrames` or fewer frames.
        case notNeeded
        /// A reader still reads frames the passes could not copy (a backup's long snapshot): a
        /// RESTART would hold the writer off for its whole wait, so none is tried.
        case skippedForReader
        /// The writer starts the WAL again from its beginning at its next commit.
        case restarted
        /// The writer or a reader was in the way for `busyTimeoutMs`: next round.
        case busy
    }

    /// One round: copies the WAL back and, when it still holds more than `restartOverFrames`
    /// frames, makes the writer start it again from its beginning. Returns the frames it held and
    /// what it did about them.
    ///
    /// SQLite starts a WAL again from its beginning only when a writer's transaction begins while
    /// every frame has been copied back. Under a steady stream of commits a PASSIVE checkpoint
    /// never sees that: the writer commits again during the copy (its fsyncs take longer than the
    /// gap between two commits), so the WAL was never started again and grew with the stream
    /// (13 MB/s at 1k msgs/s: 140 MB after 11 s, `sealpost-bench federation --rate 1000`) until
    /// it was truncated as oversized, and truncating 140 MB held the writer off for 119 ms (strace:
    /// `ftruncate` in the TRUNCATE checkpoint, the reactor in the busy handler meanwhile): that was
    /// the 100–230 ms tail at 1k msgs/s. Now two PASSIVE passes copy nearly everything without
    /// blocking anyone, and (unless a reader still needs frames they could not copy) a RESTART
    /// holds the writer off only to copy what the second pass left and to sync the database
    /// file, so the WAL stays at about one round of writes and is
    /// never truncated under load.
    @discardableResult
    static func round(_ db: Database, restartOverFrames: Int64 = restartOverFrames) throws -> (frames: Int64, restart: Restart) {
        var frames: Int64 = 0, copied: Int64 = 0
        for _ in 0..<2 {
            // busy, frames in the WAL when the checkpoint began, frames copied (-1, -1 outside WAL mode).
            (frames, copied) = try db.first("PRAGMA wal_checkpoint(PASSIVE)") { ($0.int(1), $0.int(2)) } ?? (0, 0)
        }
        guard frames > restartOverFrames else { return (frames, .notNeeded) }
        guard copied >= frames else { return (frames, .skippedForReader) }
        let busy = try db.first("PRAGMA wal_checkpoint(RESTART)") { $0.int(0) } ?? 1
        return (frames, busy == 0 ? .restarted : .busy)
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
