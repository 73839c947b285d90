import Foundation
import Logging
import SealpostCore

/// What the reactor keeps for restores (protocol/SPEC.md 13.8): its own stream
/// epoch, the epoch each incoming stream follows, its peers' last epochs, what it
/// could not recover, and its announcement counter.
struct RestoreState {
    /// This node's stream epoch: in every HELLO and in the RELAYs it originates.
    var ownEpoch: UInt64 = 0
    /// When this node's database was last restored from a backup (ms), or 0.
    var restoredAtMs: UInt64 = 0
    var streamEpochs: [String: StreamEpoch] = [:]
    var peerEpochs: [String: UInt64] = [:]
    /// Envelopes of a stream that will never come (a restore lost them), by origin.
    var lost: [String: Int] = [:]
    /// Peers just restored, and until when (ms) a gap in a stream that comes through them is
    /// given up as on a restored node: what the peer lost and nobody kept.
    var restoredPeers: [String: UInt64] = [:]
    /// Each incoming stream's expected seq when housekeeping last saw it, and since when (ms).
    var progress: [String: (next: UInt64, sinceMs: UInt64)] = [:]
    /// The next announcement seq and the end of the block reserved for this run.
    var nextSeq: UInt64 = 0
    var seqLimit: UInt64 = 0
    var retained = 0
    var nextPruneMs: UInt64 = 0
    // Since the start: envelopes sent again to a restored peer, held ones let go at a new
    // epoch, and envelopes of an origin's earlier epoch that arrived after its new one.
    var resent: UInt64 = 0
    var released: UInt64 = 0
    var lateOldEpoch: UInt64 = 0
}

extension Reactor {
    static let announceSeqBlock: UInt64 = 1 << 20
    /// How long after a peer's new epoch the streams that came through it may give up a gap.
    static let peerResyncMs: UInt64 = 600_000

    func loadRestoreState() throws {
        restore.ownEpoch = try store.streamEpoch()
        restore.restoredAtMs = UInt64(try store.meta("restored_at") ?? 0)
        restore.streamEpochs = try store.streamEpochs()
        restore.peerEpochs = try store.peerEpochs()
        restore.lost = try store.streamLosses()
        restore.retained = try store.retainedCount()
        restore.nextSeq = try store.reserveAnnouncementSeqs(Self.announceSeqBlock, now: startedMs)
        restore.seqLimit = restore.nextSeq + Self.announceSeqBlock
    }

    /// The next ROUTES or SUMMARY seq: from a durable counter, never from the clock, so a
    /// node restarted after its clock went back is still heard. Nil if the counter cannot
    /// be saved (nothing is announced then rather than a seq that could be reused).
    func nextAnnouncementSeq() -> UInt64? {
        if restore.nextSeq >= restore.seqLimit {
            guard !batch.isOpen, let first = try? store.reserveAnnouncementSeqs(Self.announceSeqBlock, now: startedMs) else {
                return nil
            }
            restore.nextSeq = first
            restore.seqLimit = first + Self.announceSeqBlock
        }
        defer { restore.nextSeq += 1 }
        return restore.nextSeq
    }

    // MARK: peers' epochs

    /// A HELLO from `link`'s peer. On our ROUTER it means the peer's own link to us is not
    /// up (it started, or lost the link), so its announcement numbers may start lower. A new
    /// epoch means it was restored: it gets back what we kept after its RELAYEDs.
    func notePeerHello(_ link: PeerLink, epoch: UInt64, onRouter: Bool) throws {
        if onRouter { link.routesSeq = 0 }
        guard epoch != 0, restore.peerEpochs[link.name] != epoch else { return }
        let known = restore.peerEpochs[link.name]
        let name = link.name
        try write(ref: .zero) { try store.setPeerEpoch(name: name, epoch: epoch) }
        batch.afterCommit { [weak self] in self?.restore.peerEpochs[name] = epoch }
        guard known != nil else { return }
        link.routesSeq = 0
        summaries[name] = nil
        // Envelopes it had taken over for us and lost come back from whoever kept them; a gap
        // nobody can fill is given up (restoreHousekeeping) rather than held for good.
        restore.restoredPeers[name] = Clock.nowMs() + Self.peerResyncMs
        let since = Clock.nowMs() &- UInt64(config.relayRetentionHours) * 3_600_000
        var rows: [RetainedRow] = []
        try write(ref: .zero) { rows = try store.unretainJournal(ackedBy: name, since: since) }
        var entries: [RelayJournal.Entry] = []
        for r in rows {
            var reader = WireReader(r.row.envelope)
            guard let envelope = try? Envelope.decode(from: &reader) else { continue }
            entries.append(RelayJournal.Entry(jid: r.row.jid, dest: r.row.dest, origin: r.row.origin, streamSeq: r.row.streamSeq,
                                              hops: r.row.hops, envelope: envelope, createdMs: r.row.createdAt, epoch: r.epoch))
        }
        var byUser: [String: Int] = [:]
        for e in entries { byUser[e.envelope.to, default: 0] += 1 }
        let users = byUser.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        logger.notice("peer started a new stream epoch (restored from a backup?): sending again what passed to it",
                      metadata: ["peer": "\(name)", "envelopes": "\(entries.count)", "by_user": "\(users)",
                                 "retention_hours": "\(config.relayRetentionHours)"])
        let count = rows.count
        batch.afterCommit { [weak self] in
            guard let self else { return }
            for e in entries { self.journal.add(e) }
            self.restore.retained = max(0, self.restore.retained - count)
            self.restore.resent += UInt64(entries.count)
        }
    }

