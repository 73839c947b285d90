import SQLite
import Sodium
import SealpostCore

/// Which audit records to read (`sealpost-node audit`, the trace answer).
public struct AuditFilter: Sendable, Equatable {
    /// Records at or after this time (ms since the epoch).
    public var since: UInt64?
    /// Records whose actor or subject is this address or name.
    public var user: String?
    public var kind: AuditKind?
    /// Records about this message, forward, file or query id.
    public var ref: MessageID?
    /// Records after this position.
    public var after: UInt64 = 0

    public init(since: UInt64? = nil, user: String? = nil, kind: AuditKind? = nil, ref: MessageID? = nil, after: UInt64 = 0) {
        self.since = since
        self.user = user
        self.kind = kind
        self.ref = ref
        self.after = after
    }
}

/// A record as stored: its fields, and the hash stored beside them (what it hashed to when written).
public struct StoredAuditRecord: Sendable, Equatable {
    public var record: AuditRecord
    public var hash: [UInt8]
}

/// The audit log's tables (protocol/SPEC.md §15.7): the hash-chained records and the signed heads.
extension NodeStore {
    /// The audit log: one row per record, in position order, and the node's signed heads.
    func migrateTo14() throws {
        try db.transaction {
            try db.execute("""
                -- Append-only, hash-chained: each record holds the hash of the one before (prev) and its own.
                CREATE TABLE IF NOT EXISTS audit(
                    position INTEGER PRIMARY KEY, time INTEGER NOT NULL, kind INTEGER NOT NULL,
                    actor TEXT NOT NULL, subject TEXT NOT NULL, ref BLOB, detail BLOB NOT NULL,
                    prev BLOB NOT NULL, hash BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS audit_ref ON audit(ref) WHERE ref IS NOT NULL;
                CREATE INDEX IF NOT EXISTS audit_actor ON audit(actor);
                CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject) WHERE subject <> '';
                CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
                -- The node's signatures over the log at a size (the Merkle root of records 1...position).
                CREATE TABLE IF NOT EXISTS audit_heads(
                    position INTEGER PRIMARY KEY, time INTEGER NOT NULL, root BLOB NOT NULL, signature BLOB NOT NULL);
                PRAGMA user_version = 14;
                """)
        }
    }

    static let auditColumns = "position, time, kind, actor, subject, ref, detail, prev, hash"

    /// The record of a row; nil (and counted by the caller as bad) when a column does not decode.
    func mapAudit(_ s: Statement) -> StoredAuditRecord? {
        guard let kind = UInt8(exactly: s.int(2)).flatMap(AuditKind.init(rawValue:)) else { return nil }
        let fields = AuditFields(kind: kind, actor: s.text(3), subject: s.text(4), ref: s.isNull(5) ? [] : s.blob(5), detail: s.blob(6))
        let record = AuditRecord(position: UInt64(max(0, s.int(0))), time: UInt64(max(0, s.int(1))), fields: fields, prev: s.blob(7))
        return StoredAuditRecord(record: record, hash: s.blob(8))
    }

    /// Writes one record (inside the caller's transaction).
    func insertAudit(_ r: AuditRecord, hash: [UInt8]) throws {
        try db.run("INSERT INTO audit(\(Self.auditColumns)) VALUES(?,?,?,?,?,?,?,?,?)",
                   .int(Int64(r.position)), .int(Int64(r.time)), .int(Int64(r.fields.kind.rawValue)),
                   .text(r.fields.actor), .text(r.fields.subject), r.fields.ref.isEmpty ? .null : .blob(r.fields.ref),
                   .blob(r.fields.detail), .blob(r.prev), .blob(hash))
    }

