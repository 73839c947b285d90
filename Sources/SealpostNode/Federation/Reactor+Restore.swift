import Foundation
import Logging
import SealpostCore

/// What the reactor keeps for restores (protocol/SPEC.md 13.8): its own stream
/// epoch, the epoch each incoming stream follows, its peers' last epochs, what it
/// could not recover, and its announcement counter.
struct RestoredPeer {
    var untilMs: UInt64
    /// Expected seq of each incoming stream at the peer's new epoch (1 for one not heard from then).
    var gaps: [String: UInt64]
}

struct RestoreState {
    /// This node's stream epoch: in every HELLO and in the RELAYs it originates.
    var ownEpoch: UInt64 = 0
    /// When this node's database was last restored from a backup (ms), or 0.
    var restoredAtMs: UInt64 = 0
    var streamEpochs: [String: StreamEpoch] = [:]
    var peerEpochs: [String: UInt64] = [:]
    /// Envelopes of a stream that will never come (a restore lost them), by origin.
    var lost: [String: Int] = [:]
    /// Per origin, the seq the gap left by this node's last restore starts at (where the backup
    /// stood; 1 for an origin not in it; 0: none, a new epoch). Only that gap is given up.
    var gapAt: [String: UInt64] = [:]
    /// Peers just restored: until when (ms) the gap that a stream through them had when their new
    /// epoch came may be given up (what the peer lost and nobody kept), and where those streams stood.
    var restoredPeers: [String: RestoredPeer] = [:]
    /// Each incoming stream's expected seq when housekeeping last saw it, and since when (ms).
    var progress: [String: (next: UInt64, sinceMs: UInt64)] = [:]
    /// Announcement seqs (ROUTES, SUMMARY), reserved a block at a time.
    var announceSeqs = ReservedSeqs(saved: 0, block: Reactor.announceSeqBlock)
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
    /// Old-epoch seqs remembered per origin above `prev_next` (13.8 rule 4), at most.
    static let oldEpochSeqLimit = 1 << 16
    /// The largest stream counter the database stores: no stream moves past it.
    static let maxStreamCounter = UInt64(Int64.max)

    func loadRestoreState() throws {
        restore.ownEpoch = try store.streamEpoch()
        restore.restoredAtMs = UInt64(try store.meta("restored_at") ?? 0)
        restore.streamEpochs = try store.streamEpochs()
        restore.peerEpochs = try store.peerEpochs()
        restore.lost = try store.streamLosses()
        restore.gapAt = try store.restoreGaps()
        restore.retained = try store.retainedCount()
        restore.announceSeqs = ReservedSeqs(saved: try store.announcementSeqReservation(now: startedMs), block: Self.announceSeqBlock)
        try reserveAnnouncementSeqs()
    }

    /// Saves the next block of announcement seqs when less than half of this one is left. An
    /// announcement leaves at once, not after the cycle's commit: its block is saved on its
    /// own, before, never in the cycle's transaction (it waits for a cycle with none open).
    private func reserveAnnouncementSeqs() throws {
        guard let end = restore.announceSeqs.wanted(taking: 1), !batch.isOpen else { return }
        try store.setAnnouncementSeqReservation(end)
        restore.announceSeqs.writing(end)
        restore.announceSeqs.committed()
    }

