import Foundation
import Logging
import SealpostCore
import ZeroMQ

/// Files (protocol/SPEC.md 7.8): uploads from local users, downloads to local
/// recipients, pulls from the origin node for local recipients, and serving
/// pulls to other nodes.
///
/// Durability: a chunk is acknowledged (FILE-STATUS) or counted as held only once
/// the writer thread has written and synced it and its hash is committed with the
/// cycle. Fairness: incoming chunks are read for at most `FileTransfers.cycleBudgetNs`
/// per cycle; chunks to send are read and checked on the reader thread, paced
/// (`files.send_mb_s`), and sent after the cycle's envelopes and acknowledgements.
extension Reactor {
    // MARK: state

    func loadFiles() throws {
        transfers.expiry = try store.fileExpiries()
        for record in try store.files() { transfers.files[record.id] = StoredFile(record: record) }
        for r in try store.fileReaders() {
            // Any other text was never written by this node: the row is left alone, not a reader.
            guard let reader = StoredFile.Reader(stored: r.reader) else { continue }
            transfers.files[r.id]?.readers[reader] = r.fetched
        }
    }

    // MARK: client commands

    func handleFile(_ command: Command, session: Session, user: String) throws {
        let start = Clock.monotonicNs()
        defer { transfers.cycleNs += Clock.monotonicNs() - start }
        switch command {
        case let .fileBegin(id, size, chunks):
            try beginUpload(session, user: user, id: id, size: size, chunks: chunks)
        case let .fileChunk(id, index, data):
            try receiveChunk(session, user: user, id: id, index: index, data: data)
        case let .fileGet(id, from, count):
            try requestDownload(session, user: user, id: id, from: from, count: count)
        case .fileDone(let id):
            guard let file = transfers.files[id], file.readers[.user(user)] != nil else { return }
            try setReader(file, .user(user), fetched: true)
        default:
            break
        }
    }

    private func refuseFile(_ session: Session, _ id: FileID, _ code: ErrorCode, _ reason: String) {
        transfers.refused += 1
        reply(session, .error(code: code.rawValue, ref: id, reason: reason))
    }

    private func beginUpload(_ session: Session, user: String, id: FileID, size: UInt64, chunks: UInt32) throws {
        guard FileChunks.isConsistent(cipherSize: size, chunks: chunks) else {
            let over = size > FileChunks.cipherSize(plainSize: FileChunks.maxFileBytes)
            return refuseFile(session, id, over ? .tooLarge : .badRequest,
                              over ? "the file is over 2 GiB (2147483648 bytes)" : "the size and chunk count do not describe a file in 128 KiB chunks")
        }
        // An id deleted here at its readable-until time stays in use (its FILE-GET is answered `gone`).
        if transfers.expiry.isGone(id) { return refuseFile(session, id, .badRequest, "this file id is already in use") }
        if let file = transfers.files[id] {
            guard file.record.owner == user, file.record.size == size, file.record.chunks == chunks else {
                return refuseFile(session, id, .badRequest, "this file id is already in use")
            }
            // Continuing: chunks not yet durable are expected again from `have`.
            file.uploadHeard(from: session.routingId)
            file.written = file.record.have
            file.batch.removeAll()
            return reply(session, .fileStatus(fileId: id, have: file.record.have, chunks: chunks))
        }
        let used = transfers.files.values.filter { $0.record.owner == user }.reduce(UInt64(0)) { $0 + $1.record.size }
        let quota = config.files.quotaBytes
        if used + size > quota {
            return refuseFile(session, id, .insufficientStorage,
                              "your file quota on \(config.name) is \(quota / 1_048_576) MiB and \(used / 1_048_576) MiB of it is in use; this file needs \(size / 1_048_576 + 1) MiB")
        }
        let free = transfers.disk.freeBytes
        if free < size + config.files.minFreeBytes {
            return refuseFile(session, id, .insufficientStorage,
                              "the node's disk is full: \(free / 1_048_576) MiB free, this file needs \(size / 1_048_576 + 1) MiB (ask your operator); nothing was stored")
        }
        let record = FileRecord(id: id, origin: config.name, owner: user, size: size, chunks: chunks, have: 0,
                                createdAt: Clock.nowMs(), completedAt: nil)
        try write(ref: id) {
            try store.insert(file: record)
            try store.setReader(file: id, reader: .user(user), fetched: true)
        }
        let file = StoredFile(record: record)
        file.readers[.user(user)] = true
        file.uploadHeard(from: session.routingId)
        transfers.files[id] = file
        batch.onRollback { [weak self] in self?.transfers.files[id] = nil }
        batch.afterCommit { [weak self] in
            self?.logger.info("upload started", metadata: ["user": "\(user)", "file": "\(id.hex)", "bytes": "\(size)"])
        }
        reply(session, .fileStatus(fileId: id, have: 0, chunks: chunks))
    }