    /// Appends `event` after the last stored record, for an operator command on a stopped
    /// node's database (inside the caller's transaction). A running node appends through
    /// `Reactor.audit(_:)`, which owns the head.
    @discardableResult
    public func appendAudit(_ event: AuditEvent, time: UInt64) throws -> AuditRecord {
        let last = try db.first("SELECT position, hash FROM audit ORDER BY position DESC LIMIT 1") { (UInt64($0.int(0)), $0.blob(1)) }
        let record = AuditRecord(position: (last?.0 ?? 0) + 1, time: time, event: event, prev: last?.1 ?? AuditRecord.genesis)
        try insertAudit(record, hash: record.hash)
        return record
    }

    /// The committed head the reactor starts from: position, hash, Merkle frontier, last event.
    func auditHead() throws -> AuditLog.Head {
        var head = AuditLog.Head()
        for row in try auditRows(after: 0) { head.add(position: row.position, hash: row.hash, kind: row.kind) }
        return head
    }

    /// Position, stored hash and kind of each record after `position`, in order.
    func auditRows(after position: UInt64) throws -> [(position: UInt64, hash: [UInt8], kind: AuditKind?)] {
        try db.query("SELECT position, hash, kind FROM audit WHERE position > ? ORDER BY position", .int(Int64(min(position, UInt64(Int64.max))))) {
            (UInt64(max(0, $0.int(0))), $0.blob(1), UInt8(exactly: $0.int(2)).flatMap(AuditKind.init(rawValue:)))
        }
    }

    /// The peers as the log recorded them: replays `peer_added` and `peer_removed`.
    func auditPeers() throws -> [String: [UInt8]] {
        var peers: [String: [UInt8]] = [:]
        let rows = try db.query("SELECT kind, subject, detail FROM audit WHERE kind IN (?, ?) ORDER BY position",
                                .int(Int64(AuditKind.peerAdded.rawValue)), .int(Int64(AuditKind.peerRemoved.rawValue))) {
            ($0.int(0), $0.text(1), $0.blob(2))
        }
        for (kind, name, key) in rows { peers[name] = kind == Int64(AuditKind.peerAdded.rawValue) ? key : nil }
        return peers
    }

    /// Records matching `filter`, in position order, at most `limit`.
    public func auditRecords(_ filter: AuditFilter = AuditFilter(), limit: Int = Int.max) throws -> [StoredAuditRecord] {
        var sql = "SELECT \(Self.auditColumns) FROM audit WHERE position > ?"
        var values: [SQLValue] = [.int(Int64(filter.after))]
        if let since = filter.since { sql += " AND time >= ?"; values.append(.int(Int64(min(since, UInt64(Int64.max))))) }
        if let user = filter.user { sql += " AND (actor = ? OR subject = ?)"; values += [.text(user), .text(user)] }
        if let kind = filter.kind { sql += " AND kind = ?"; values.append(.int(Int64(kind.rawValue))) }
        if let ref = filter.ref { sql += " AND ref = ?"; values.append(.blob(ref.bytes)) }
        sql += " ORDER BY position LIMIT ?"
        values.append(.int(Int64(min(limit, Int(Int64.max)))))
        let statement = try db.statement(sql)
        defer { statement.reset() }
        try statement.bind(values)
        var out: [StoredAuditRecord] = []
        while try statement.step() {
            if let r = mapAudit(statement) { out.append(r) }
        }
        return out
    }

    /// Calls `body` with every row in position order (what `audit verify` reads); a row whose
    /// kind does not decode is given as nil with its position.
    public func forEachAuditRecord(_ body: (UInt64, StoredAuditRecord?) throws -> Void) throws {
        let statement = try db.statement("SELECT \(Self.auditColumns) FROM audit ORDER BY position")
        defer { statement.reset() }
        while try statement.step() {
            try body(UInt64(max(0, statement.int(0))), mapAudit(statement))
        }
    }

    /// The stored hashes of records 1…`position`, in order (for an inclusion proof).
    public func auditHashes(through position: UInt64) throws -> [[UInt8]] {
        try db.query("SELECT hash FROM audit WHERE position <= ? ORDER BY position", .int(Int64(min(position, UInt64(Int64.max))))) { $0.blob(0) }
    }

