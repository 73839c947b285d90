import SealpostCore
import SQLite

/// The recipients each forward (by its last hop) was accepted for at this node, so that one
/// signed hop cannot go to more recipients than it names (protocol/SPEC.md 7.9.5).
extension NodeStore {
    func migrateTo15() throws {
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS forward_fanout(hop BLOB NOT NULL, recipient TEXT NOT NULL, at INTEGER NOT NULL,
                                                          PRIMARY KEY(hop, recipient)) WITHOUT ROWID;
                PRAGMA user_version = 15;
                """)
        }
    }

    /// The recipients forward `hop` (its link) was accepted for here.
    func forwardRecipients(hop: [UInt8]) throws -> Set<String> {
        Set(try db.query("SELECT recipient FROM forward_fanout WHERE hop = ?", .blob(hop), map: { $0.text(0) }))
    }

    func noteForwardRecipient(hop: [UInt8], recipient: String, at: UInt64) throws {
        try db.run("INSERT OR IGNORE INTO forward_fanout(hop, recipient, at) VALUES(?,?,?)", .blob(hop), .text(recipient), .int(Int64(at)))
    }

    /// Forgets forwards older than `cutoff` (the deduplication window: a repeat of an older one is not accepted anyway).
    func pruneForwards(olderThan cutoff: UInt64) throws {
        try db.run("DELETE FROM forward_fanout WHERE at < ?", .int(Int64(cutoff)))
    }
}
