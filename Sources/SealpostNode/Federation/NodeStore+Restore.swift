import SQLite
import SealpostCore

/// What a stream from one origin looks like at this node beyond its next seq:
/// the origin's epoch it follows, and the epoch before it with where it stopped.
struct StreamEpoch: Equatable {
    var epoch: UInt64 = 0
    var previousEpoch: UInt64 = 0
    var previousNext: UInt64 = 0
}

/// A journal row kept after the next hop's RELAYED, for a peer that is restored.
struct RetainedRow {
    var row: JournalRow
    var epoch: UInt64
}

extension NodeStore {
    /// Stream epochs, relayed-envelope retention, durable announcement counters.
    func migrateTo12() throws {
        let now = Int64(Clock.nowMs())
        try db.transaction {
            try db.execute("""
                -- The origin's stream epoch of each journal entry; who acknowledged it, and when,
                -- for entries kept after RELAYED (relay_retention_hours).
                ALTER TABLE journal ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE journal ADD COLUMN acked_by TEXT;
                ALTER TABLE journal ADD COLUMN acked_at INTEGER;
                CREATE INDEX IF NOT EXISTS journal_retained ON journal(acked_by, acked_at) WHERE acked_at IS NOT NULL;
                -- The origin's epoch each incoming stream follows (0: not known yet), and the one before.
                ALTER TABLE stream_in ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE stream_in ADD COLUMN prev_epoch INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE stream_in ADD COLUMN prev_next INTEGER NOT NULL DEFAULT 0;
                -- The last stream epoch each peer said in HELLO.
                CREATE TABLE IF NOT EXISTS peer_epochs(name TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;
                -- Envelopes of a stream that no node can send again (a restore), per origin.
                CREATE TABLE IF NOT EXISTS stream_losses(origin TEXT PRIMARY KEY, lost INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
                INSERT OR IGNORE INTO meta(key, value) VALUES('stream_epoch', \(now));
                PRAGMA user_version = 12;
                """)
        }
    }

    /// Where each incoming stream stood at the last restore (the one gap a restore may give up),
    /// and the seqs of an origin's previous epoch delivered above `prev_next`.
    func migrateTo13() throws {
        try db.transaction {
            try db.execute("""
                -- The expected seq of the stream when this node was last restored (the gap the restore
                -- left starts there); 1 for a stream first heard after it; 0: none any more (a new epoch).
                ALTER TABLE stream_in ADD COLUMN gap_at INTEGER NOT NULL DEFAULT 1;
                -- Seqs of the origin's previous epoch delivered out of order above prev_next: repeats of them are dropped.
                CREATE TABLE IF NOT EXISTS old_epoch_seqs(origin TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(origin, seq)) WITHOUT ROWID;
                PRAGMA user_version = 13;
                """)
        }
    }

    // MARK: epochs

    /// This node's stream epoch (made by `init` or the migration, new after each restore).
    func streamEpoch() throws -> UInt64 { UInt64(try meta("stream_epoch") ?? 0) }

    func streamEpochs() throws -> [String: StreamEpoch] {
        var out: [String: StreamEpoch] = [:]
        for (origin, e) in try db.query("SELECT origin, epoch, prev_epoch, prev_next FROM stream_in", map: {
            ($0.text(0), StreamEpoch(epoch: UInt64($0.int(1)), previousEpoch: UInt64($0.int(2)), previousNext: UInt64($0.int(3))))
        }) { out[origin] = e }
        return out
    }

    func setStreamEpoch(origin: String, next: UInt64, _ e: StreamEpoch) throws {
        try db.run("""
            INSERT INTO stream_in(origin, next_seq, epoch, prev_epoch, prev_next) VALUES(?,?,?,?,?)
            ON CONFLICT(origin) DO UPDATE SET next_seq = excluded.next_seq, epoch = excluded.epoch,
              prev_epoch = excluded.prev_epoch, prev_next = excluded.prev_next
            """, .text(origin), .int(Int64(next)), .int(Int64(e.epoch)), .int(Int64(e.previousEpoch)), .int(Int64(e.previousNext)))
    }

