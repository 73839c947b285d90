import SQLite
import SealpostCore

/// Labels: a group's label, and the envelopes whose label gives them a "readable until".
extension NodeStore {
    /// Groups have a label (NULL: the node's default); envelopes with a readable-until time in a
    /// mailbox are listed so the node deletes them then, as it does unviewed burn content.
    func migrateTo18() throws {
        try db.transaction {
            try db.execute("""
                ALTER TABLE groups ADD COLUMN label INTEGER;
                CREATE TABLE IF NOT EXISTS label_expiry(
                    recipient TEXT NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL, sender TEXT NOT NULL,
                    until INTEGER NOT NULL, PRIMARY KEY(recipient, seq)) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS label_expiry_until ON label_expiry(until);
                PRAGMA user_version = 18;
                """)
        }
    }

    /// The highest label a file was offered under here, checked again when a person downloads it.
    func migrateTo19() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS file_labels(id BLOB PRIMARY KEY, label INTEGER NOT NULL) WITHOUT ROWID;
                PRAGMA user_version = 19;
                """)
        }
    }

    /// When a file goes at the readable-until time of the messages that refer to it here
    /// (0: never by that rule), and whether it went (SPEC 7.11.9).
    func migrateTo20() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS file_expiry(
                    id BLOB PRIMARY KEY, until INTEGER NOT NULL, gone INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
                PRAGMA user_version = 20;
                """)
        }
    }

    func setFileExpiry(_ id: FileID, until: UInt64) throws {
        try db.run("INSERT INTO file_expiry(id, until) VALUES(?,?) ON CONFLICT(id) DO UPDATE SET until = excluded.until WHERE gone = 0",
                   .blob(id.bytes), .int(Int64(until)))
    }

    func fileExpiry(_ id: FileID) throws -> (until: UInt64, gone: Bool)? {
        try db.first("SELECT until, gone FROM file_expiry WHERE id = ?", .blob(id.bytes)) { (UInt64(max(0, $0.int(0))), $0.int(1) != 0) }
    }

    func markFileExpired(_ id: FileID) throws {
        try db.run("UPDATE file_expiry SET gone = 1 WHERE id = ?", .blob(id.bytes))
    }

    /// A file removed by another rule: a row with no time is forgotten.
    func forgetFileExpiry(_ id: FileID) throws {
        try db.run("DELETE FROM file_expiry WHERE id = ? AND until = 0 AND gone = 0", .blob(id.bytes))
    }

    func fileExpiries() throws -> FileExpiry {
        var until: [FileID: UInt64] = [:], gone: Set<FileID> = []
        for (bytes, time, isGone) in try db.query("SELECT id, until, gone FROM file_expiry", map: { ($0.blob(0), $0.int(1), $0.int(2)) }) {
            guard let id = FileID(bytes: bytes) else { continue }
            if isGone != 0 { gone.insert(id) } else { until[id] = UInt64(max(0, time)) }
        }
        return FileExpiry(until: until, gone: gone)
    }

    func noteFileLabel(_ id: FileID, label: UInt8) throws {
        try db.run("INSERT INTO file_labels(id, label) VALUES(?,?) ON CONFLICT(id) DO UPDATE SET label = max(label, excluded.label)",
                   .blob(id.bytes), .int(Int64(label)))
    }

    func fileLabel(_ id: FileID) throws -> UInt8? {
        try db.first("SELECT label FROM file_labels WHERE id = ?", .blob(id.bytes)) { UInt8(clamping: $0.int(0)) }
    }

    func groupLabels() throws -> [String: UInt8] {
        var out: [String: UInt8] = [:]
        for (name, label) in try db.query("SELECT name, label FROM groups WHERE label IS NOT NULL", map: { ($0.text(0), $0.int(1)) }) {
            out[name] = UInt8(clamping: label)
        }
        return out
    }

    func setGroupLabel(_ name: String, label: UInt8) throws {
        try db.run("UPDATE groups SET label = ? WHERE name = ?", .int(Int64(label)), .text(name))
    }

    /// Replaces a local user's signed directory entry (a new clearance).
    func replaceUserEntry(_ name: String, entry: [UInt8]) throws -> Bool {
        try db.run("UPDATE users SET entry = ? WHERE name = ?", .blob(entry), .text(name)) == 1
    }

    // MARK: readable until

    func noteLabelExpiry(recipient: String, seq: UInt64, id: MessageID, sender: String, until: UInt64) throws {
        try db.run("INSERT OR IGNORE INTO label_expiry(recipient, seq, id, sender, until) VALUES(?,?,?,?,?)",
                   .text(recipient), .int(Int64(seq)), .blob(id.bytes), .text(sender), .int(Int64(until)))
    }

    /// Entries whose time has come, oldest first.
    func dueLabelExpiries(now: UInt64, limit: Int = 512) throws -> [(recipient: String, seq: UInt64, id: MessageID, sender: String)] {
        try db.query("SELECT recipient, seq, id, sender FROM label_expiry WHERE until <= ? ORDER BY until LIMIT ?",
                     .int(Int64(now)), .int(Int64(limit))) {
            ($0.text(0), UInt64($0.int(1)), MessageID(bytes: $0.blob(2)) ?? .zero, $0.text(3))
        }
    }

    func nextLabelExpiry() throws -> UInt64? {
        try db.first("SELECT MIN(until) FROM label_expiry") { $0.isNull(0) ? nil : UInt64($0.int(0)) } ?? nil
    }

    func forgetLabelExpiry(recipient: String, seq: UInt64) throws {
        try db.run("DELETE FROM label_expiry WHERE recipient = ? AND seq = ?", .text(recipient), .int(Int64(seq)))
    }

    /// The mailbox entry, if it is still waiting.
    func mailboxEntry(recipient: String, seq: UInt64) throws -> [UInt8]? {
        try db.first("SELECT envelope FROM mailbox WHERE recipient = ? AND seq = ?", .text(recipient), .int(Int64(seq))) { $0.blob(0) }
    }

    /// Deletes one mailbox entry (and its readable-until time); secure_delete zeroes its pages.
    func deleteMailboxEntry(recipient: String, seq: UInt64) throws {
        try db.run("DELETE FROM mailbox WHERE recipient = ? AND seq = ?", .text(recipient), .int(Int64(seq)))
        try forgetLabelExpiry(recipient: recipient, seq: seq)
    }

    func replaceMailboxEntry(recipient: String, seq: UInt64, envelope: [UInt8]) throws {
        try db.run("UPDATE mailbox SET envelope = ? WHERE recipient = ? AND seq = ?", .blob(envelope), .text(recipient), .int(Int64(seq)))
    }
}