    private func receiveChunk(_ session: Session, user: String, id: FileID, index: UInt32, data: [UInt8]) throws {
        guard let file = transfers.files[id], file.record.owner == user, !file.isPulled else {
            return refuseFile(session, id, .unknownAddress, "no upload of file \(id.hex) here: send FILE-BEGIN first")
        }
        guard index < file.record.chunks else {
            return refuseFile(session, id, .badRequest, "chunk \(index) is beyond the declared size (\(file.record.chunks) chunks)")
        }
        if index < file.written { return } // sent again after a reconnect: already here
        guard index == file.written else {
            return refuseFile(session, id, .badRequest, "chunk \(index) is out of order: chunk \(file.written) comes next")
        }
        guard data.count == file.length(of: index) else {
            return refuseFile(session, id, .badRequest, "chunk \(index) is \(data.count) bytes; the declared size makes it \(file.length(of: index))")
        }
        guard index < file.record.have + FileTransfers.uploadWindow + FileTransfers.uploadWindow else {
            return refuseFile(session, id, .badRequest, "chunk \(index) is beyond the credit (\(FileTransfers.uploadWindow) unacknowledged chunks)")
        }
        file.uploadHeard(from: session.routingId)
        accept(chunk: data, index: index, into: file)
    }

    /// Queues a received chunk for the writer (one batch per file per cycle).
    private func accept(chunk data: [UInt8], index: UInt32, into file: StoredFile) {
        if file.batch.isEmpty {
            file.batchFirst = index
            file.batchHashes.removeAll()
            transfers.batched.append(file.record.id)
        }
        file.batch.append(data)
        file.written = index + 1
        transfers.chunksIn += 1
    }

    private func requestDownload(_ session: Session, user: String, id: FileID, from: UInt32, count: UInt32) throws {
        if transfers.expiry.isGone(id) {
            return refuseFile(session, id, .gone, "expired: the file was deleted at its readable-until time (保密期限); it no longer exists on \(config.name)")
        }
        guard let file = transfers.files[id], file.readers[.user(user)] != nil else {
            if let gone = burnFileRecord(id, user: user) { return refuseFile(session, id, .gone, gone) }
            return refuseFile(session, id, .unknownAddress, "no file \(id.hex) for you on \(config.name) (expired, or never sent to you)")
        }
        if burnFileTaken(file, by: .user(user)) {
            return refuseFile(session, id, .gone, "burned: this view-once file was fetched once already; it no longer exists here")
        }
        if let failure = file.failure { return refuseFile(session, id, failure.code, failure.reason) }
        // A clearance lowered since the offer: the content is not handed over (SPEC 7.11.5).
        if let rank = try store.fileLabel(id), let refusal = labels.policy.deliver(rank, to: [(address(user), clearance(of: address(user)))]) {
            labels.count(refusal.reason)
            return refuseFile(session, id, ErrorCode(rawValue: refusal.reason.errorCode) ?? .notCleared, refusal.text)
        }
        let end = min(file.record.chunks, from &+ min(count, FileTransfers.maxRequest))
        guard from < end else { return }
        // A fetch from the first chunk is a download (a resumed one, from further on, is not recorded again).
        if from == 0 { try audit(.fileFetched(file: id, by: address(user), owner: fileOwnerAddress(file)), ref: id) }
        queueSend(FileSend(routing: session.routingId, peer: false, id: id, next: from, end: end))
        if file.record.have < end {
            // Tell the client how far it is: the rest follows as it arrives.
            reply(session, .fileStatus(fileId: id, have: file.record.have, chunks: file.record.chunks))
        }
    }

