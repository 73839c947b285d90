import SQLite
import SealpostCore

/// What the quotas count, read from the tables (at start, and before a deletion).
extension NodeStore {
    /// Mailbox entries name their sender, so one sender's messages waiting on the node can be bounded.
    /// Entries stored before have an empty sender and count for nobody.
    func migrateTo11() throws {
        try db.transaction {
            let columns = try db.query("PRAGMA table_info(mailbox)") { $0.text(1) }
            if !columns.contains("sender") {
                try db.execute("ALTER TABLE mailbox ADD COLUMN sender TEXT NOT NULL DEFAULT ''")
            }
            try db.execute("PRAGMA user_version = 11")
        }
    }

    /// Entries and bytes waiting in mailboxes per sender address (entries without one left out).
    func mailboxUsageBySender() throws -> [String: Quotas.Usage] {
        var out: [String: Quotas.Usage] = [:]
        for (name, count, bytes) in try db.query("SELECT sender, COUNT(*), COALESCE(SUM(length(envelope)), 0) FROM mailbox WHERE sender != '' GROUP BY sender",
                                                 map: { ($0.text(0), Int($0.int(1)), Int($0.int(2))) }) {
            out[name] = Quotas.Usage(count: count, bytes: bytes)
        }
        return out
    }

    /// Per sender, the entries and bytes of `recipient`'s mailbox up to and including `seq`.
    func mailboxSenders(recipient: String, through seq: UInt64) throws -> [(sender: String, usage: Quotas.Usage)] {
        try db.query("SELECT sender, COUNT(*), COALESCE(SUM(length(envelope)), 0) FROM mailbox WHERE recipient = ? AND seq <= ? AND sender != '' GROUP BY sender",
                     .text(recipient), .int(Int64(seq))) { ($0.text(0), Quotas.Usage(count: Int($0.int(1)), bytes: Int($0.int(2)))) }
    }

    /// Entries and bytes waiting per recipient.
    func mailboxUsage() throws -> [String: Quotas.Usage] {
        var out: [String: Quotas.Usage] = [:]
        for (name, count, bytes) in try db.query("SELECT recipient, COUNT(*), COALESCE(SUM(length(envelope)), 0) FROM mailbox GROUP BY recipient",
                                                 map: { ($0.text(0), Int($0.int(1)), Int($0.int(2))) }) {
            out[name] = Quotas.Usage(count: count, bytes: bytes)
        }
        return out
    }

    /// Entries and bytes of `recipient`'s mailbox up to and including `seq` (what an ACK through `seq` deletes).
    func mailboxUsage(recipient: String, through seq: UInt64) throws -> Quotas.Usage {
        try db.first("SELECT COUNT(*), COALESCE(SUM(length(envelope)), 0) FROM mailbox WHERE recipient = ? AND seq <= ?",
                     .text(recipient), .int(Int64(seq))) { Quotas.Usage(count: Int($0.int(0)), bytes: Int($0.int(1))) } ?? Quotas.Usage()
    }

    /// Burn messages and their bytes kept per recipient.
    func burnUsage() throws -> [String: Quotas.Usage] {
        var out: [String: Quotas.Usage] = [:]
        for (name, count, bytes) in try db.query("SELECT recipient, COUNT(*), COALESCE(SUM(length(envelope)), 0) FROM burns GROUP BY recipient",
                                                 map: { ($0.text(0), Int($0.int(1)), Int($0.int(2))) }) {
            out[name] = Quotas.Usage(count: count, bytes: bytes)
        }
        return out
    }

    /// Bytes of one kept burn message, 0 when there is none.
    func burnBytes(recipient: String, id: MessageID) throws -> Int {
        Int(try db.first("SELECT length(envelope) FROM burns WHERE recipient = ? AND id = ?", .text(recipient), .blob(id.bytes)) { $0.int(0) } ?? 0)
    }

    /// The WAL file is truncated to at most `bytes` whenever a checkpoint lets it restart.
    func setJournalSizeLimit(_ bytes: Int) throws {
        _ = try db.first("PRAGMA journal_size_limit = \(bytes)") { $0.int(0) }
    }

    /// True when `(sender, id)` was stored before (a retransmission), without recording anything.
    func wasReceived(sender: String, id: MessageID) throws -> Bool {
        try db.first("SELECT 1 FROM received WHERE sender = ? AND id = ?", .text(sender), .blob(id.bytes)) { _ in true } ?? false
    }
}
