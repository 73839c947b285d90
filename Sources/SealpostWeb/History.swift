import Foundation
import SQLite
import Sodium

/// The person's message history on this device (`PROFILE.history.db`, SQLite, WAL).
///
/// Routing facts (conversation, direction, kind, times, state) are in clear so that the
/// conversation list can be built without opening every record; what was said and who
/// said it in a group is sealed per record with libsodium secretbox under the history key
/// (`HistoryKey`). A sealed record carries its own message id, checked on opening, so a
/// record moved onto another row does not open. Burn-after-reading content is never
/// given to this type: the daemon records only that a burn message arrived.
///
/// Not Sendable: the daemon's client thread opens it and is its only user.
final class History {
    /// One message as the UI shows it.
    struct Record: Equatable, Sendable {
        var row: Int64
        var id: String
        var conversation: String
        var outgoing: Bool
        var from: String
        var kind: String
        var text: String
        var sentAt: UInt64
        var state: String
        var reason: String
        /// The message's classification label (`敏感 sensitive`), "" when it has none (SPEC 7.11).
        var label: String = ""
        /// 保密期限: when its content is deleted from this device (ms since the epoch), 0 for never (SPEC 7.11.9).
        var readableUntil: UInt64 = 0
        /// The label of the content itself when it differs from `label`: a downgrade's `to`, or a
        /// forward's origin's (SPEC 7.11.11); "" when it is `label`.
        var effectiveLabel: String = ""
        /// The downgrade of this message, when there is one: who lowered its label, and why.
        var downgrade: Downgrade?
    }

    /// A downgrade as the UI shows it (SPEC 7.11.11): `downgraded by li@hq: released to the press`.
    struct Downgrade: Equatable, Sendable {
        var by: String
        var reason: String
    }

    struct Conversation: Equatable, Sendable {
        var address: String
        var isGroup: Bool
        var unread: Int
        var last: Record?
    }

    /// Own messages: sending → stored (on my node) → delivered (to the recipient's node) →
    /// seen (by the recipient's client), from receipts (protocol/SPEC.md 7.10; `History+Receipts`).
    /// A received burn notice becomes `viewed` (here) or `burned` (the node said it is gone).
    enum State: String { case sending, stored, failed, received, delivered, seen, viewed, burned }

    let db: Database
    private let key: SecretBytes
    /// The earliest readable-until time of a record still holding content (`.max`: none); nil: to be read.
    private var earliestExpiry: UInt64?
    let path: String