    /// The uploader's address, for the audit log ("" for a copy pulled from another node).
    private func fileOwnerAddress(_ file: StoredFile) -> String {
        file.record.owner.isEmpty ? "" : address(file.record.owner)
    }

    private func queueSend(_ send: FileSend) {
        if let i = transfers.sends.firstIndex(where: { $0.routing == send.routing && $0.id == send.id && $0.end == send.next }) {
            transfers.sends[i].end = send.end
        } else if !transfers.sends.contains(where: { $0.routing == send.routing && $0.id == send.id && $0.next <= send.next && $0.end >= send.end }) {
            transfers.sends.append(send)
        }
    }

    func setReader(_ file: StoredFile, _ reader: StoredFile.Reader, fetched: Bool) throws {
        guard file.readers[reader] != fetched else { return }
        try write(ref: file.record.id) { try store.setReader(file: file.record.id, reader: reader, fetched: fetched) }
        let previous = file.readers[reader]
        file.readers[reader] = fetched
        batch.onRollback { file.readers[reader] = previous }
        if fetched { collectFile(file, nowMs: Clock.nowMs()) }
    }

    // MARK: offers

    /// Why a `file` envelope from a local user cannot be accepted, or nil.
    func fileOfferProblem(_ envelope: Envelope, from user: String) -> String? {
        guard envelope.knownKind == .file else { return nil }
        guard let (offer, _) = try? FileOffer.split(envelope.body) else { return "malformed file offer" }
        guard let file = transfers.files[offer.fileId], file.record.owner == user else {
            return "file \(offer.fileId.hex) is not on \(config.name): upload it before sending it"
        }
        guard file.isComplete else { return "file \(offer.fileId.hex) is not completely uploaded yet (\(file.record.have) of \(file.record.chunks) chunks)" }
        guard file.record.size == offer.cipherSize, file.record.chunks == offer.chunks else {
            return "the offer's sizes do not match the uploaded file"
        }
        return nil
    }

    /// A `file` envelope reached the mailbox of local `user`: they may fetch it from
    /// this node, which pulls it from the origin first when it does not have it.
    func noteFileOffer(_ envelope: Envelope, to user: String) throws {
        guard let offer = envelope.knownKind == .file ? (try? FileOffer.split(envelope.body))?.offer : forwardedOffer(envelope),
              let origin = Address(envelope.from)?.node else { return }
        // Deleted here at its readable-until time: not fetched again.
        if transfers.expiry.isGone(offer.fileId) { return }
        let file: StoredFile
        if let existing = transfers.files[offer.fileId] {
            file = existing
        } else {
            guard origin != config.name else { return } // offered from here but not here: refused at accept
            file = try startPull(id: offer.fileId, origin: origin, size: offer.cipherSize, chunks: offer.chunks)
        }
        try setReader(file, .user(user), fetched: false)
        if let rank = labels.rank(of: envelope) { try write(ref: offer.fileId) { try store.noteFileLabel(offer.fileId, label: rank) } }
        try noteFileExpiry(offer.fileId, envelope)
    }

