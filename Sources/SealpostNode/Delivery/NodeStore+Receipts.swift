import SealpostCore
import SQLite

/// What delivered receipts are checked against (protocol/SPEC.md 7.10.2): the node each
/// message of a local user went to, next to its dedupe record.
extension NodeStore {
    func migrateTo17() throws {
        try db.transaction {
            try db.execute("""
                -- The node a local user's message went to ('*': a group; '': sent before this column).
                ALTER TABLE received ADD COLUMN dest TEXT NOT NULL DEFAULT '';
                PRAGMA user_version = 17;
                """)
        }
    }

    /// Where `sender` (a local user's address) sent message `id`, or nil when it did not (or the
    /// record is older than the dedupe window).
    func sentDest(sender: String, id: MessageID) throws -> String? {
        try db.first("SELECT dest FROM received WHERE sender = ? AND id = ?", .text(sender), .blob(id.bytes)) { $0.text(0) }
    }
}