    /// Per origin, the seq the gap a restore left starts at (section 13.8); 0 when there is none.
    func restoreGaps() throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (origin, at) in try db.query("SELECT origin, gap_at FROM stream_in", map: { ($0.text(0), UInt64(clamping: $0.int(1))) }) {
            out[origin] = at
        }
        return out
    }

    func setRestoreGap(origin: String, at: UInt64) throws {
        try db.run("UPDATE stream_in SET gap_at = ? WHERE origin = ?", .int(Int64(clamping: at)), .text(origin))
    }

    /// True when `seq` of the origin's previous epoch was delivered above `prev_next`.
    func isOldEpochSeq(origin: String, seq: UInt64) throws -> Bool {
        try db.first("SELECT 1 FROM old_epoch_seqs WHERE origin = ? AND seq = ?", .text(origin), .int(Int64(clamping: seq))) { _ in true } ?? false
    }

    /// Records `seq` of the origin's previous epoch as delivered; false when `limit` seqs are recorded already.
    func addOldEpochSeq(origin: String, seq: UInt64, limit: Int) throws -> Bool {
        let count = try db.first("SELECT COUNT(*) FROM old_epoch_seqs WHERE origin = ?", .text(origin)) { $0.int(0) } ?? 0
        guard count < limit else { return false }
        try db.run("INSERT OR IGNORE INTO old_epoch_seqs(origin, seq) VALUES(?,?)", .text(origin), .int(Int64(clamping: seq)))
        return true
    }

    func removeOldEpochSeq(origin: String, seq: UInt64) throws -> Bool {
        try db.run("DELETE FROM old_epoch_seqs WHERE origin = ? AND seq = ?", .text(origin), .int(Int64(clamping: seq))) == 1
    }

    /// Forgets the previous epoch's seqs of `origin` (it starts another epoch).
    func clearOldEpochSeqs(origin: String) throws {
        try db.run("DELETE FROM old_epoch_seqs WHERE origin = ?", .text(origin))
    }

    func peerEpochs() throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (k, v) in try db.query("SELECT name, epoch FROM peer_epochs", map: { ($0.text(0), UInt64($0.int(1))) }) { out[k] = v }
        return out
    }

    func setPeerEpoch(name: String, epoch: UInt64) throws {
        try db.run("INSERT INTO peer_epochs(name, epoch) VALUES(?,?) ON CONFLICT(name) DO UPDATE SET epoch = excluded.epoch",
                   .text(name), .int(Int64(epoch)))
    }

    func streamLosses() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (k, v) in try db.query("SELECT origin, lost FROM stream_losses", map: { ($0.text(0), Int($0.int(1))) }) { out[k] = v }
        return out
    }

    func addStreamLoss(origin: String, count: Int, at: UInt64) throws {
        try db.run("""
            INSERT INTO stream_losses(origin, lost, at) VALUES(?,?,?)
            ON CONFLICT(origin) DO UPDATE SET
              lost = CASE WHEN lost > 9223372036854775807 - excluded.lost THEN 9223372036854775807 ELSE lost + excluded.lost END,
              at = excluded.at
            """, .text(origin), .int(Int64(clamping: count)), .int(Int64(clamping: at)))
    }

    /// Held envelopes of `origin`, in stream order (they are let go when the origin starts a new epoch).
    func takeAllHeld(origin: String) throws -> [(seq: UInt64, recipient: String, envelope: [UInt8])] {
        let rows = try db.query("SELECT stream_seq, recipient, envelope FROM held WHERE origin = ? ORDER BY stream_seq",
                                .text(origin)) { (UInt64($0.int(0)), $0.text(1), $0.blob(2)) }
        try db.run("DELETE FROM held WHERE origin = ?", .text(origin))
        return rows
    }

    func lowestHeld(origin: String) throws -> UInt64? {
        try db.first("SELECT MIN(stream_seq) FROM held WHERE origin = ?", .text(origin)) { $0.isNull(0) ? nil : UInt64($0.int(0)) } ?? nil
    }

    // MARK: retention

    /// A journal entry the next hop acknowledged: kept until `relay_retention_hours` pass.
    func retainJournal(_ jid: UInt64, ackedBy peer: String, at: UInt64) throws {
        try db.run("UPDATE journal SET acked_by = ?, acked_at = ? WHERE jid = ?", .text(peer), .int(Int64(at)), .int(Int64(jid)))
    }

    /// Entries `peer` acknowledged since `since`, put back in the journal (the peer was restored).
    func unretainJournal(ackedBy peer: String, since: UInt64) throws -> [RetainedRow] {
        let rows = try db.query("""
            SELECT jid, dest, origin, stream_seq, hops, envelope, created_at, epoch FROM journal
            WHERE acked_by = ? AND acked_at >= ? ORDER BY jid
            """, .text(peer), .int(Int64(since))) { s in
            RetainedRow(row: JournalRow(jid: UInt64(s.int(0)), dest: s.text(1), origin: s.text(2), streamSeq: UInt64(s.int(3)),
                                        hops: UInt8(clamping: s.int(4)), envelope: s.blob(5), createdAt: UInt64(s.int(6))),
                        epoch: UInt64(s.int(7)))
        }
        try db.run("UPDATE journal SET acked_by = NULL, acked_at = NULL WHERE acked_by = ? AND acked_at >= ?",
                   .text(peer), .int(Int64(since)))
        return rows
    }

    /// Forgets retained entries acknowledged before `cutoff`; returns how many.
    func pruneRetained(before cutoff: UInt64) throws -> Int {
        try db.run("DELETE FROM journal WHERE acked_at IS NOT NULL AND acked_at < ?", .int(Int64(cutoff)))
    }

    func retainedCount() throws -> Int {
        Int(try db.first("SELECT COUNT(*) FROM journal WHERE acked_at IS NOT NULL") { $0.int(0) } ?? 0)
    }

    /// The epochs of the journal's waiting entries (those not acknowledged), by jid.
    func journalEpochs() throws -> [UInt64: UInt64] {
        var out: [UInt64: UInt64] = [:]
        for (jid, epoch) in try db.query("SELECT jid, epoch FROM journal WHERE acked_at IS NULL AND epoch != 0",
                                         map: { (UInt64($0.int(0)), UInt64($0.int(1))) }) { out[jid] = epoch }
        return out
    }

    func setJournalEpoch(_ jid: UInt64, epoch: UInt64) throws {
        try db.run("UPDATE journal SET epoch = ? WHERE jid = ?", .int(Int64(epoch)), .int(Int64(jid)))
    }

    // MARK: announcement counters

    /// The end of the announcement seqs (ROUTES and SUMMARY) reserved (`ReservedSeqs`): past
    /// every one used before. A node that has none yet starts from its clock (so peers that
    /// remember the clock-based seqs of earlier releases accept it).
    func announcementSeqReservation(now: UInt64) throws -> UInt64 {
        try meta("announce_seq").map { UInt64(max($0, 0)) } ?? (now << 20)
    }

    func setAnnouncementSeqReservation(_ end: UInt64) throws {
        try setMeta("announce_seq", Int64(end))
    }

    // MARK: restore

    /// Makes a database copied back from a backup safe to run: a new stream epoch (peers
    /// reset what they expect from this node and send again what they kept for it), its own
    /// streams from 1 again, announcement seqs and directory version past anything the lost
    /// copy could have sent, and the time of the restore.
    public func markRestored(now: UInt64) throws -> UInt64 {
        try db.transaction {
            let old = try streamEpoch()
            let epoch = max(old + 1, now)
            try setMeta("stream_epoch", Int64(epoch))
            try setMeta("restored_at", Int64(now))
            let seq = max(try meta("announce_seq").map { UInt64($0) } ?? 0, now << 20)
            try setMeta("announce_seq", Int64(seq))
            try db.run("DELETE FROM stream_out")
            // The gap this restore leaves in each incoming stream starts where the backup stood.
            try db.run("UPDATE stream_in SET gap_at = next_seq")
            // Peers hold this node's directory at the version the lost copy had reached:
            // a higher one makes them fetch it again (users enrolled after the backup go).
            let users = try db.first("SELECT COUNT(*) FROM users") { $0.int(0) } ?? 0
            let version = UInt64(try meta("directory_version") ?? users)
            try setMeta("directory_version", Int64(max(version + 1, now)))
            return epoch
        }
    }
}