    /// Opens (creating with mode 0600) the history database.
    /// - Throws: `SQLiteError` when the file cannot be opened or migrated.
    init(path: String, key: SecretBytes) throws {
        self.path = path
        self.key = key
        if !FileManager.default.fileExists(atPath: path) {
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        db = try Database(path: path)
        try db.execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            PRAGMA secure_delete=ON;
            PRAGMA foreign_keys=ON;
            CREATE TABLE IF NOT EXISTS messages (
                row INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                conversation TEXT NOT NULL,
                outgoing INTEGER NOT NULL,
                kind TEXT NOT NULL,
                sent_at INTEGER NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                sealed BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation, row);
            CREATE TABLE IF NOT EXISTS conversations (
                address TEXT PRIMARY KEY,
                is_group INTEGER NOT NULL,
                read_row INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS people (
                address TEXT PRIMARY KEY,
                entry BLOB NOT NULL
            );
            CREATE TABLE IF NOT EXISTS outbox (
                id TEXT PRIMARY KEY,
                envelope BLOB NOT NULL
            );
            """)
        // Added with 保密期限: a history written before has none (0: never).
        let columns = try db.query("PRAGMA table_info(messages)") { $0.text(1) }
        if !columns.contains("readable_until") {
            try db.execute("ALTER TABLE messages ADD COLUMN readable_until INTEGER NOT NULL DEFAULT 0")
        }
        try db.execute("CREATE INDEX IF NOT EXISTS messages_by_readable_until ON messages(readable_until) WHERE readable_until > 0")
    }

    func close() { db.close() }

    // MARK: sealing

    private func seal(id: String, from: String, text: String, label: String = "", effectiveLabel: String = "",
                      downgrade: Downgrade? = nil) throws -> [UInt8] {
        var object = ["id": id, "from": from, "text": text]
        if !label.isEmpty { object["label"] = label }
        if !effectiveLabel.isEmpty { object["effective_label"] = effectiveLabel }
        if let downgrade {
            object["downgraded_by"] = downgrade.by
            object["downgrade_reason"] = downgrade.reason
        }
        let plain = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        var bytes = [UInt8](plain)
        defer { wipe(&bytes) }
        let nonce = Sodium.randomBytes(SecretBox.nonceBytes)
        var k = key.copyBytes()
        defer { wipe(&k) }
        return nonce + SecretBox.seal(bytes, nonce: nonce, key: k)
    }

    /// The sealed part of a row, or nil when it does not open under this key or belongs to another id.
    private func open(_ sealed: [UInt8], id: String) -> Opened? {
        guard sealed.count > SecretBox.nonceBytes + SecretBox.macBytes else { return nil }
        var k = key.copyBytes()
        defer { wipe(&k) }
        guard var plain = SecretBox.open(Array(sealed.dropFirst(SecretBox.nonceBytes)),
                                         nonce: Array(sealed.prefix(SecretBox.nonceBytes)), key: k) else { return nil }
        defer { wipe(&plain) }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(plain))) as? [String: String],
              object["id"] == id, let from = object["from"], let text = object["text"] else { return nil }
        let downgrade = object["downgraded_by"].map { Downgrade(by: $0, reason: object["downgrade_reason"] ?? "") }
        return Opened(from: from, text: text, label: object["label"] ?? "", effectiveLabel: object["effective_label"] ?? "",
                      downgrade: downgrade)
    }

    private struct Opened {
        var from: String
        var text: String
        var label: String
        var effectiveLabel: String
        var downgrade: Downgrade?
    }

    // MARK: writing

    /// Records a message once; a repeated id changes nothing.
    /// - Returns: the record when it was new, nil when the id was already there.
    @discardableResult
    func record(id: String, conversation: String, isGroup: Bool, outgoing: Bool, from: String, kind: String,
                text: String, sentAt: UInt64, state: State, label: String = "", readableUntil: UInt64 = 0,
                effectiveLabel: String = "", downgrade: Downgrade? = nil) throws -> Record? {
        let effectiveLabel = effectiveLabel == label ? "" : effectiveLabel
        let sealed = try seal(id: id, from: from, text: text, label: label, effectiveLabel: effectiveLabel, downgrade: downgrade)
        let changed = try db.run("""
            INSERT OR IGNORE INTO messages(id, conversation, outgoing, kind, sent_at, state, sealed, readable_until)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id), .text(conversation), .int(outgoing ? 1 : 0), .text(kind), .int(Int64(sentAt)),
            .text(state.rawValue), .blob(sealed), .int(Int64(min(readableUntil, UInt64(Int64.max)))))
        guard changed == 1 else { return nil }
        if readableUntil > 0, let earliest = earliestExpiry { earliestExpiry = min(earliest, readableUntil) }
        let row = db.lastInsertRowID
        try db.run("INSERT OR IGNORE INTO conversations(address, is_group) VALUES (?, ?)", .text(conversation), .int(isGroup ? 1 : 0))
        if outgoing {
            // What I wrote myself is read.
            try db.run("UPDATE conversations SET read_row = ? WHERE address = ?", .int(row), .text(conversation))
        }
        return Record(row: row, id: id, conversation: conversation, outgoing: outgoing, from: from, kind: kind, text: text,
                      sentAt: sentAt, state: state.rawValue, reason: "", label: label, readableUntil: readableUntil,
                      effectiveLabel: effectiveLabel, downgrade: downgrade)
    }

    /// Records a downgrade of message `id` (SPEC 7.11.11): its content now counts as `effectiveLabel`.
    /// - Returns: the record as it is now, nil when there is no such message.
    func setDowngrade(id: String, effectiveLabel: String, downgrade: Downgrade) throws -> Record? {
        guard let r = try message(id: id), r.kind != "damaged" else { return nil }
        let sealed = try seal(id: r.id, from: r.from, text: r.text, label: r.label,
                              effectiveLabel: effectiveLabel == r.label ? "" : effectiveLabel, downgrade: downgrade)
        try db.run("UPDATE messages SET sealed = ? WHERE row = ?", .blob(sealed), .int(r.row))
        return try message(id: id)
    }

