import SQLite
import SealpostCore

/// Burn after reading: burn messages held for this node's users apart from the
/// mailbox, what became of them (viewed or expired, per recipient), and the ids
/// of every burn message this node handled (so nothing may quote one).
extension NodeStore {
    /// Burn messages and their records.
    func migrateTo6() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS burns(
                    rid INTEGER PRIMARY KEY, recipient TEXT NOT NULL, id BLOB NOT NULL, sender TEXT NOT NULL,
                    expires_at INTEGER NOT NULL, stored_at INTEGER NOT NULL, envelope BLOB NOT NULL);
                CREATE UNIQUE INDEX IF NOT EXISTS burns_by_recipient ON burns(recipient, id);
                CREATE INDEX IF NOT EXISTS burns_by_expiry ON burns(expires_at);
                CREATE TABLE IF NOT EXISTS burn_log(
                    id BLOB NOT NULL, recipient TEXT NOT NULL, event INTEGER NOT NULL, at INTEGER NOT NULL,
                    PRIMARY KEY(id, recipient)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS burn_ids(id BLOB PRIMARY KEY, sender TEXT NOT NULL, seen_at INTEGER NOT NULL) WITHOUT ROWID;
                PRAGMA user_version = 6;
                """)
        }
    }

    /// Keeps a burn message for `recipient` until it is viewed or expires; false when it is already kept or was burned.
    func insertBurn(recipient: String, id: MessageID, sender: String, expiresAt: UInt64, at: UInt64, envelope: [UInt8]) throws -> Bool {
        if try burnRecord(recipient: recipient, id: id) != nil { return false }
        return try db.run("INSERT OR IGNORE INTO burns(recipient, id, sender, expires_at, stored_at, envelope) VALUES(?,?,?,?,?,?)",
                          .text(recipient), .blob(id.bytes), .text(sender), .int(Int64(expiresAt)), .int(Int64(at)),
                          .blob(envelope)) == 1
    }

    /// Removes a kept burn message (secure_delete zeroes its pages) and returns it with its sender.
    func takeBurn(recipient: String, id: MessageID) throws -> (sender: String, envelope: [UInt8])? {
        guard let row = try db.first("SELECT sender, envelope FROM burns WHERE recipient = ? AND id = ?",
                                     .text(recipient), .blob(id.bytes), map: { ($0.text(0), $0.blob(1)) }) else { return nil }
        _ = try deleteBurn(recipient: recipient, id: id)
        return row
    }

    /// The burn messages kept for `recipient` (id, sender, envelope).
    func burns(recipient: String) throws -> [(id: MessageID, sender: String, envelope: [UInt8])] {
        try db.query("SELECT id, sender, envelope FROM burns WHERE recipient = ?", .text(recipient)) { s in
            (MessageID(bytes: s.blob(0)) ?? .zero, s.text(1), s.blob(2))
        }
    }

    /// Deletes a kept burn message without reading it; false when there was none.
    func deleteBurn(recipient: String, id: MessageID) throws -> Bool {
        try db.run("DELETE FROM burns WHERE recipient = ? AND id = ?", .text(recipient), .blob(id.bytes)) == 1
    }

    /// Burn messages whose time is up, oldest first.
    func expiredBurns(now: UInt64, limit: Int) throws -> [(recipient: String, id: MessageID, sender: String)] {
        try db.query("SELECT recipient, id, sender FROM burns WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
                     .int(Int64(now)), .int(Int64(limit))) { s in (s.text(0), MessageID(bytes: s.blob(1)) ?? .zero, s.text(2)) }
    }

    func nextBurnExpiry() throws -> UInt64? {
        try db.first("SELECT MIN(expires_at) FROM burns") { $0.isNull(0) ? nil : UInt64($0.int(0)) } ?? nil
    }

    func burnCount() throws -> Int {
        Int(try db.first("SELECT COUNT(*) FROM burns") { $0.int(0) } ?? 0)
    }

    /// Records that `recipient`'s copy is gone (viewed or expired).
    func logBurn(id: MessageID, recipient: String, event: Burn.Receipt.Event, at: UInt64) throws {
        try db.run("INSERT OR REPLACE INTO burn_log(id, recipient, event, at) VALUES(?,?,?,?)",
                   .blob(id.bytes), .text(recipient), .int(Int64(event.rawValue)), .int(Int64(at)))
    }

    func burnRecord(recipient: String, id: MessageID) throws -> (event: Burn.Receipt.Event, at: UInt64)? {
        try db.first("SELECT event, at FROM burn_log WHERE id = ? AND recipient = ?", .blob(id.bytes), .text(recipient)) { s in
            (Burn.Receipt.Event(rawValue: UInt8(truncatingIfNeeded: s.int(0))) ?? .viewed, UInt64(s.int(1)))
        }
    }

    /// Remembers that this node handled burn message `id` (as origin, relay, home or recipient's node).
    func noteBurnID(_ id: MessageID, sender: String, at: UInt64) throws {
        try db.run("INSERT OR IGNORE INTO burn_ids(id, sender, seen_at) VALUES(?,?,?)", .blob(id.bytes), .text(sender), .int(Int64(at)))
    }

    func isBurnID(_ id: MessageID) throws -> Bool {
        try db.first("SELECT 1 FROM burn_ids WHERE id = ?", .blob(id.bytes)) { _ in true } ?? false
    }

    /// Forgets burn records older than `cutoff` (the deduplication window).
    func pruneBurnRecords(olderThan cutoff: UInt64) throws {
        try db.run("DELETE FROM burn_log WHERE at < ?", .int(Int64(cutoff)))
        try db.run("DELETE FROM burn_ids WHERE seen_at < ?", .int(Int64(cutoff)))
    }
}

extension NodeStore {
    /// View-once files: which offer (burn message id) and sender a file belongs to, and the
    /// neighbouring nodes expected to pull it from here.
    func migrateTo8() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS burn_files(
                    file_id BLOB PRIMARY KEY, message BLOB NOT NULL, sender TEXT NOT NULL, pullers TEXT NOT NULL,
                    seen_at INTEGER NOT NULL) WITHOUT ROWID;
                PRAGMA user_version = 8;
                """)
        }
    }

    func noteBurnFile(_ id: FileID, message: MessageID, sender: String, pullers: [String], at: UInt64) throws {
        try db.run("""
            INSERT INTO burn_files(file_id, message, sender, pullers, seen_at) VALUES(?,?,?,?,?)
            ON CONFLICT(file_id) DO UPDATE SET pullers = excluded.pullers
            """, .blob(id.bytes), .blob(message.bytes), .text(sender), .text(pullers.joined(separator: ",")), .int(Int64(at)))
    }

    func burnFiles() throws -> [(id: FileID, message: MessageID, sender: String, pullers: [String])] {
        try db.query("SELECT file_id, message, sender, pullers FROM burn_files") { s in
            (FileID(bytes: s.blob(0)) ?? FileID(bytes: [UInt8](repeating: 0, count: 16))!, MessageID(bytes: s.blob(1)) ?? .zero,
             s.text(2), s.text(3).split(separator: ",").map(String.init))
        }
    }

    func forgetBurnFile(_ id: FileID) throws {
        try db.run("DELETE FROM burn_files WHERE file_id = ?", .blob(id.bytes))
    }
}

