import SealpostCore

/// The node's audit log as the reactor sees it: the committed head (position, chained
/// hash, Merkle frontier) and the tip of this cycle's appends (protocol/SPEC.md §15.7).
///
/// Pure logic, no I/O. `append` gives the record to write in the cycle's transaction and
/// moves the tip; the committed head changes only in `committed()` (the batch's
/// `afterCommit`), and `rolledBack()` (its `onRollback`) puts the tip back.
struct AuditLog {
    struct Head: Equatable {
        /// Position of the last record (0 for an empty log).
        var position: UInt64 = 0
        /// Its chained hash (`AuditRecord.genesis` for an empty log).
        var hash: [UInt8] = AuditRecord.genesis
        /// The Merkle tree over the record hashes so far, for the signed head's root.
        var frontier = AuditFrontier()
        /// Position of the last record that is not an `audit_head_signed` checkpoint.
        var lastEvent: UInt64 = 0

        var root: [UInt8] { frontier.root }

        mutating func add(position: UInt64, hash: [UInt8], kind: AuditKind?) {
            self.position = position
            self.hash = hash
            frontier.append(recordHash: hash)
            if kind != .auditHeadSigned { lastEvent = position }
        }
    }

    /// What is committed to the database.
    private(set) var committed: Head
    /// What this cycle has appended on top (equal to `committed` between cycles).
    private(set) var tip: Head
    /// The last signed head.
    private(set) var lastSigned: AuditHead?
    var signedThrough: UInt64 { lastSigned?.position ?? 0 }
    /// When the head is next signed if the log changed (ms since the epoch).
    private(set) var nextSignMs: UInt64 = 0
    /// The peers (name → CURVE key) as the log last recorded them (`peer_added`, `peer_removed`).
    var peers: [String: [UInt8]] = [:]

    /// - Parameter firstSignMs: when the first periodic signature is due (one interval after the start).
    init(committed: Head = Head(), lastSigned: AuditHead? = nil, firstSignMs: UInt64 = 0) {
        self.committed = committed
        self.tip = committed
        self.lastSigned = lastSigned
        self.nextSignMs = firstSignMs
    }

    /// Whether this cycle has appended records that wait on the commit.
    var hasPending: Bool { tip.position != committed.position }

    /// The record for `event` at `time` (ms), chained to the tip, and its hash; the tip moves on.
    mutating func append(_ event: AuditEvent, time: UInt64) -> (record: AuditRecord, hash: [UInt8]) {
        let record = AuditRecord(position: tip.position + 1, time: time, event: event, prev: tip.hash)
        let hash = record.hash
        tip.add(position: record.position, hash: hash, kind: event.kind)
        return (record, hash)
    }

    /// Records another process appended (an operator command writing the database while the
    /// node runs: `invite`, `invite revoke`), read inside this cycle's transaction before its
    /// first append. They are committed already, so both the head and the tip take them.
    mutating func adopt(_ rows: [(position: UInt64, hash: [UInt8], kind: AuditKind?)]) {
        precondition(!hasPending, "audit records adopted after this cycle appended")
        for row in rows { committed.add(position: row.position, hash: row.hash, kind: row.kind) }
        tip = committed
    }

    /// The cycle committed: its appends are the log.
    mutating func committedCycle() { committed = tip }

    /// The cycle was rolled back: its appends never happened.
    mutating func rolledBack() { tip = committed }

    /// Whether events were committed since the last signed head (a checkpoint record alone does not count).
    var needsSigning: Bool { committed.lastEvent > signedThrough }

    /// The head to sign now: the committed log (never this cycle's uncommitted tip).
    func headToSign(node: String, time: UInt64) -> AuditHead {
        AuditHead(node: node, position: committed.position, root: committed.root, time: time)
    }

    /// A head was signed and stored (after its commit).
    mutating func signed(_ head: AuditHead) {
        if head.position >= signedThrough { lastSigned = head }
    }

    /// The records that bring the log's peers to `wanted` (the configured ones): a removed peer,
    /// an added one, and a re-added one for a peer whose key changed. In name order.
    static func peerChanges(from recorded: [String: [UInt8]], to wanted: [String: [UInt8]]) -> [AuditEvent] {
        var out: [AuditEvent] = []
        for name in Set(recorded.keys).union(wanted.keys).sorted() {
            switch (recorded[name], wanted[name]) {
            case (.some, nil): out.append(.peerRemoved(peer: name, by: AuditActor.operator))
            case (let old, .some(let key)) where old != key: out.append(.peerAdded(peer: name, key: key, by: AuditActor.operator))
            default: break
            }
        }
        return out
    }

    /// How long the loop may sleep before the periodic signature is due (nil: nothing to sign).
    func msUntilSigning(nowMs: UInt64) -> Int? {
        guard needsSigning else { return nil }
        return nextSignMs <= nowMs ? 0 : Int(min(nextSignMs - nowMs, 3_600_000))
    }

    /// Whether the periodic signature is due at `nowMs` (every `everyMs`, only when the log changed);
    /// when it is, the next one is due `everyMs` later.
    mutating func signingDue(nowMs: UInt64, everyMs: UInt64) -> Bool {
        guard nowMs >= nextSignMs else { return false }
        nextSignMs = nowMs + everyMs
        return needsSigning
    }
}
