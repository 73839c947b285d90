import SQLite

/// Receipts for own messages in the history (protocol/SPEC.md 7.10): who each went to
/// (`sent_to`: how many recipients) and which of them delivered or saw it (`receipts`).
/// A message's `state` follows: `delivered` once every recipient's node stored it,
/// `seen` once every recipient saw it; a group's partial progress is in the counts.
extension History {
    struct Receipts: Equatable, Sendable {
        var delivered: Int
        var seen: Int
        var recipients: Int
    }

    func prepareReceipts() throws {
        try db.execute("""
            CREATE TABLE IF NOT EXISTS sent_to (id TEXT PRIMARY KEY, recipients INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS receipts (
                id TEXT NOT NULL, member TEXT NOT NULL, seen INTEGER NOT NULL,
                PRIMARY KEY(id, member)) WITHOUT ROWID;
            """)
    }

    /// Records how many people an own message went to (1, or a group's members but oneself).
    func recordRecipients(id: String, count: Int) throws {
        try db.run("INSERT OR REPLACE INTO sent_to(id, recipients) VALUES (?, ?)", .text(id), .int(Int64(max(count, 1))))
    }

    /// Folds in one recipient's receipt for an own message. Repeats and receipts that would
    /// go back (delivered after seen) change nothing.
    /// - Returns: whether the message's receipts changed.
    func noteReceipt(id: String, member: String, seen: Bool) throws -> Bool {
        let changed = try db.run("""
            INSERT INTO receipts(id, member, seen) VALUES (?, ?, ?)
            ON CONFLICT(id, member) DO UPDATE SET seen = 1 WHERE excluded.seen = 1 AND receipts.seen = 0
            """, .text(id), .text(member), .int(seen ? 1 : 0)) == 1
        guard changed, let r = try receipts(id: id) else { return changed }
        let state: State = r.seen >= r.recipients ? .seen : r.delivered >= r.recipients ? .delivered : .stored
        try db.run("UPDATE messages SET state = ? WHERE id = ? AND outgoing = 1 AND state IN ('sending', 'stored', 'delivered')",
                   .text(state.rawValue), .text(id))
        return true
    }

    /// The receipt counts of an own message, nil when it is not one.
    func receipts(id: String) throws -> Receipts? {
        guard let recipients = try db.first("SELECT recipients FROM sent_to WHERE id = ?", .text(id), map: { Int($0.int(0)) }) else {
            return nil
        }
        let counts = try db.first("SELECT count(*), coalesce(sum(seen), 0) FROM receipts WHERE id = ?", .text(id)) {
            (Int($0.int(0)), Int($0.int(1)))
        } ?? (0, 0)
        return Receipts(delivered: counts.0, seen: counts.1, recipients: recipients)
    }

    /// The read mark of a conversation (the last row shown to the person).
    func readRow(conversation: String) throws -> Int64 {
        try db.first("SELECT read_row FROM conversations WHERE address = ?", .text(conversation)) { $0.int(0) } ?? 0
    }
}