    public func auditRecord(at position: UInt64) throws -> StoredAuditRecord? {
        try db.first("SELECT \(Self.auditColumns) FROM audit WHERE position = ?", .int(Int64(min(position, UInt64(Int64.max)))), map: mapAudit) ?? nil
    }

    public func auditCount() throws -> UInt64 {
        UInt64(try db.first("SELECT COALESCE(MAX(position), 0) FROM audit") { $0.int(0) } ?? 0)
    }

    // MARK: signed heads

    func insertAuditHead(_ h: AuditHead) throws {
        try db.run("INSERT OR REPLACE INTO audit_heads(position, time, root, signature) VALUES(?,?,?,?)",
                   .int(Int64(h.position)), .int(Int64(h.time)), .blob(h.root), .blob(h.signature))
    }

    /// Every signed head, oldest first (`node` is this node's name: heads are stored without it).
    public func auditHeads(node: String) throws -> [AuditHead] {
        try db.query("SELECT position, time, root, signature FROM audit_heads ORDER BY position") {
            AuditHead(node: node, position: UInt64(max(0, $0.int(0))), root: $0.blob(2), time: UInt64(max(0, $0.int(1))), signature: $0.blob(3))
        }
    }

    public func latestAuditHead(node: String) throws -> AuditHead? {
        try db.first("SELECT position, time, root, signature FROM audit_heads ORDER BY position DESC LIMIT 1") {
            AuditHead(node: node, position: UInt64(max(0, $0.int(0))), root: $0.blob(2), time: UInt64(max(0, $0.int(1))), signature: $0.blob(3))
        }
    }

    /// The proof that record `position` is in the log whose latest signed head is given (nil when
    /// there is no such record or it is above the latest signed head).
    public func auditProof(position: UInt64, node: String) throws -> AuditProof? {
        guard let head = try latestAuditHead(node: node), position >= 1, position <= head.position,
              let stored = try auditRecord(at: position) else { return nil }
        return AuditProof.make(record: stored.record, recordHashes: try auditHashes(through: head.position), head: head)
    }

    /// Verifies the whole stored log against its signed heads (`audit verify`), one row at a time.
    public func verifyAudit(node: String, nodeKey: [UInt8]) throws -> AuditVerification {
        var verifier = AuditVerifier(heads: try auditHeads(node: node), nodeKey: nodeKey)
        var undecodable: UInt64?
        var going = true
        try forEachAuditRecord { position, stored in
            guard going else { return }
            guard let stored else { undecodable = position; going = false; return }
            going = verifier.add(stored.record, storedHash: stored.hash)
        }
        var result = verifier.finish()
        if let bad = undecodable, result.firstBad.map({ $0 >= bad }) ?? true {
            result.firstBad = bad
            result.problem = "record \(bad) has an unknown kind (altered)"
        }
        return result
    }
}

extension NodeStore {
    /// Signs the log's head with `key` if events were appended since the last signed head, in
    /// one transaction with its checkpoint record (a stopped node's `audit head`; the running
    /// node signs from its in-memory head instead). Returns the latest signed head.
    func signAuditHead(node: String, key: SignKeyPair, time: UInt64) throws -> AuditHead? {
        try begin()
        do {
            var frontier = AuditFrontier()
            var lastEvent: UInt64 = 0
            for row in try auditRows(after: 0) {
                frontier.append(recordHash: row.hash)
                if row.kind != .auditHeadSigned { lastEvent = row.position }
            }
            let latest = try latestAuditHead(node: node)
            guard lastEvent > (latest?.position ?? 0) else {
                rollback()
                return latest
            }
            let head = AuditHead(node: node, position: frontier.size, root: frontier.root, time: time).signed(with: key)
            try insertAuditHead(head)
            try appendAudit(.auditHeadSigned(position: head.position, root: head.root), time: time)
            try commit()
            return head
        } catch {
            rollback()
            throw error
        }
    }
}
