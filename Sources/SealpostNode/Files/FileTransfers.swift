import SealpostCore

/// Chunks owed to a client (a download) or a peer (a pull it asked for), sent a
/// few per cycle so that chat never waits behind a file.
struct FileSend {
    let routing: [UInt8]
    let peer: Bool
    let id: FileID
    /// The next chunk to read (reads run on the reader thread, a few ahead).
    var next: UInt32
    var end: UInt32
    /// Matches the reader's results to this send.
    var token: UInt64 = 0
    /// Chunks being read for it.
    var reading = 0
}

/// The reactor's file state: what it holds, what it owes, its counters.
final class FileTransfers {
    let disk: FileStore
    var files: [FileID: StoredFile] = [:]
    var sends: [FileSend] = []
    var nextToken: UInt64 = 1
    /// Chunks read ahead per send.
    static let readAhead = 4
    /// Files with chunks received this cycle, in arrival order.
    var batched: [FileID] = []
    /// Time spent on file chunks in this cycle.
    var cycleNs: UInt64 = 0
    var chunksIn: UInt64 = 0
    var chunksOut: UInt64 = 0
    var damaged: UInt64 = 0
    var refused: UInt64 = 0
    var collected: UInt64 = 0
    /// Files that go at the readable-until time of the messages that offered them (SPEC 7.11.9).
    var expiry = FileExpiry()
    var nextCollectNs: UInt64 = 0
    /// Send pacing (`files.send_mb_s`): bytes that may go out now, refilled with time, at most a burst.
    var tokens: Double = 0
    var refilledNs: UInt64 = 0
    static let burstBytes: Double = 1_048_576

    /// Upload credit: chunks a client may send beyond the last FILE-STATUS.
    static let uploadWindow: UInt32 = 16
    /// Chunks a node asks a peer for at once (2 MiB: a burst stays short on the link and its I/O thread).
    static let pullWindow: UInt32 = 16
    /// Most chunks one FILE-GET or FILE-PULL may ask for.
    static let maxRequest: UInt32 = 256
    /// File work per cycle before the loop turns to other traffic again.
    static let cycleBudgetNs: UInt64 = 1_000_000
    /// A pull silent this long is asked for again.
    static let pullTimeoutNs: UInt64 = 3_000_000_000

    init(disk: FileStore) {
        self.disk = disk
    }

    var budgetSpent: Bool { cycleNs >= Self.cycleBudgetNs }
}