    /// The next ROUTES or SUMMARY seq: from a durable counter, never from the clock, so a
    /// node restarted after its clock went back is still heard. Nil if the counter cannot
    /// be saved (nothing is announced then rather than a seq that could be reused).
    func nextAnnouncementSeq() -> UInt64? {
        try? reserveAnnouncementSeqs()
        guard restore.announceSeqs.isSaved(restore.announceSeqs.next) else { return nil }
        return restore.announceSeqs.take()
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
        // A restored node's epoch is above its last one (SPEC 13.8): a smaller one is a peer playing
        // games (each change would replay the whole retention window to it). Ignored and counted.
        if let known, epoch < known {
            counters.rejectedAnnouncements += 1
            logger.warning("peer's HELLO went back to an earlier stream epoch: ignored",
                           metadata: ["peer": "\(name)", "epoch": "\(epoch)", "known": "\(known)"])
            return
        }
        // A second new epoch while the last one is being resynchronised (10 min) is recorded but
        // replays nothing again: a peer cannot make this node resend 24 h of traffic in a loop.
        if known != nil, let active = restore.restoredPeers[name], active.untilMs > Clock.nowMs() {
            try write(ref: .zero) { try store.setPeerEpoch(name: name, epoch: epoch) }
            batch.afterCommit { [weak self] in self?.restore.peerEpochs[name] = epoch }
            logger.warning("peer started another stream epoch within \(Self.peerResyncMs / 60_000) minutes: not sending again",
                           metadata: ["peer": "\(name)", "epoch": "\(epoch)"])
            return
        }
        try write(ref: .zero) { try store.setPeerEpoch(name: name, epoch: epoch) }
        batch.afterCommit { [weak self] in self?.restore.peerEpochs[name] = epoch }
        // Rolled back: the link asks again (a HELLO), so the new epoch is heard again and what
        // was kept for the peer is sent again then, not lost with this batch.
        batch.onRollback { link.machine.helloRolledBack() }
        guard let known else { return }
        link.routesSeq = 0
        peering.forgetSummary(of: name)
        // Envelopes it had taken over for us and lost come back from whoever kept them; a gap
        // nobody can fill is given up (restoreHousekeeping) rather than held for good.
        // Only the gap each stream has now, where it stands, not one that opens later (whether the
        // stream comes through this peer is seen then: its routes may not be known yet).
        restore.restoredPeers[name] = RestoredPeer(untilMs: Clock.nowMs() + Self.peerResyncMs, gaps: peering.streamIn)
        if epoch > known, restore.streamEpochs[name, default: StreamEpoch()].epoch == 0,
           peering.expectedIn(from: name) > 1 || peering.held(from: name) > 0 {
            // Its stream to us was followed without an epoch (its RELAYs came before it had one):
            // rule 3 cannot see that it starts again, its HELLO shows it. Its new epoch numbers from 1.
            try startNewEpoch(origin: name, epoch: epoch, ref: .zero)
        }
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
            for e in entries {
                self.peering.journalled(e)
                // Waiting in the journal again: its sender's quota counts it again (its RELAYED takes it off once more).
                if e.origin == self.config.name { self.quotas.changeSender(e.envelope.from, count: 1, bytes: e.envelope.encodedSize) }
            }
            self.restore.retained = max(0, self.restore.retained - count)
            self.restore.resent += UInt64(entries.count)
        }
    }

    // MARK: retention

    /// The next hop acknowledged `jid`: kept for `relay_retention_hours` (never a burn
    /// message's content, which must be gone from every node it passed), else deleted.
    func finishJournalEntry(_ jid: UInt64, _ entry: RelayJournal.Entry?, ackedBy peer: String) throws {
        let keep = config.relayRetentionHours > 0 && entry.map { burnInside($0.envelope) == nil } == true
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
            let next = peering.expectedIn(from: origin)
            try write(ref: envelope.id) { try store.setStreamEpoch(origin: origin, next: next, st) }
            restore.streamEpochs[origin] = st
            return true
        }
        guard let to = Address(envelope.to) else { return false }
        if epoch > st.epoch {
            try startNewEpoch(origin: origin, epoch: epoch, ref: envelope.id)
            return true
        }
        // An envelope of an earlier epoch, still on its way (a journal that was restored, a slow path).
        if epoch == st.previousEpoch {
            let repeated = try streamSeq < st.previousNext || store.isOldEpochSeq(origin: origin, seq: streamSeq)
            if repeated {
                counters.duplicates += 1
                return false
            }
            if streamSeq == st.previousNext {
                // Where the old epoch stood moves past it and past the seqs above it already delivered.
                var prev = st.previousNext
                try write(ref: envelope.id) {
                    prev = min(prev + 1, Self.maxStreamCounter)
                    while prev < Self.maxStreamCounter, try store.removeOldEpochSeq(origin: origin, seq: prev) { prev += 1 }
                }
                st.previousNext = prev
                let next = peering.expectedIn(from: origin)
                try write(ref: envelope.id) { try store.setStreamEpoch(origin: origin, next: next, st) }
                restore.streamEpochs[origin] = st
            } else {
                let seq = streamSeq
                var remembered = true
                try write(ref: envelope.id) { remembered = try store.addOldEpochSeq(origin: origin, seq: seq, limit: Self.oldEpochSeqLimit) }
                if !remembered {
                    logger.warning("too many out-of-order envelopes of an origin's previous epoch: a copy sent again may be stored twice",
                                   metadata: ["origin": "\(origin)", "stream_seq": "\(seq)"])
                }
            }
        }
        restore.lateOldEpoch += 1
        var w = WireWriter(capacity: envelope.encodedSize)
        envelope.encode(into: &w)
        try appendRelayed(recipient: to.local, envelope: envelope, bytes: w.bytes)
        return false
    }

    /// The origin started epoch `epoch` (13.8 rule 3): what is held of its stream goes to its
    /// recipients now, the old epoch is remembered, and the stream starts again at 1.
    func startNewEpoch(origin: String, epoch: UInt64, ref: MessageID) throws {
        var st = restore.streamEpochs[origin] ?? StreamEpoch()
        // The origin was restored: it numbers from 1 again. What is held of its old epoch
        // will never be completed in order: it goes to its recipients now, never held for good.
        var held: [(seq: UInt64, recipient: String, envelope: [UInt8])] = []
        try write(ref: ref) { held = try store.takeAllHeld(origin: origin) }
        for h in held {
            var r = WireReader(h.envelope)
            if let e = try? Envelope.decode(from: &r) { try appendRelayed(recipient: h.recipient, envelope: e, bytes: h.envelope) }
        }
        // Gaps below what was held may still come, late, as envelopes of the old epoch.
        let expectedOld = peering.expectedIn(from: origin)
        let missing = held.last.map { $0.seq >= expectedOld ? ($0.seq - expectedOld + 1) &- UInt64(held.count) : 0 } ?? 0
        // The old epoch before it is forgotten; the released seqs (all above where the old one
        // stood) are remembered, so a copy of one sent again is a repeat (rule 4).
        try write(ref: ref) {
            try store.clearOldEpochSeqs(origin: origin)
            for h in held {
                guard try store.addOldEpochSeq(origin: origin, seq: h.seq, limit: Self.oldEpochSeqLimit) else { break }
            }
        }
        restore.gapAt[origin] = 0
        // A stream that starts again has no gap left by a restore.
        for peer in restore.restoredPeers.keys { restore.restoredPeers[peer]?.gaps[origin] = 0 }
        logger.notice("origin started a new stream epoch (restored from a backup?): its stream starts again",
                      metadata: ["origin": "\(origin)", "released_held": "\(held.count)", "gaps": "\(missing)"])
        restore.released += UInt64(held.count)
        st = StreamEpoch(epoch: epoch, previousEpoch: st.epoch, previousNext: peering.startedEpoch(origin: origin))
        try write(ref: ref) {
            try store.setStreamEpoch(origin: origin, next: 1, st)
            try store.setRestoreGap(origin: origin, at: 0)
        }
        restore.streamEpochs[origin] = st
    }

    func noteLost(origin: String, seqs: ClosedRange<UInt64>) throws {
        let now = Clock.nowMs()
        let span = seqs.upperBound - seqs.lowerBound
        let count = span >= UInt64(Int.max) ? Int.max : Int(span) + 1
        try write(ref: .zero) { try store.addStreamLoss(origin: origin, count: count, at: now) }
        restore.lost[origin] = Self.saturatingAdd(restore.lost[origin, default: 0], count)
        // Their recipients are not known here: the envelopes never came back. Their senders'
        // node (origin) and the numbers are, for the operators of both units.
        logger.error("envelopes lost for good in a restore: no node can send them again",
                     metadata: ["origin": "\(origin)", "count": "\(count)", "stream_seqs": "\(seqs.lowerBound)...\(seqs.upperBound)"])
    }

    /// After a failed commit: the epochs back as the database has them.
    func reloadRestoreState() {
        restore.streamEpochs = (try? store.streamEpochs()) ?? restore.streamEpochs
        restore.lost = (try? store.streamLosses()) ?? restore.lost
        restore.gapAt = (try? store.restoreGaps()) ?? restore.gapAt
    }

    static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? Int.min : Int.max) : sum
    }

    /// True when the gap at `origin`'s expected seq is one a restore left: this node's own (the
    /// stream is still where the backup stood) or a restored peer's (still where it stood at the
    /// peer's new epoch). A gap that opens later is a late envelope, never given up.
    func isRestoreGap(origin: String, expected: UInt64, restoredLately: Bool) -> Bool {
        if restoredLately && restore.gapAt[origin, default: 1] == expected { return true }
        for (peer, p) in restore.restoredPeers where p.gaps[origin, default: 1] == expected {
            if origin == peer || peering.routeTable.nextHop(to: origin) == peer { return true }
        }
        return false
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
        restore.restoredPeers = restore.restoredPeers.filter { $0.value.untilMs > nowMs }
        guard restoredLately || !restore.restoredPeers.isEmpty, !batch.isOpen else { return }
        for (origin, count) in peering.heldCount where count > 0 {
            let expectedNow = peering.expectedIn(from: origin)
            guard isRestoreGap(origin: origin, expected: expectedNow, restoredLately: restoredLately) else {
                restore.progress[origin] = nil
                continue
            }
            guard let p = restore.progress[origin], p.next == expectedNow else {
                restore.progress[origin] = (expectedNow, nowMs)
                continue
            }
            // A restored node waits this long (30 s) for a gap to be filled by its peers' kept copies.
            guard nowMs &- p.sinceMs >= config.restoreGapGraceMs else { continue }
            do {
                guard let lowest = try store.lowestHeld(origin: origin) else { continue }
                let expected = peering.expectedIn(from: origin)
                guard lowest > expected else { continue }
                try noteLost(origin: origin, seqs: expected...(lowest - 1))
                var next = lowest
                while peering.held(from: origin) > 0 {
                    var held: (recipient: String, envelope: [UInt8])?
                    let seq = next
                    try write(ref: .zero) { held = try store.takeHeld(origin: origin, streamSeq: seq) }
                    guard let held else { break }
                    peering.released(from: origin)
                    guard seq < Self.maxStreamCounter else {
                        // The counter past it could not be stored: refused, and the stream stays at its end.
                        counters.rejectedRelays += 1
                        logger.warning("held envelope at the last stream_seq dropped", metadata: ["origin": "\(origin)"])
                        break
                    }
                    var r = WireReader(held.envelope)
                    if let e = try? Envelope.decode(from: &r) { try appendRelayed(recipient: held.recipient, envelope: e, bytes: held.envelope) }
                    next += 1
                }
                peering.acceptedIn(from: origin, through: next)
                restore.progress[origin] = nil
            } catch {
                logger.error("cannot give up a gap in the stream from \(origin): \(error)")
            }
        }
        if batch.isOpen { finishCycle() }
    }

    func restoreStatus() -> NodeStatus.Restore {
        NodeStatus.Restore(
            epoch: restore.ownEpoch,
            restoredAt: restore.restoredAtMs == 0 ? nil : Clock.rfc3339(ms: restore.restoredAtMs),
            retained: restore.retained, retentionHours: config.relayRetentionHours,
            resent: Int(clamping: restore.resent), released: Int(clamping: restore.released),
            lateOldEpoch: Int(clamping: restore.lateOldEpoch),
            lost: restore.lost.values.reduce(0, Self.saturatingAdd), lostByStream: restore.lost)
    }
}