extension NodeStore {
    /// Takes every piece of burn-after-reading content out of a database copy (a backup
    /// being taken, or one being restored): burn messages kept for viewing and the view-once
    /// files' records. Each recipient's copy is logged as expired at `now`, so its notice
    /// shows "burned: it expired" rather than coming back viewable after a restore. Returns
    /// how many burn messages went and the ids of the view-once files (whose chunk files the
    /// caller leaves out or deletes). Runs in one transaction, with secure_delete on.
    static func dropBurnContent(_ db: Database, at now: UInt64) throws -> (messages: Int, files: [FileID]) {
        try db.execute("PRAGMA secure_delete=ON")
        var count = 0
        var files: [FileID] = []
        try db.transaction {
            let kept = try db.query("SELECT recipient, id FROM burns") { s in (s.text(0), s.blob(1)) }
            for (recipient, id) in kept {
                _ = try db.run("INSERT OR REPLACE INTO burn_log(id, recipient, event, at) VALUES(?,?,?,?)",
                           .blob(id), .text(recipient), .int(Int64(Burn.Receipt.Event.expired.rawValue)), .int(Int64(now)))
            }
            count = kept.count
            _ = try db.run("DELETE FROM burns")
            let ids = try db.query("SELECT file_id FROM burn_files") { $0.blob(0) }
            for id in ids {
                let readers = try db.query("SELECT reader FROM file_readers WHERE id = ?", .blob(id)) { StoredFile.Reader(stored: $0.text(0)) }
                for case .user(let name)? in readers {
                    _ = try db.run("INSERT OR REPLACE INTO burn_log(id, recipient, event, at) VALUES(?,?,?,?)",
                               .blob(id), .text(name),
                               .int(Int64(Burn.Receipt.Event.expired.rawValue)), .int(Int64(now)))
                }
                _ = try db.run("DELETE FROM file_readers WHERE id = ?", .blob(id))
                _ = try db.run("DELETE FROM file_chunks WHERE id = ?", .blob(id))
                _ = try db.run("DELETE FROM files WHERE id = ?", .blob(id))
                if let fid = FileID(bytes: id) { files.append(fid) }
            }
            _ = try db.run("DELETE FROM burn_files")
        }
        return (count, files)
    }
}
