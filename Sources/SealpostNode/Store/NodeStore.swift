import Foundation
import SQLite
import SealpostCore

/// A user enrolled on this node.
public struct UserRecord: Sendable, Equatable {
    public var name: String
    public var display: String
    public var curveKey: [UInt8]
    public var boxKey: [UInt8]
    public var signKey: [UInt8]
    public var enrolledAt: UInt64
    /// The directory entry, signed by this node at enrolment (again at a re-key).
    public var entry: [UInt8]
    /// When the operator disabled the account (seconds since the epoch); nil while it is active.
    public var disabledAt: UInt64? = nil
}

/// An invite the operator issued.
public struct InviteRecord: Sendable, Equatable {
    public var id: String
    public var user: String
    public var curveKey: [UInt8]
    public var createdAt: UInt64
    public var expiresAt: UInt64
    public var usedAt: UInt64?
    public var usedBy: [UInt8]?
    /// A re-key invite: enrolling with it gives the existing user new keys (`users rekey`).
    public var rekey: Bool = false
}

/// The node's SQLite database (WAL, `synchronous=FULL`, `secure_delete`).
///
/// Used by one thread: the reactor, or a short-lived operator command. Writes of
/// one reactor cycle run inside one `begin()`…`commit()`.
public final class NodeStore {
    let db: Database
    public static let schemaVersion: Int64 = 20

    /// - Parameter secureDelete: benchmarks only turn it off, to measure what it costs.
    public init(path: String, readOnly: Bool = false, secureDelete: Bool = true) throws {
        do {
            db = try Database(path: path, readOnly: readOnly, create: !readOnly)
            if readOnly { return }
            try db.execute("""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=FULL;
                PRAGMA secure_delete=\(secureDelete ? "ON" : "OFF");
                PRAGMA foreign_keys=ON;
                PRAGMA cache_size=-32768;
                PRAGMA mmap_size=268435456;
                PRAGMA temp_store=MEMORY;
                """)
            try migrate()
        } catch let error as SQLiteError {
            throw Self.startupError(error, path: path)
        }
    }

    /// What an operator reads when the database cannot be opened or read at start:
    /// the file, what is wrong, and what to do about it.
    public static func startupError(_ error: SQLiteError, path: String) -> NodeError {
        let dir = (path as NSString).deletingLastPathComponent
        switch error.code & 0xff {
        case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
            return .storage("the node database \(path) is damaged (\(error.description)): stop the node, keep a copy of \(dir), "
                            + "and restore from a backup: sealpost-node restore --data \(dir) BACKUP_DIR (deploy/OPERATING.md, section 7)")
        case 13: // SQLITE_FULL
            return .storage("the disk holding \(path) is full (\(error.description)): free space there, then start the node again")
        case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
            return .storage("the node database \(path) is locked by another process: is another sealpost-node running on \(dir)?")
        case 3, 8, 14, 23: // SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_AUTH
            return .storage("cannot open the node database \(path) (\(error.description)): run the node as the user that owns \(dir), "
                            + "on a disk mounted read-write")
        case 10: // SQLITE_IOERR
            return .storage("cannot read the node database \(path) (\(error.description)): check the disk (dmesg); "
                            + "if the file is damaged, restore from a backup: sealpost-node restore --data \(dir) BACKUP_DIR")
        default:
            return .storage("cannot open the node database \(path): \(error.message)")
        }
    }

    public func close() { db.close() }

    /// Leaves checkpoints to a `Checkpointer` on another thread (the reactor's store).
    func disableAutoCheckpoint() throws {
        try db.execute("PRAGMA wal_autocheckpoint=0")
    }

    private func migrate() throws {
        let version = try db.first("PRAGMA user_version") { $0.int(0) } ?? 0
        if version > Self.schemaVersion {
            throw SQLiteError(code: 0, message: "the database has schema \(version), newer than this sealpost-node (\(Self.schemaVersion)); run the newer version")
        }
        if version >= Self.schemaVersion { return }
        if version < 1 { try migrateTo1() }
        if version < 2 { try migrateTo2() }
        if version < 3 { try migrateTo3() }
        if version < 4 { try migrateTo4() }
        if version < 5 { try migrateTo5() }
        if version < 6 { try migrateTo6() }
        if version < 7 { try migrateTo7() }
        if version < 8 { try migrateTo8() }
        if version < 9 { try migrateTo9() }
        if version < 10 { try migrateTo10() }
        if version < 11 { try migrateTo11() }
        if version < 12 { try migrateTo12() }
        if version < 13 { try migrateTo13() }
        if version < 14 { try migrateTo14() }
        if version < 15 { try migrateTo15() }
        if version < 16 { try migrateTo16() }
        if version < 17 { try migrateTo17() }
        if version < 18 { try migrateTo18() }
        if version < 19 { try migrateTo19() }
        if version < 20 { try migrateTo20() }
    }

