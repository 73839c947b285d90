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
            while !self.stopFlag.load(ordering: .acquiring) {
                _ = self.wake.wait(timeout: .now() + .milliseconds(intervalMs))
                do {
                    if self.truncateFlag.exchange(false, ordering: .acquiringAndReleasing) {
                        // Deleted content (burn messages) must not linger in old WAL frames.
                        // The first column is 1 when a reader or the writer was in the way: next round.
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

    /// Stops the thread and waits for it.
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        wake.signal()
        done.wait()
    }
}
