import Foundation
import SealpostCore

/// The audit log on the running node (protocol/SPEC.md §15.7): appends in the cycle's
/// transaction, the periodic signed head, and the admin command `audit-head`.
///
/// Any concern appends with `try audit(.burnViewed(...))` where the thing happens, inside
/// the same cycle as the change it records: both commit together or neither does. The
/// in-memory head (`auditLog`) moves only when that commit succeeds.
extension Reactor {
    /// Appends `event` to the audit log in this cycle's transaction.
    /// - Parameter ref: the message the failure is reported against (as for `write`).
    /// - Throws: `StorageFailure` when the write fails (the whole cycle is rolled back).
    func audit(_ event: AuditEvent, ref: MessageID = .zero) throws {
        try write(ref: ref) {
            if !auditLog.hasPending {
                // First append of this cycle: the write lock is held from here to the commit, so
                // records another process appended before now (an operator's `invite`) are all
                // visible, and none can come between this cycle's.
                let foreign = try store.auditRows(after: auditLog.committed.position)
                if !foreign.isEmpty { auditLog.adopt(foreign) }
                batch.afterCommit { [weak self] in self?.auditLog.committedCycle() }
                batch.onRollback { [weak self] in self?.auditLog.rolledBack() }
            }
            let (record, hash) = try auditLog.append(event, time: Clock.nowMs())
            try store.insertAudit(record, hash: hash)
        }
    }

    /// Loads the audit head at start.
    func loadAudit() throws {
        auditLog = AuditLog(committed: try store.auditHead(), lastSigned: try store.latestAuditHead(node: config.name),
                            firstSignMs: Clock.nowMs() + UInt64(config.audit.signEveryS) * 1000)
        auditLog.peers = try store.auditPeers()
    }

    /// Records the peers added, removed or re-keyed in node.yaml since the log last said
    /// (a `peer add` on a running or a stopped node, or a hand edit), and commits.
    /// From housekeeping and after a config reload; a failed commit is retried there.
    func auditPeerChanges() {
        let wanted = Dictionary(config.peers.map { ($0.name, $0.keyBytes) }, uniquingKeysWith: { a, _ in a })
        let changes = AuditLog.peerChanges(from: auditLog.peers, to: wanted)
        guard !changes.isEmpty, !batch.isOpen else { return }
        do {
            for event in changes { try audit(event) }
            batch.afterCommit { [weak self] in self?.auditLog.peers = wanted }
        } catch {
            logger.warning("peer changes not recorded in the audit log: \(error)")
        }
        finishCycle()
    }

    /// From the loop: signs the head every `audit.sign_every_s` when the log changed.
    func auditTick(nowMs: UInt64) {
        guard auditLog.signingDue(nowMs: nowMs, everyMs: UInt64(config.audit.signEveryS) * 1000) else { return }
        _ = signAuditHead()
    }

    /// Signs the committed head now if events were committed since the last signed head,
    /// stores it and appends its checkpoint record, and commits; returns the latest signed head.
    @discardableResult
    func signAuditHead() -> AuditHead? {
        do {
            var head: AuditHead?
            try write(ref: .zero) {
                if !auditLog.hasPending {
                    let foreign = try store.auditRows(after: auditLog.committed.position)
                    if !foreign.isEmpty { auditLog.adopt(foreign) }
                }
                guard auditLog.needsSigning else { return }
                let signed = auditLog.headToSign(node: config.name, time: Clock.nowMs()).signed(with: keys.sign)
                try store.insertAuditHead(signed, frontier: auditLog.committed.frontier)
                head = signed
            }
            if let head {
                try audit(.auditHeadSigned(position: head.position, root: head.root))
                batch.afterCommit { [weak self] in
                    self?.auditLog.signed(head)
                    self?.logger.debug("audit head signed", metadata: ["position": "\(head.position)"])
                }
            }
            finishCycle()
        } catch {
            finishCycle()
            logger.warning("audit head not signed: \(error)")
        }
        return auditLog.lastSigned
    }

    /// What this node can prove about `filter` (a trace answer, protocol/SPEC.md §15.7.4): the
    /// matching records, each with its proof against a head signed now if the log changed since
    /// the last one. Nil when the log holds no such record or the head cannot be signed.
    /// Commits the head (if one is signed), so call it outside a cycle's writes or at its end.
    func auditEvidence(_ filter: AuditFilter, limit: Int = 1000) throws -> (head: AuditHead, proofs: [AuditProof])? {
        let matching = try store.auditRecords(filter, limit: limit).map(\.record)
        guard !matching.isEmpty else { return nil }
        guard let head = signAuditHead(), head.position >= matching.last!.position else { return nil }
        return (head, try store.auditProofs(of: matching, head: head))
    }

    // MARK: admin

    /// The `audit` member of `status` (protocol/SPEC.md 15.3).
    func auditStatus() -> [String: Any] {
        ["records": Int(auditLog.committed.position), "signed_through": Int(auditLog.signedThrough),
         "last_signed": auditLog.lastSigned.map { Clock.rfc3339(ms: $0.time) } ?? NSNull(),
         "sign_every_s": config.audit.signEveryS]
    }

    /// `{"cmd": "audit-head"}`: signs the head if the log changed since the last one (not with
    /// `"sign": false`), and answers it with the committed position and hash this node holds.
    func auditHeadAdmin(sign: Bool) -> [String: Any] {
        let head = sign ? signAuditHead() : auditLog.lastSigned
        var answer: [String: Any] = ["node": config.name, "position": Int(auditLog.committed.position),
                                     "hash": Hex.encode(auditLog.committed.hash), "sign_key": Hex.encode(keys.sign.publicKey)]
        if let head { answer["head"] = Self.json(head) }
        return answer
    }

    static func json(_ head: AuditHead) -> [String: Any] {
        ["node": head.node, "position": Int(head.position), "root": Hex.encode(head.root),
         "time": Clock.rfc3339(ms: head.time), "time_ms": Int(head.time), "signature": Hex.encode(head.signature)]
    }

}