    /// A file's offer or a forward of it was stored here (sent by a local user, or put in a local
    /// mailbox): the file goes once every such message is past its deletion time (SPEC 7.11.9).
    func noteFileExpiry(_ id: FileID, _ envelope: Envelope) throws {
        guard transfers.files[id] != nil else { return }
        let deadline = deletionTime(envelope, storedAt: Clock.nowMs())
        // The row, not the in-memory copy: it holds what this cycle noted before its commit.
        var time: UInt64?
        try write(ref: id) {
            time = FileExpiry.referred(try store.fileExpiry(id), deadline: deadline)
            if let time { try store.setFileExpiry(id, until: time) }
        }
        guard let time else { return }
        batch.afterCommit { [weak self] in self?.transfers.expiry.noted(id, until: time) }
    }

    /// SEND of a file offer or a forward of a file by a local user, at its sender's node.
    func noteSentFileExpiry(_ envelope: Envelope) throws {
        guard let offer = envelope.knownKind == .file ? (try? FileOffer.split(envelope.body))?.offer : forwardedOffer(envelope) else { return }
        try noteFileExpiry(offer.fileId, envelope)
    }

    /// Deletes the files whose readable-until time has come (SPEC 7.11.9): chunks overwritten and
    /// unlinked as a view-once file's are, in the cycle's transaction; a FILE-GET then gets `gone`.
    func expireFiles() {
        guard let next = transfers.expiry.nextMs else { return }
        let now = Clock.nowMs()
        guard next <= now else { return }
        let due = transfers.expiry.due(now: now, limit: Self.batchLimit)
        do {
            for id in due {
                try write(ref: id) { try store.markFileExpired(id) }
                if let file = transfers.files[id] {
                    logger.info("file deleted at its readable-until time", metadata: ["file": "\(id.hex)"])
                    remove(file, wipe: true)
                }
            }
            batch.afterCommit { [weak self] in
                guard let self else { return }
                for id in due { self.transfers.expiry.deleted(id) }
                self.labels.expired += due.count
            }
        } catch {
            logger.error("cannot delete files at their readable-until time: \(error)")
        }
    }

    /// Until the next file's readable-until time (nil: none).
    func msUntilFileExpiry() -> Int? {
        guard let next = transfers.expiry.nextMs else { return nil }
        let nowMs = Clock.nowMs()
        return next <= nowMs ? 0 : Int(min(next - nowMs, 3_600_000))
    }

    /// Starts holding a file of another node (for a local recipient, or for a node behind this one).
    private func startPull(id: FileID, origin: String, size: UInt64, chunks: UInt32) throws -> StoredFile {
        let record = FileRecord(id: id, origin: origin, owner: "", size: size, chunks: chunks, have: 0,
                                createdAt: Clock.nowMs(), completedAt: nil)
        try write(ref: id) { try store.insert(file: record) }
        let file = StoredFile(record: record)
        transfers.files[id] = file
        batch.onRollback { [weak self] in self?.transfers.files[id] = nil }
        try expectPullers(file)
        let free = transfers.disk.freeBytes
        if free < size + config.files.minFreeBytes {
            file.fail(.insufficientStorage, "\(config.name)'s disk is full: the file cannot be fetched from \(origin) (ask your operator)")
            logger.error("no disk space to pull a file", metadata: ["file": "\(id.hex)", "origin": "\(origin)", "free_mb": "\(free / 1_048_576)"])
        } else {
            logger.info("pulling file", metadata: ["file": "\(id.hex)", "origin": "\(origin)", "bytes": "\(size)"])
        }
        return file
    }

    // MARK: from peers