    // MARK: retention

    /// The next hop acknowledged `jid`: kept for `relay_retention_hours` (never a burn
    /// message's content, which must be gone from every node it passed), else deleted.
    func finishJournalEntry(_ jid: UInt64, ackedBy peer: String) throws {
        let keep = config.relayRetentionHours > 0 && journal.entries[jid].map { burnInside($0.envelope) == nil } == true
        let now = Clock.nowMs()
        try write(ref: .zero) {
            if keep { try store.retainJournal(jid, ackedBy: peer, at: now) } else { try store.deleteJournal(jid) }
        }
        if keep { batch.afterCommit { [weak self] in self?.restore.retained += 1 } }
    }

    // MARK: origins' epochs, at the destination

    /// Applies the origin's epoch of a RELAY for this node before the stream rules.
    /// - Returns: true when the stream rules (13.5) go on with it; false when it was
    ///   dealt with here (an envelope of the origin's earlier epoch).
    func acceptEpoch(origin: String, epoch: UInt64, streamSeq: UInt64, envelope: Envelope) throws -> Bool {
        var st = restore.streamEpochs[origin] ?? StreamEpoch()
        guard epoch != 0, epoch != st.epoch else { return true }
        if st.epoch == 0 {
            // The first epoch this node hears for the origin (a new stream, or one from before epochs).
            st.epoch = epoch
            let next = streamIn[origin, default: 1]
            try write(ref: envelope.id) { try store.setStreamEpoch(origin: origin, next: next, st) }
            restore.streamEpochs[origin] = st
            return true
        }
        guard let to = Address(envelope.to) else { return false }
        if epoch > st.epoch {
            // The origin was restored: it numbers from 1 again. What is held of its old epoch
            // will never be completed in order: it goes to its recipients now, never held for good.
            var held: [(seq: UInt64, recipient: String, envelope: [UInt8])] = []
            try write(ref: envelope.id) { held = try store.takeAllHeld(origin: origin) }
            for h in held {
                var r = WireReader(h.envelope)
                if let e = try? Envelope.decode(from: &r) { try appendRelayed(recipient: h.recipient, envelope: e, bytes: h.envelope) }
            }
            // Gaps below what was held may still come, late, as envelopes of the old epoch.
            let missing = held.last.map { Int($0.seq - streamIn[origin, default: 1] + 1) - held.count } ?? 0
            logger.notice("origin started a new stream epoch (restored from a backup?): its stream starts again",
                          metadata: ["origin": "\(origin)", "released_held": "\(held.count)", "gaps": "\(missing)"])
            restore.released += UInt64(held.count)
            heldCount[origin] = 0
            st = StreamEpoch(epoch: epoch, previousEpoch: st.epoch, previousNext: streamIn[origin, default: 1])
            streamIn[origin] = 1
            try write(ref: envelope.id) { try store.setStreamEpoch(origin: origin, next: 1, st) }
            restore.streamEpochs[origin] = st
            return true
        }
        // An envelope of an earlier epoch, still on its way (a journal that was restored, a slow path).
        if epoch == st.previousEpoch && streamSeq < st.previousNext {
            counters.duplicates += 1
            return false
        }
        if epoch == st.previousEpoch && streamSeq == st.previousNext {
            st.previousNext += 1
            let next = streamIn[origin, default: 1]
            try write(ref: envelope.id) { try store.setStreamEpoch(origin: origin, next: next, st) }
            restore.streamEpochs[origin] = st
        }
        restore.lateOldEpoch += 1
        var w = WireWriter(capacity: envelope.encodedSize)
        envelope.encode(into: &w)
        try appendRelayed(recipient: to.local, envelope: envelope, bytes: w.bytes)
        return false
    }

