import SealpostCore

/// One file this node holds, whole or in part, and the state of its transfer: being
/// uploaded by a local user, being pulled from the next hop towards its origin, complete,
/// or failed. The reactor feeds it what arrives and what becomes durable, and sends the
/// FILE-PULLs that `pull(via:now:)` returns; `record` follows the committed row.
final class StoredFile {
    enum State: Equatable {
        /// A local user's upload; `uploader` is the session sending it now (FILE-STATUS goes there).
        case uploading(uploader: [UInt8]?)
        /// Another node's file, asked of the next hop `via` (nil: not asked yet) up to chunk
        /// `requested` (exclusive); data last came, or the first ask went out, at `lastData`.
        case pulling(via: String?, requested: UInt32, lastData: UInt64)
        /// Every chunk is durable here.
        case complete
        /// It cannot be had (the origin no longer has it, the disk is full): downloads are refused with this.
        case failed(code: ErrorCode, reason: String)
    }

    private(set) var record: FileRecord
    private(set) var state: State
    /// Chunks handed to the writer (durable or not): the next chunk expected is this one.
    var written: UInt32
    /// Readers and whether they have the whole file.
    var readers: [Reader: Bool] = [:]
    /// Chunks received this cycle, for the writer.
    var batch: [[UInt8]] = []
    /// For a pull: the hashes the peer sent with the batch's chunks (checked by the writer).
    var batchHashes: [[UInt8]] = []
    var batchFirst: UInt32 = 0

    /// A file as recorded: an upload of one of this node's users (`owner`), or a pull.
    init(record: FileRecord) {
        self.record = record
        written = record.have
        if record.have == record.chunks {
            state = .complete
        } else if record.owner.isEmpty {
            state = .pulling(via: nil, requested: record.have, lastData: 0)
        } else {
            state = .uploading(uploader: nil)
        }
    }

    var isComplete: Bool { record.have == record.chunks }
    var isPulled: Bool { record.owner.isEmpty }

    func length(of index: UInt32) -> Int {
        FileChunks.cipherLength(index: index, chunks: record.chunks, cipherSize: record.size)
    }

    /// The session uploading it now, while it is uploading.
    var uploader: [UInt8]? {
        if case .uploading(let uploader) = state { return uploader }
        return nil
    }

    /// The next hop it is pulled from, while it is pulled.
    var pullVia: String? {
        if case .pulling(let via, _, _) = state { return via }
        return nil
    }

    /// Why it cannot be had, if it failed.
    var failure: (code: ErrorCode, reason: String)? {
        if case let .failed(code, reason) = state { return (code, reason) }
        return nil
    }

    var isPulling: Bool {
        if case .pulling = state { return true }
        return false
    }

    // MARK: uploads

    /// FILE-BEGIN or FILE-CHUNK from `routing`: FILE-STATUS goes there from now on.
    func uploadHeard(from routing: [UInt8]) {
        if case .uploading = state { state = .uploading(uploader: routing) }
    }

    // MARK: pulls

    /// FILE-DATA from the next hop: it answers.
    func dataArrived(now: UInt64) {
        guard case let .pulling(via, requested, _) = state else { preconditionFailure("Invalid state: FILE-DATA for a file not pulled (\(state))") }
        state = .pulling(via: via, requested: requested, lastData: now)
    }

    /// What was asked for and not received is asked for again (a gap, a bad chunk, no route).
    func askAgain() {
        guard case let .pulling(via, _, lastData) = state else { return }
        state = .pulling(via: via, requested: written, lastData: lastData)
    }

    /// The pull's next step, with the next hop's link up (`via`), or nil when there is no way.
    /// What was asked for and has not come for `timeoutNs` is asked for again.
    /// - Returns: the chunks to ask `via` for now, if any.
    func pull(via hop: String?, now: UInt64, timeoutNs: UInt64 = FileTransfers.pullTimeoutNs) -> (from: UInt32, count: UInt32)? {
        guard case .pulling(let current, var requested, var lastData) = state else {
            preconditionFailure("Invalid state: a pull of a file not pulled (\(state))")
        }
        defer { state = .pulling(via: hop ?? current, requested: requested, lastData: lastData) }
        guard let hop else {
            requested = written
            return nil
        }
        if current != hop { requested = written }
        if requested > written && now &- lastData > timeoutNs {
            requested = written // nothing came: ask again
        }
        // Asked for and not yet durable (on the way, or with the writer): bounded, so a disk slower
        // than the link holds back the pull instead of filling memory.
        let outstanding = requested - record.have
        guard outstanding <= 3 * FileTransfers.pullWindow, requested < record.chunks,
              requested - written <= FileTransfers.pullWindow / 2 else { return nil }
        let count = min(4 * FileTransfers.pullWindow - outstanding, FileTransfers.pullWindow, record.chunks - requested)
        let from = requested
        if requested == written { lastData = now }
        requested += count
        return (from, count)
    }

    /// It cannot be had: downloads are refused with `reason` (until it is collected).
    func fail(_ code: ErrorCode, _ reason: String) {
        state = .failed(code: code, reason: reason)
    }

    // MARK: durability

    /// The writer's chunks up to `have` are recorded in this cycle's transaction.
    /// - Returns: the state before, for `rolledBack(to:have:completedAt:)`.
    func durable(through have: UInt32, nowMs: UInt64) -> State {
        let before = state
        record.have = have
        if have == record.chunks {
            record.completedAt = nowMs
            if case .failed = state {} else { state = .complete }
        }
        return before
    }

    /// The transaction that recorded chunks was rolled back: the chunks past `have` are on
    /// disk but not recorded, so they are expected (and asked for) again.
    func rolledBack(to before: State, have: UInt32, completedAt: UInt64?) {
        record.have = have
        record.completedAt = completedAt
        written = min(written, have)
        if case let .pulling(via, requested, lastData) = before {
            state = .pulling(via: via, requested: min(requested, have), lastData: lastData)
        } else {
            state = before
        }
    }

    /// Chunk `index` failed its hash: it and every chunk after it are forgotten (their rows are
    /// gone) and fetched again, from the next hop or the uploader's next attempt.
    func damaged(at index: UInt32) {
        record.have = index
        record.completedAt = nil
        written = index
        switch state {
        case .complete, .pulling:
            state = isPulled ? .pulling(via: nil, requested: index, lastData: 0) : .uploading(uploader: nil)
        case .uploading, .failed:
            break
        }
    }
}