    /// FILE-PULL and FILE-PULLED from a peer, on our ROUTER.
    func handlePeerFile(_ peer: String, routingId: [UInt8], _ command: PeerCommand) throws {
        switch command {
        case let .filePull(id, origin, size, chunks, from, count):
            var file = transfers.files[id]
            if file == nil, !transfers.expiry.isGone(id), origin != config.name, peering.routeTable.nextHop(to: origin) != nil, peering.routeTable.nextHop(to: origin) != peer {
                // A node behind us: hold a copy on the way (it serves our own readers too, if any).
                file = try startPull(id: id, origin: origin, size: size, chunks: chunks)
            }
            guard let file, file.failure == nil, file.record.size == size, file.record.chunks == chunks else {
                return replyPeer(routingId, .fileHave(fileId: id, have: 0, known: false))
            }
            try setReader(file, .node(peer), fetched: false)
            let end = min(chunks, from &+ min(count, FileTransfers.maxRequest))
            if from == 0, from < end { try audit(.fileFetched(file: id, by: peer, owner: fileOwnerAddress(file)), ref: id) }
            if from < end { queueSend(FileSend(routing: routingId, peer: true, id: id, next: from, end: end)) }
        case .filePulled(let id):
            guard let file = transfers.files[id], file.readers[.node(peer)] != nil else { return }
            try setReader(file, .node(peer), fetched: true)
        default:
            break
        }
    }

    /// FILE-DATA and FILE-HAVE on our DEALER to `link`: answers to our pulls.
    func handleDealerFile(_ link: PeerLink, _ command: PeerCommand) {
        let start = Clock.monotonicNs()
        defer { transfers.cycleNs += Clock.monotonicNs() - start }
        switch command {
        case let .fileData(id, index, hash, data):
            guard let file = transfers.files[id], file.pullVia == link.name, index < file.record.chunks else { return }
            file.dataArrived(now: start)
            guard index == file.written else {
                // A gap (a reconnect lost some): ask again from where we are.
                if index > file.written { file.askAgain() }
                return
            }
            guard data.count == file.length(of: index) else {
                transfers.damaged += 1
                file.askAgain()
                return
            }
            accept(chunk: data, index: index, into: file)
            file.batchHashes.append(hash)
        case let .fileHave(id, _, known):
            guard let file = transfers.files[id], file.pullVia == link.name, !known else { return }
            file.fail(.unknownAddress, "the file is no longer on \(file.record.origin) (expired or removed there)")
            logger.warning("file gone from its origin", metadata: ["file": "\(id.hex)", "origin": "\(file.record.origin)"])
            transfers.sends.removeAll { $0.id == id && !$0.peer }
        default:
            break
        }
    }

    // MARK: cycle

    /// Takes the writer's finished jobs into this cycle's transaction: hashes committed,
    /// `have` moved on; the acknowledgements go out after the commit.
    func collectFileWrites() {
        let now = Clock.monotonicNs()
        if now >= transfers.nextCollectNs {
            transfers.nextCollectNs = now + 1_000_000_000
            collectFiles()
        }
        guard transfers.disk.writer.hasResults else { return }
        let nowMs = Clock.nowMs()
        for done in transfers.disk.writer.completed() {
            guard let file = transfers.files[done.id] else { continue }
            if done.error == EBADMSG {
                // A chunk from the peer does not match the hash it sent: asked for again.
                transfers.damaged += 1
                logger.warning("damaged chunk from peer, asking again", metadata: ["file": "\(done.id.hex)", "after": "\(done.first)"])
                file.written = file.record.have
                file.askAgain()
                continue
            }
            if let error = done.error {
                abandon(file, full: error == ENOSPC || error == EDQUOT, reason: String(cString: strerror(error)))
                continue
            }
            let have = file.record.have
            // Only what continues the durable prefix counts (an upload restarted meanwhile rewrites the rest).
            guard done.first <= have, done.first + UInt32(done.hashes.count) > have else { continue }
            let hashes = Array(done.hashes[Int(have - done.first)...])
            let newHave = have + UInt32(hashes.count)
            let complete = newHave == file.record.chunks
            do {
                try write(ref: done.id) {
                    try store.addChunks(file: done.id, first: have, hashes: hashes, completedAt: complete ? nowMs : nil)
                }
            } catch {
                logger.error("cannot record file chunks: \(error)")
                continue
            }
            let completedBefore = file.record.completedAt
            let uploader = file.uploader, via = file.pullVia
            let before = file.durable(through: newHave, nowMs: nowMs)
            // The chunks past `have` are on disk but not recorded: expected (and asked for) again.
            batch.onRollback { file.rolledBack(to: before, have: have, completedAt: completedBefore) }
            let id = done.id
            batch.afterCommit { [weak self] in
                guard let self else { return }
                if let routing = uploader, self.sessions[routing] != nil {
                    self.batch.reply(routing, .fileStatus(fileId: id, have: newHave, chunks: file.record.chunks))
                }
                if complete {
                    self.logger.info(file.isPulled ? "file pulled" : "upload complete", metadata: ["file": "\(id.hex)", "bytes": "\(file.record.size)"])
                    if file.isPulled, let via, let link = self.peering.links[via] {
                        self.sendPeer(link, .filePulled(fileId: id))
                    }
                }
            }
        }
    }

