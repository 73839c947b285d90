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
                    try db.execute("PRAGMA wal_checkpoint(PASSIVE)")
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

    /// Stops the thread and waits for it.
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        wake.signal()
        done.wait()
    }
}
