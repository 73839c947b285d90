import SQLite
import SealpostCore

/// A journal row: an envelope waiting for the next hop's acknowledgement.
struct JournalRow {
    var jid: UInt64
    var dest: String
    var origin: String
    var streamSeq: UInt64
    var hops: UInt8
    var envelope: [UInt8]
    var createdAt: UInt64
}

extension NodeStore {
    // MARK: journal

    /// Appends to the journal; returns the new journal id.
    func appendJournal(dest: String, origin: String, streamSeq: UInt64, hops: UInt8, envelope: [UInt8], at: UInt64,
                       epoch: UInt64 = 0) throws -> UInt64 {
        try db.run("INSERT INTO journal(dest, origin, stream_seq, hops, envelope, created_at, epoch) VALUES(?,?,?,?,?,?,?)",
                   .text(dest), .text(origin), .int(Int64(streamSeq)), .int(Int64(hops)), .blob(envelope), .int(Int64(at)),
                   .int(Int64(epoch)))
        return UInt64(db.lastInsertRowID)
    }

    /// Replaces a journal entry's envelope (an expired burn message keeps only its notice).
    func replaceJournalEnvelope(jid: UInt64, envelope: [UInt8]) throws {
        try db.run("UPDATE journal SET envelope = ? WHERE jid = ?", .blob(envelope), .int(Int64(jid)))
    }

    func deleteJournal(_ jid: UInt64) throws {
        try db.run("DELETE FROM journal WHERE jid = ?", .int(Int64(jid)))
    }

    /// The entries still waiting for the next hop (not those kept after its RELAYED).
    func journal() throws -> [JournalRow] {
        try db.query("SELECT jid, dest, origin, stream_seq, hops, envelope, created_at FROM journal WHERE acked_at IS NULL ORDER BY jid") { s in
            JournalRow(jid: UInt64(s.int(0)), dest: s.text(1), origin: s.text(2), streamSeq: UInt64(s.int(3)),
                       hops: UInt8(clamping: s.int(4)), envelope: s.blob(5), createdAt: UInt64(s.int(6)))
        }
    }

    // MARK: streams

    func streams(outgoing: Bool) throws -> [String: UInt64] {
        let sql = outgoing ? "SELECT dest, next_seq FROM stream_out" : "SELECT origin, next_seq FROM stream_in"
        var out: [String: UInt64] = [:]
        for (k, v) in try db.query(sql, map: { ($0.text(0), UInt64($0.int(1))) }) { out[k] = v }
        return out
    }

    func setStream(outgoing: Bool, node: String, next: UInt64) throws {
        let sql = outgoing
            ? "INSERT INTO stream_out(dest, next_seq) VALUES(?,?) ON CONFLICT(dest) DO UPDATE SET next_seq = excluded.next_seq"
            : "INSERT INTO stream_in(origin, next_seq) VALUES(?,?) ON CONFLICT(origin) DO UPDATE SET next_seq = excluded.next_seq"
        try db.run(sql, .text(node), .int(Int64(next)))
    }

    // MARK: held

    /// Keeps an early envelope; false when it was held already.
    func hold(origin: String, streamSeq: UInt64, recipient: String, envelope: [UInt8]) throws -> Bool {
        try db.run("INSERT OR IGNORE INTO held(origin, stream_seq, recipient, envelope) VALUES(?,?,?,?)",
                   .text(origin), .int(Int64(streamSeq)), .text(recipient), .blob(envelope)) == 1
    }

    /// Removes and returns the held envelope `(origin, seq)`, if there is one.
    func takeHeld(origin: String, streamSeq: UInt64) throws -> (recipient: String, envelope: [UInt8])? {
        guard let row = try db.first("SELECT recipient, envelope FROM held WHERE origin = ? AND stream_seq = ?",
                                     .text(origin), .int(Int64(streamSeq)), map: { ($0.text(0), $0.blob(1)) }) else { return nil }
        try db.run("DELETE FROM held WHERE origin = ? AND stream_seq = ?", .text(origin), .int(Int64(streamSeq)))
        return row
    }

    /// Envelopes and bytes held for order for `recipient` (the place-keepers of dropped ones excluded).
    func heldUsage(recipient: String) throws -> Quotas.Usage {
        try db.first("SELECT COUNT(*), COALESCE(SUM(length(envelope)), 0) FROM held WHERE recipient = ? AND length(envelope) > 0",
                     .text(recipient)) { Quotas.Usage(count: Int($0.int(0)), bytes: Int($0.int(1))) } ?? Quotas.Usage()
    }