    /// A write failed: the file is removed whole (nothing half-stored stays), the uploader told why.
    private func abandon(_ file: StoredFile, full: Bool, reason: String) {
        let id = file.record.id
        logger.error("file write failed, file removed", metadata: ["file": "\(id.hex)", "error": "\(reason)"])
        let message = full ? "the node's disk is full; the upload was stopped and nothing of it is kept (ask your operator)"
                           : "the node cannot write the file (\(reason)); nothing of it is kept"
        if let routing = file.uploader, sessions[routing] != nil {
            send(routing, .error(code: (full ? ErrorCode.insufficientStorage : .internalError).rawValue, ref: id, reason: message))
        }
        if file.isPulled {
            file.written = file.record.have
            file.fail(full ? .insufficientStorage : .internalError, message)
            return
        }
        remove(file)
    }

    private func remove(_ file: StoredFile, wipe: Bool = false) {
        let id = file.record.id
        let burn = burns.files[id] != nil
        do {
            try write(ref: id) {
                try store.deleteFile(id)
                try store.forgetFileExpiry(id)
            }
            if burn { try burnFileGone(file) }
        } catch {
            logger.error("cannot remove file record: \(error)")
            return
        }
        transfers.files[id] = nil
        let sends = transfers.sends.filter { $0.id == id }
        transfers.sends.removeAll { $0.id == id }
        batch.onRollback { [weak self] in
            self?.transfers.files[id] = file
            self?.transfers.sends.append(contentsOf: sends)
        }
        // A view-once file's chunks (and an expired one's) are overwritten before they are unlinked.
        batch.afterCommit { [weak self] in
            self?.transfers.expiry.removed(id)
            self?.transfers.disk.remove(id, wipe: burn || wipe)
        }
    }

    /// After the cycle's commit: hand received chunks to the writer, send owed chunks
    /// within the budget, and keep pulls going.
    func pumpFiles() {
        for id in transfers.batched {
            guard let file = transfers.files[id], !file.batch.isEmpty else { continue }
            do {
                try transfers.disk.write(id, first: file.batchFirst, chunks: file.batch,
                                         expected: file.isPulled ? file.batchHashes : nil)
            } catch {
                logger.error("cannot hand chunks to the writer: \(error)")
                file.written = file.record.have
            }
            file.batch.removeAll()
            file.batchHashes.removeAll()
        }
        transfers.batched.removeAll(keepingCapacity: true)
        serveSends()
        requestPulls(now: Clock.monotonicNs())
        transfers.cycleNs = 0
    }