    /// Groups whose home is this node, and their members.
    private func migrateTo5() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS groups(name TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS group_members(
                    grp TEXT NOT NULL, member TEXT NOT NULL, admin INTEGER NOT NULL, added_at INTEGER NOT NULL,
                    PRIMARY KEY(grp, member)) WITHOUT ROWID;
                PRAGMA user_version = 5;
                """)
        }
    }

    /// Reminders: the due notices this node owes its own users.
    private func migrateTo4() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS reminders(
                    user TEXT NOT NULL, reminder BLOB NOT NULL, due_at INTEGER NOT NULL, sender TEXT NOT NULL,
                    PRIMARY KEY(user, reminder)) WITHOUT ROWID;
                PRAGMA user_version = 4;
                """)
        }
    }

    /// Journal ids are never reused (AUTOINCREMENT): a late RELAYED for a deleted
    /// entry must not delete a newer one that took its id.
    private func migrateTo3() throws {
        let sql = try db.first("SELECT sql FROM sqlite_master WHERE name = 'journal'") { $0.text(0) } ?? ""
        try db.transaction {
            if !sql.contains("AUTOINCREMENT") {
                try db.execute("""
                    ALTER TABLE journal RENAME TO journal_v2;
                    CREATE TABLE journal(
                        jid INTEGER PRIMARY KEY AUTOINCREMENT, dest TEXT NOT NULL, origin TEXT NOT NULL,
                        stream_seq INTEGER NOT NULL, hops INTEGER NOT NULL, envelope BLOB NOT NULL,
                        created_at INTEGER NOT NULL);
                    INSERT INTO journal SELECT * FROM journal_v2;
                    DROP TABLE journal_v2;
                    """)
            }
            try db.execute("PRAGMA user_version = 3")
        }
    }

    /// Federation: the relay journal, per-destination streams, held (out of order)
    /// envelopes, and what this node knows of other nodes and their users.
    private func migrateTo2() throws {
        try db.transaction {
            try db.execute("""
                -- Envelopes on their way to another node, until the next hop acknowledged them.
                CREATE TABLE IF NOT EXISTS journal(
                    jid INTEGER PRIMARY KEY, dest TEXT NOT NULL, origin TEXT NOT NULL,
                    stream_seq INTEGER NOT NULL, hops INTEGER NOT NULL, envelope BLOB NOT NULL,
                    created_at INTEGER NOT NULL);
                -- Next stream seq this node gives envelopes it originates, per destination node.
                CREATE TABLE IF NOT EXISTS stream_out(dest TEXT PRIMARY KEY, next_seq INTEGER NOT NULL) WITHOUT ROWID;
                -- Next stream seq this node expects, per origin node.
                CREATE TABLE IF NOT EXISTS stream_in(origin TEXT PRIMARY KEY, next_seq INTEGER NOT NULL) WITHOUT ROWID;
                -- Envelopes that arrived ahead of a gap in their stream.
                CREATE TABLE IF NOT EXISTS held(
                    origin TEXT NOT NULL, stream_seq INTEGER NOT NULL, recipient TEXT NOT NULL, envelope BLOB NOT NULL,
                    PRIMARY KEY(origin, stream_seq)) WITHOUT ROWID;
                -- Other nodes: signing key pinned on first sight, directory version held.
                CREATE TABLE IF NOT EXISTS remote_nodes(
                    name TEXT PRIMARY KEY, sign_key BLOB NOT NULL, directory_version INTEGER NOT NULL,
                    first_seen INTEGER NOT NULL) WITHOUT ROWID;
                -- Their users' directory entries, each signed by its home node.
                CREATE TABLE IF NOT EXISTS remote_entries(
                    address TEXT PRIMARY KEY, home TEXT NOT NULL, entry BLOB NOT NULL) WITHOUT ROWID;
                PRAGMA user_version = 2;
                """)
        }
    }

    private func migrateTo1() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS users(
                    name TEXT PRIMARY KEY, display TEXT NOT NULL,
                    curve_key BLOB NOT NULL UNIQUE, box_key BLOB NOT NULL, sign_key BLOB NOT NULL,
                    enrolled_at INTEGER NOT NULL, entry BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS invites(
                    id TEXT PRIMARY KEY, user TEXT NOT NULL, curve_key BLOB NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                    used_at INTEGER, used_by BLOB);
                -- One B-tree keyed by (recipient, seq): a mailbox is read and emptied in order.
                CREATE TABLE IF NOT EXISTS mailbox(
                    recipient TEXT NOT NULL, seq INTEGER NOT NULL, envelope BLOB NOT NULL,
                    stored_at INTEGER NOT NULL, PRIMARY KEY(recipient, seq)) WITHOUT ROWID;
                -- Message ids seen per sender, to drop retransmitted duplicates.
                CREATE TABLE IF NOT EXISTS received(
                    sender TEXT NOT NULL, id BLOB NOT NULL, at INTEGER NOT NULL,
                    PRIMARY KEY(sender, id)) WITHOUT ROWID;
                PRAGMA user_version = 1;
                """)
        }
    }

    // MARK: transactions

    public func begin() throws { try db.execute("BEGIN IMMEDIATE") }
    public func commit() throws { try db.execute("COMMIT") }
    public func rollback() { try? db.execute("ROLLBACK") }

    // MARK: meta

    public func meta(_ key: String) throws -> Int64? {
        try db.first("SELECT value FROM meta WHERE key = ?", .text(key)) { $0.int(0) }
    }

    public func setMeta(_ key: String, _ value: Int64) throws {
        try db.run("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   .text(key), .int(value))
    }

    // MARK: users

    private func mapUser(_ s: Statement) -> UserRecord {
        UserRecord(name: s.text(0), display: s.text(1), curveKey: s.blob(2), boxKey: s.blob(3),
                   signKey: s.blob(4), enrolledAt: UInt64(s.int(5)), entry: s.blob(6),
                   disabledAt: s.isNull(7) ? nil : UInt64(s.int(7)))
    }

    public func users() throws -> [UserRecord] {
        try db.query("SELECT name, display, curve_key, box_key, sign_key, enrolled_at, entry, disabled_at FROM users ORDER BY name",
                     map: mapUser)
    }

    public func user(named name: String) throws -> UserRecord? {
        try db.first("SELECT name, display, curve_key, box_key, sign_key, enrolled_at, entry, disabled_at FROM users WHERE name = ?",
                     .text(name), map: mapUser)
    }

    public func insert(user u: UserRecord) throws {
        try db.run("INSERT INTO users(name, display, curve_key, box_key, sign_key, enrolled_at, entry) VALUES(?,?,?,?,?,?,?)",
                   .text(u.name), .text(u.display), .blob(u.curveKey), .blob(u.boxKey), .blob(u.signKey),
                   .int(Int64(u.enrolledAt)), .blob(u.entry))
    }

    public func curveKeyInUse(_ key: [UInt8]) throws -> Bool {
        try db.first("SELECT 1 FROM users WHERE curve_key = ? UNION ALL SELECT 1 FROM invites WHERE curve_key = ?",
                     .blob(key), .blob(key)) { _ in true } ?? false
    }

    // MARK: invites

    public func insert(invite i: InviteRecord) throws {
        try db.run("INSERT INTO invites(id, user, curve_key, created_at, expires_at, rekey) VALUES(?,?,?,?,?,?)",
                   .text(i.id), .text(i.user), .blob(i.curveKey), .int(Int64(i.createdAt)), .int(Int64(i.expiresAt)),
                   .int(i.rekey ? 1 : 0))
    }

    func mapInvite(_ s: Statement) -> InviteRecord {
        InviteRecord(id: s.text(0), user: s.text(1), curveKey: s.blob(2), createdAt: UInt64(s.int(3)),
                     expiresAt: UInt64(s.int(4)), usedAt: s.isNull(5) ? nil : UInt64(s.int(5)),
                     usedBy: s.isNull(6) ? nil : s.blob(6), rekey: s.int(7) != 0)
    }

    public func invite(curveKey: [UInt8]) throws -> InviteRecord? {
        try db.first("SELECT id, user, curve_key, created_at, expires_at, used_at, used_by, rekey FROM invites WHERE curve_key = ?",
                     .blob(curveKey), map: mapInvite)
    }

    public func invite(id: String) throws -> InviteRecord? {
        try db.first("SELECT id, user, curve_key, created_at, expires_at, used_at, used_by, rekey FROM invites WHERE id = ?",
                     .text(id), map: mapInvite)
    }

    public func markInviteUsed(id: String, at: UInt64, by curveKey: [UInt8]) throws {
        try db.run("UPDATE invites SET used_at = ?, used_by = ? WHERE id = ?", .int(Int64(at)), .blob(curveKey), .text(id))
    }

    /// Removes invites that expired more than a day ago.
    public func pruneInvites(now: UInt64) throws {
        try db.run("DELETE FROM invites WHERE expires_at < ?", .int(Int64(now) - 86_400))
    }

    // MARK: mailbox

    /// Records `(sender, id)`; false when it was seen before (a retransmission). `dest`: the node
    /// it goes to (`*` for a group), which a delivered receipt for it must come from (`sentDest`).
    public func markReceived(sender: String, id: MessageID, at: UInt64, dest: String = "") throws -> Bool {
        try db.run("INSERT OR IGNORE INTO received(sender, id, at, dest) VALUES(?,?,?,?)",
                   .text(sender), .blob(id.bytes), .int(Int64(at)), .text(dest)) == 1
    }

    public func pruneReceived(olderThan cutoff: UInt64) throws -> Int {
        try db.run("DELETE FROM received WHERE at < ?", .int(Int64(cutoff)))
    }

    /// `sender` is the envelope's `from`, for the sender's quota (section 6.5.1 of the spec).
    public func appendMailbox(recipient: String, seq: UInt64, envelope: [UInt8], at: UInt64, sender: String = "") throws {
        try db.run("INSERT INTO mailbox(recipient, seq, envelope, stored_at, sender) VALUES(?,?,?,?,?)",
                   .text(recipient), .int(Int64(seq)), .blob(envelope), .int(Int64(at)), .text(sender))
    }

    /// Up to `limit` mailbox entries of `recipient` after `seq`, oldest first.
    public func mailbox(recipient: String, after seq: UInt64, limit: Int) throws -> [(seq: UInt64, envelope: [UInt8])] {
        try db.query("SELECT seq, envelope FROM mailbox WHERE recipient = ? AND seq > ? ORDER BY seq LIMIT ?",
                     .text(recipient), .int(Int64(seq)), .int(Int64(limit))) { s in (UInt64(s.int(0)), s.blob(1)) }
    }

    /// Deletes the entries of `recipient` up to and including `seq`; returns how many.
    @discardableResult
    public func deleteMailbox(recipient: String, through seq: UInt64) throws -> Int {
        try db.run("DELETE FROM mailbox WHERE recipient = ? AND seq <= ?", .text(recipient), .int(Int64(seq)))
    }

    /// The end of the mailbox seqs reserved (`ReservedSeqs`): the first not reserved yet. A
    /// database of an earlier version kept the next seq at its last commit instead, and its
    /// last cycle may have pushed up to `olderMargin` seqs past it: those are skipped.
    func mailboxSeqReservation(olderMargin: UInt64) throws -> UInt64 {
        if let end = try meta(Self.mailboxSeqKey) { return UInt64(max(end, 1)) }
        return try meta("next_seq").map { UInt64(max($0, 1)) + olderMargin } ?? 1
    }

    func setMailboxSeqReservation(_ end: UInt64) throws {
        try setMeta(Self.mailboxSeqKey, Int64(end))
    }

    static let mailboxSeqKey = "mailbox_seq_end"

    public func maxMailboxSeq() throws -> UInt64 {
        UInt64(try db.first("SELECT COALESCE(MAX(seq), 0) FROM mailbox") { $0.int(0) } ?? 0)
    }

    /// Entries waiting per recipient.
    public func waitingCounts() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (name, count) in try db.query("SELECT recipient, COUNT(*) FROM mailbox GROUP BY recipient", map: { ($0.text(0), Int($0.int(1))) }) {
            out[name] = count
        }
        return out
    }

    /// Truncates the WAL so deleted pages do not linger in it.
    public func checkpoint() throws {
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }
}