    // MARK: readable until (保密期限, SPEC 7.11.9)

    /// Deletes the content of every record whose readable-until time has come (`now` or before):
    /// its sealed part is written again with no text (secure_delete zeroes the old pages) and its
    /// kind becomes `expired`. Who sent it, when, its label and its state stay.
    /// - Returns: the records changed, so the UI can be told.
    func purgeExpired(now: UInt64) throws -> [Record] {
        if earliestExpiry == nil { earliestExpiry = try nextExpiry() ?? .max }
        guard let earliest = earliestExpiry, earliest <= now else { return [] }
        defer { earliestExpiry = nil }
        let due = try db.query("""
            SELECT \(Self.columns) FROM messages WHERE readable_until > 0 AND readable_until <= ? AND kind != 'expired' ORDER BY row
            """, .int(Int64(min(now, UInt64(Int64.max))))) { decode($0) }
        guard !due.isEmpty else { return [] }
        try db.transaction {
            for r in due {
                let sealed = try seal(id: r.id, from: r.from, text: "", label: r.label, effectiveLabel: r.effectiveLabel,
                                      downgrade: r.downgrade)
                try db.run("UPDATE messages SET kind = 'expired', sealed = ? WHERE row = ?", .blob(sealed), .int(r.row))
            }
        }
        // Not kept in the WAL either, once checkpointed.
        try? db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return try due.compactMap { try message(id: $0.id) }
    }

    /// The earliest readable-until time of a record that still holds content; nil: none.
    func nextExpiry() throws -> UInt64? {
        try db.first("SELECT MIN(readable_until) FROM messages WHERE readable_until > 0 AND kind != 'expired'") {
            $0.isNull(0) ? nil : UInt64($0.int(0))
        } ?? nil
    }

    /// Makes a conversation appear in the list before its first message (a group just joined).
    func ensureConversation(_ address: String, isGroup: Bool) throws {
        try db.run("INSERT OR IGNORE INTO conversations(address, is_group) VALUES (?, ?)", .text(address), .int(isGroup ? 1 : 0))
    }

    /// Sets an own message's state; returns the conversation when the row exists.
    @discardableResult
    func setState(id: String, _ state: State, reason: String = "") throws -> String? {
        try db.run("UPDATE messages SET state = ?, reason = ? WHERE id = ? AND outgoing = 1", .text(state.rawValue), .text(reason), .text(id))
        return try db.first("SELECT conversation FROM messages WHERE id = ?", .text(id)) { $0.text(0) }
    }

    /// Sets a received message's state (a burn notice viewed or gone).
    func setIncomingState(id: String, _ state: State) throws {
        try db.run("UPDATE messages SET state = ? WHERE id = ? AND outgoing = 0", .text(state.rawValue), .text(id))
    }

    func markRead(conversation: String, through row: Int64) throws {
        try db.run("UPDATE conversations SET read_row = max(read_row, ?) WHERE address = ?", .int(row), .text(conversation))
    }

    func transaction<T>(_ body: () throws -> T) throws -> T { try db.transaction(body) }

    // MARK: outbox (sealed envelopes waiting for STORED; already end-to-end encrypted)

    func addOutbox(id: String, envelope: [UInt8]) throws {
        try db.run("INSERT OR REPLACE INTO outbox(id, envelope) VALUES (?, ?)", .text(id), .blob(envelope))
    }

    func removeOutbox(id: String) throws { try db.run("DELETE FROM outbox WHERE id = ?", .text(id)) }

    func outbox() throws -> [(id: String, envelope: [UInt8])] {
        try db.query("SELECT id, envelope FROM outbox ORDER BY rowid") { ($0.text(0), $0.blob(1)) }
    }

    // MARK: people written to (their directory entries, checked when they were fetched)

    func savePerson(address: String, entry: [UInt8]) throws {
        try db.run("INSERT OR REPLACE INTO people(address, entry) VALUES (?, ?)", .text(address), .blob(entry))
    }

    func people() throws -> [(address: String, entry: [UInt8])] {
        try db.query("SELECT address, entry FROM people") { ($0.text(0), $0.blob(1)) }
    }

    // MARK: reading

    /// Kinds that are news about a conversation, not messages in it: they do not count as unread.
    static let quietKinds = "('group_event', 'reminder_cancelled', 'reminder_done', 'burned', 'burn_expired', 'burn_receipt')"