    /// Sends the chunks the reader thread has read and checked, then asks it for
    /// more, round robin over the sends, within the pacing.
    private func serveSends() {
        for done in transfers.disk.reader.completed() {
            guard let i = transfers.sends.firstIndex(where: { $0.token == done.token }) else { continue }
            transfers.sends[i].reading -= 1
            guard let file = transfers.files[done.id] else { continue }
            guard done.index < file.record.have else {
                // Dropped with a damaged chunk before it: read again once it is back.
                transfers.sends[i].next = min(transfers.sends[i].next, done.index)
                continue
            }
            guard let data = done.data else {
                damaged(file, at: done.index)
                transfers.sends[i].next = min(transfers.sends[i].next, done.index)
                continue
            }
            let s = transfers.sends[i]
            let frame = s.peer ? PeerCommand.fileData(fileId: done.id, index: done.index, hash: done.hash, data: data).encode()
                               : Command.fileChunk(fileId: done.id, index: done.index, data: data).encode()
            do {
                if try router.send([s.routing, frame], dontWait: true) { transfers.chunksOut += 1 }
            } catch {
                transfers.sends[i].end = transfers.sends[i].next // the client or peer went away
            }
        }
        transfers.sends.removeAll { $0.next >= $0.end && $0.reading == 0 || transfers.files[$0.id] == nil }
        guard !transfers.sends.isEmpty else { return }
        let now = Clock.monotonicNs()
        let rate = Double(config.files.sendMBps) * 1e6 / 1e9 // bytes per ns
        if rate > 0 {
            transfers.tokens = min(FileTransfers.burstBytes, transfers.tokens + Double(now &- transfers.refilledNs) * rate)
            transfers.refilledNs = now
        }
        var progress = true
        while progress && (rate == 0 || transfers.tokens > 0) {
            progress = false
            for i in transfers.sends.indices {
                var s = transfers.sends[i]
                guard let file = transfers.files[s.id], s.next < s.end, s.next < file.record.have,
                      s.reading < FileTransfers.readAhead else { continue }
                if s.token == 0 {
                    s.token = transfers.nextToken
                    transfers.nextToken += 1
                }
                let length = file.length(of: s.next)
                do {
                    guard let expected = try store.chunkHash(file: s.id, index: s.next) else {
                        damaged(file, at: s.next)
                        continue
                    }
                    try transfers.disk.read(s.id, index: s.next, length: length, expected: expected, token: s.token)
                } catch {
                    logger.error("cannot read a file chunk: \(error)", metadata: ["file": "\(s.id.hex)"])
                    continue
                }
                s.next += 1
                s.reading += 1
                transfers.sends[i] = s
                progress = true
                if rate > 0 {
                    transfers.tokens -= Double(length)
                    if transfers.tokens <= 0 { break }
                }
            }
        }
    }

    /// A chunk failed its hash (or could not be read): it is never sent; it and every chunk
    /// after it are forgotten and fetched again (from the next hop, or the uploader's next attempt).
    private func damaged(_ file: StoredFile, at index: UInt32) {
        guard index < file.record.have else { return }
        let id = file.record.id
        transfers.damaged += 1
        logger.error("damaged chunk on disk, fetching it again", metadata: ["file": "\(id.hex)", "chunk": "\(index)",
                                                                            "from": "\(file.isPulled ? file.record.origin : "its uploader")"])
        do {
            try store.begin()
            try store.truncateChunks(file: id, from: index)
            try store.commit()
        } catch {
            store.rollback()
            logger.error("cannot forget the damaged chunk: \(error)")
            return
        }
        file.damaged(at: index)
    }

    /// Asks the next hop towards each file's origin for more chunks, within the pull window.
    private func requestPulls(now: UInt64) {
        for file in transfers.files.values where file.isPulling {
            let link = peering.routeTable.nextHop(to: file.record.origin).flatMap { peering.links[$0] }.flatMap { $0.isUp(now: now) ? $0 : nil }
            guard let ask = file.pull(via: link?.name, now: now, timeoutNs: config.timers.pullTimeoutNs), let link else { continue }
            sendPeer(link, .filePull(fileId: file.record.id, origin: file.record.origin, size: file.record.size,
                                     chunks: file.record.chunks, from: ask.from, count: ask.count))
        }
    }

    /// 0 while chunks can be sent now, a short wait while pulls are running, else nil.
    func msUntilFileWork() -> Int? {
        if transfers.sends.contains(where: { s in s.reading < FileTransfers.readAhead && (transfers.files[s.id].map { s.next < min(s.end, $0.record.have) } ?? true) }) {
            let rate = Double(config.files.sendMBps) * 1e6 / 1e9
            guard rate > 0, transfers.tokens <= 0 else { return 0 }
            return Int((-transfers.tokens + Double(FileChunks.cipherChunkBytes)) / rate / 1e6) + 1
        }
        if transfers.files.values.contains(where: \.isPulling) { return 100 }
        return nil
    }