    func noteLost(origin: String, seqs: ClosedRange<UInt64>) throws {
        let now = Clock.nowMs(), count = seqs.count
        try write(ref: .zero) { try store.addStreamLoss(origin: origin, count: count, at: now) }
        restore.lost[origin, default: 0] += count
        // Their recipients are not known here: the envelopes never came back. Their senders'
        // node (origin) and the numbers are, for the operators of both units.
        logger.error("envelopes lost for good in a restore: no node can send them again",
                     metadata: ["origin": "\(origin)", "count": "\(count)", "stream_seqs": "\(seqs.lowerBound)...\(seqs.upperBound)"])
    }

    /// After a failed commit: the epochs back as the database has them.
    func reloadRestoreState() {
        restore.streamEpochs = (try? store.streamEpochs()) ?? restore.streamEpochs
        restore.lost = (try? store.streamLosses()) ?? restore.lost
    }

    // MARK: housekeeping

    /// Forgets retained envelopes past the window; on a restored node (or for streams that came
    /// through a peer just restored), gives up a gap in a stream that no peer filled within
    /// `restoreGapGraceMs` (counted, and the stream goes on).
    func restoreHousekeeping() {
        let nowMs = Clock.nowMs()
        if nowMs >= restore.nextPruneMs {
            restore.nextPruneMs = nowMs + 60_000
            let cutoff = nowMs &- UInt64(config.relayRetentionHours) * 3_600_000
            if let pruned = try? store.pruneRetained(before: cutoff), pruned > 0 {
                restore.retained = max(0, restore.retained - pruned)
            }
        }
        let window = max(UInt64(config.relayRetentionHours), 1) * 3_600_000
        let restoredLately = restore.restoredAtMs != 0 && nowMs < restore.restoredAtMs + window
        restore.restoredPeers = restore.restoredPeers.filter { $0.value > nowMs }
        guard restoredLately || !restore.restoredPeers.isEmpty, !batch.isOpen else { return }
        func throughRestoredPeer(_ origin: String) -> Bool {
            restore.restoredPeers[origin] != nil || routeTable.nextHop(to: origin).map { restore.restoredPeers[$0] != nil } == true
        }
        for (origin, count) in heldCount where count > 0 && (restoredLately || throughRestoredPeer(origin)) {
            let expectedNow = streamIn[origin, default: 1]
            guard let p = restore.progress[origin], p.next == expectedNow else {
                restore.progress[origin] = (expectedNow, nowMs)
                continue
            }
            // A restored node waits this long (30 s) for a gap to be filled by its peers' kept copies.
            guard nowMs &- p.sinceMs >= config.restoreGapGraceMs else { continue }
            do {
                guard let lowest = try store.lowestHeld(origin: origin) else { continue }
                let expected = streamIn[origin, default: 1]
                guard lowest > expected else { continue }
                try noteLost(origin: origin, seqs: expected...(lowest - 1))
                var next = lowest
                while heldCount[origin, default: 0] > 0 {
                    var held: (recipient: String, envelope: [UInt8])?
                    let seq = next
                    try write(ref: .zero) { held = try store.takeHeld(origin: origin, streamSeq: seq) }
                    guard let held else { break }
                    heldCount[origin, default: 1] -= 1
                    var r = WireReader(held.envelope)
                    if let e = try? Envelope.decode(from: &r) { try appendRelayed(recipient: held.recipient, envelope: e, bytes: held.envelope) }
                    next += 1
                }
                streamIn[origin] = next
                dirtyStreamsIn.insert(origin)
                restore.progress[origin] = nil
            } catch {
                logger.error("cannot give up a gap in the stream from \(origin): \(error)")
            }
        }
        if batch.isOpen { finishCycle() }
    }

    func restoreStatus() -> [String: Any] {
        [
            "epoch": restore.ownEpoch,
            "restored_at": restore.restoredAtMs == 0 ? NSNull() : Clock.rfc3339(ms: restore.restoredAtMs) as Any,
            "retained": restore.retained, "retention_hours": config.relayRetentionHours,
            "resent": restore.resent, "released": restore.released, "late_old_epoch": restore.lateOldEpoch,
            "lost": restore.lost.values.reduce(0, +), "lost_by_stream": restore.lost,
        ]
    }
}