    /// Envelopes held for order, place-keepers of dropped ones excluded.
    func heldEnvelopeCount() throws -> Int {
        Int(try db.first("SELECT COUNT(*) FROM held WHERE length(envelope) > 0") { $0.int(0) } ?? 0)
    }

    func heldCounts() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (k, v) in try db.query("SELECT origin, COUNT(*) FROM held GROUP BY origin", map: { ($0.text(0), Int($0.int(1))) }) { out[k] = v }
        return out
    }

    // MARK: remote nodes and directory

    /// Signed directory heads: unsigned copies held from before are taken again
    /// (their version is forgotten, their entries stay until a signed snapshot replaces them).
    func migrateTo9() throws {
        try db.transaction {
            try db.execute("""
                ALTER TABLE remote_nodes ADD COLUMN directory_signature BLOB;
                UPDATE remote_nodes SET directory_version = 0;
                PRAGMA user_version = 9;
                """)
        }
    }

    func remoteNodes() throws -> [(name: String, signKey: [UInt8], version: UInt64, signature: [UInt8])] {
        try db.query("SELECT name, sign_key, directory_version, directory_signature FROM remote_nodes") {
            ($0.text(0), $0.blob(1), UInt64($0.int(2)), $0.blob(3))
        }
    }

    func pinNode(name: String, signKey: [UInt8], at: UInt64) throws {
        try db.run("""
            INSERT INTO remote_nodes(name, sign_key, directory_version, first_seen) VALUES(?,?,0,?)
            ON CONFLICT(name) DO UPDATE SET sign_key = excluded.sign_key,
              directory_version = CASE WHEN remote_nodes.sign_key = excluded.sign_key THEN remote_nodes.directory_version ELSE 0 END,
              directory_signature = CASE WHEN remote_nodes.sign_key = excluded.sign_key THEN remote_nodes.directory_signature ELSE NULL END
            """, .text(name), .blob(signKey), .int(Int64(at)))
    }

    /// Replaces every entry of `home` and records the version and `home`'s signature over both.
    func replaceDirectory(home: String, version: UInt64, signature: [UInt8], entries: [(address: String, entry: [UInt8])]) throws {
        try db.run("DELETE FROM remote_entries WHERE home = ?", .text(home))
        for e in entries {
            try db.run("INSERT OR REPLACE INTO remote_entries(address, home, entry) VALUES(?,?,?)", .text(e.address), .text(home), .blob(e.entry))
        }
        try db.run("UPDATE remote_nodes SET directory_version = ?, directory_signature = ? WHERE name = ?",
                   .int(Int64(version)), .blob(signature), .text(home))
    }

    /// Drops every entry of `home` and the version held (the pin stays); returns how many entries went.
    /// Drops `home`'s entries and held version; the version held becomes its floor (`floor`,
    /// the higher of it and any earlier floor): snapshots older than it are refused (SPEC 14.3).
    func forgetDirectory(home: String, floor: UInt64) throws -> Int {
        let removed = try db.run("DELETE FROM remote_entries WHERE home = ?", .text(home))
        try db.run("UPDATE remote_nodes SET directory_version = 0, directory_signature = NULL WHERE name = ?", .text(home))
        if floor > 0 { try setMeta(Self.directoryFloorKey + home, Int64(clamping: floor)) }
        return removed
    }

    static let directoryFloorKey = "directory_floor:"

    /// The floors left by `directory forget`, per home node.
    func directoryFloors() throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (key, value) in try db.query("SELECT key, value FROM meta WHERE key LIKE 'directory_floor:%'", map: { ($0.text(0), $0.int(1)) }) {
            out[String(key.dropFirst(Self.directoryFloorKey.count))] = UInt64(max(0, value))
        }
        return out
    }

    /// A new signing key for `name` (unpinned, or a configured peer's key changed): its versions start fresh.
    func dropDirectoryFloor(name: String) throws {
        _ = try db.run("DELETE FROM meta WHERE key = ?", .text(Self.directoryFloorKey + name))
    }

    /// Drops the pinned key of `name` together with its directory; returns how many entries went.
    func unpinNode(name: String) throws -> Int {
        let removed = try db.run("DELETE FROM remote_entries WHERE home = ?", .text(name))
        try db.run("DELETE FROM remote_nodes WHERE name = ?", .text(name))
        try dropDirectoryFloor(name: name)
        return removed
    }

    func remoteEntries() throws -> [(address: String, home: String, entry: [UInt8])] {
        try db.query("SELECT address, home, entry FROM remote_entries ORDER BY address") { ($0.text(0), $0.text(1), $0.blob(2)) }
    }
}