    private static let columns = "row, id, conversation, outgoing, kind, sent_at, state, reason, sealed, readable_until"

    private func decode(_ s: Statement) -> Record {
        let id = s.text(1)
        let opened = open(s.blob(8), id: id)
        return Record(row: s.int(0), id: id, conversation: s.text(2), outgoing: s.int(3) == 1,
                      from: opened?.from ?? "", kind: opened == nil ? "damaged" : s.text(4),
                      text: opened?.text ?? "", sentAt: UInt64(max(0, s.int(5))), state: s.text(6), reason: s.text(7),
                      label: opened?.label ?? "", readableUntil: UInt64(max(0, s.int(9))),
                      effectiveLabel: opened?.effectiveLabel ?? "", downgrade: opened?.downgrade)
    }

    /// Up to `limit` records of a conversation before `row` (newest first when read from the end), oldest first.
    func messages(conversation: String, before row: Int64?, limit: Int) throws -> [Record] {
        let rows = try db.query("SELECT \(Self.columns) FROM messages WHERE conversation = ? AND row < ? ORDER BY row DESC LIMIT ?",
                                .text(conversation), .int(row ?? Int64.max), .int(Int64(limit))) { decode($0) }
        return rows.reversed()
    }

    /// Full-text search on the device: the newest `limit` messages whose text contains `query`
    /// (case and width insensitive). The content is sealed, so every record is opened in turn:
    /// fine for the tens of thousands of messages a person keeps (secretbox opens ~1 GB/s).
    func search(_ query: String, limit: Int) throws -> [Record] {
        let needle = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !needle.isEmpty else { return [] }
        var found: [Record] = []
        let statement = try db.statement("SELECT \(Self.columns) FROM messages WHERE kind IN \(Self.searchedKinds) ORDER BY row DESC")
        defer { statement.reset() }
        while found.count < limit, try statement.step() {
            let r = decode(statement)
            if Self.searchable(r).range(of: needle, options: [.caseInsensitive, .widthInsensitive, .diacriticInsensitive]) != nil {
                found.append(r)
            }
        }
        return found
    }

    /// Kinds whose words are searched: texts, and the reminders, files and cards people sent.
    static let searchedKinds = "('text', 'reminder', 'file', 'card')"

    /// The words a record is found by: a text as it is; of the structured kinds (JSON), the
    /// reminder's text, the file's name, the card's name and address — never the field names.
    static func searchable(_ r: Record) -> String {
        guard r.kind != "text" else { return r.text }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(r.text.utf8))) as? [String: Any] else { return "" }
        return ["text", "name", "address"].compactMap { object[$0] as? String }.joined(separator: "\n")
    }

    func message(id: String) throws -> Record? {
        try db.first("SELECT \(Self.columns) FROM messages WHERE id = ?", .text(id)) { decode($0) }
    }

    func count() throws -> Int {
        Int(try db.first("SELECT count(*) FROM messages") { $0.int(0) } ?? 0)
    }

    /// Every conversation, the most recently active first.
    func conversations() throws -> [Conversation] {
        let list = try db.query("""
            SELECT c.address, c.is_group, c.read_row,
                   (SELECT max(row) FROM messages m WHERE m.conversation = c.address)
            FROM conversations c
            """) { s in (s.text(0), s.int(1) == 1, s.int(2), s.isNull(3) ? Int64(0) : s.int(3)) }
        var out: [Conversation] = []
        for (address, isGroup, readRow, lastRow) in list {
            let unread = try db.first("""
                SELECT count(*) FROM messages WHERE conversation = ? AND row > ? AND outgoing = 0 AND kind NOT IN \(Self.quietKinds)
                """,
                                      .text(address), .int(readRow)) { Int($0.int(0)) } ?? 0
            let last = lastRow > 0 ? try db.first("SELECT \(Self.columns) FROM messages WHERE row = ?", .int(lastRow)) { decode($0) } : nil
            out.append(Conversation(address: address, isGroup: isGroup, unread: unread, last: last))
        }
        return out.sorted { ($0.last?.row ?? 0, $0.address) > ($1.last?.row ?? 0, $1.address) }
    }

    func conversation(_ address: String) throws -> Conversation? {
        try conversations().first { $0.address == address }
    }
}