    // MARK: collection

    /// A clearance lowered below the label a file was offered under here (SPEC 7.11.6): the
    /// person is no reader of it any more, and a file nobody else is to get from here (another
    /// person, a node behind this one; its uploader has it already) is deleted at once.
    func withholdFiles(for user: String, above clearance: UInt8) throws {
        let reader = StoredFile.Reader.user(user)
        for file in Array(transfers.files.values) where file.readers[reader] != nil {
            let id = file.record.id
            guard let rank = try store.fileLabel(id), rank > clearance else { continue }
            let previous = file.readers[reader]
            try write(ref: id) { try store.deleteReader(file: id, reader: reader) }
            file.readers[reader] = nil
            batch.onRollback { file.readers[reader] = previous }
            logger.notice("file withheld: the person is no longer cleared for it", metadata: ["file": "\(id.hex)", "user": "\(user)"])
            let others = file.readers.keys.filter { $0 != .user(file.record.owner) }
            if others.isEmpty {
                transfers.collected += 1
                remove(file)
            }
        }
    }

    /// Removes files whose retention passed once every reader has them, and any file past its expiry.
    func collectFiles() {
        let nowMs = Clock.nowMs()
        for file in Array(transfers.files.values) { collectFile(file, nowMs: nowMs) }
    }

    private func collectFile(_ file: StoredFile, nowMs: UInt64) {
        // A view-once file goes as soon as every reader has it, and after the burn time to live in any case.
        let burn = burns.files[file.record.id] != nil
        let lifetimeMs = burn ? config.burnTTLHours * 3_600_000 : config.files.expireDays * 86_400_000
        let expired = Clock.ageMs(since: file.record.createdAt, now: nowMs) > lifetimeMs
        var done = false
        if let completed = file.record.completedAt, burn || Clock.ageMs(since: completed, now: nowMs) >= config.files.retentionHours * 3_600_000 {
            let others = file.readers.filter { $0.key != .user(file.record.owner) }
            done = !others.isEmpty && others.values.allSatisfy { $0 }
        }
        guard expired || done else { return }
        if transfers.sends.contains(where: { $0.id == file.record.id }) && !expired { return }
        transfers.collected += 1
        logger.info("file collected", metadata: ["file": "\(file.record.id.hex)", "reason": "\(expired ? "expired" : "fetched by every reader")"])
        remove(file)
    }

    // MARK: status

    func filesStatus() -> NodeStatus.Files {
        let all = transfers.files.values
        func bytes(_ f: StoredFile) -> UInt64 { f.isComplete ? f.record.size : UInt64(f.record.have) * UInt64(FileChunks.cipherChunkBytes) }
        var byUser: [String: Int] = [:]
        for f in all where !f.isPulled { byUser[f.record.owner, default: 0] += Int(f.record.size) }
        return NodeStatus.Files(
            files: all.count, bytes: Int(all.reduce(UInt64(0)) { $0 + bytes($1) }),
            complete: all.filter(\.isComplete).count,
            uploading: all.filter { if case .uploading = $0.state { return true }; return false }.count,
            pulling: all.filter(\.isPulling).count,
            failed: all.filter { $0.failure != nil }.count,
            sending: transfers.sends.count,
            freeBytes: Int(clamping: transfers.disk.freeBytes),
            quotaMb: config.files.quotaMB, retentionHours: config.files.retentionHours,
            expireDays: config.files.expireDays,
            byUser: byUser,
            chunksIn: Int(clamping: transfers.chunksIn), chunksOut: Int(clamping: transfers.chunksOut),
            damagedChunks: Int(clamping: transfers.damaged), refused: Int(clamping: transfers.refused),
            collected: Int(clamping: transfers.collected))
    }
}
