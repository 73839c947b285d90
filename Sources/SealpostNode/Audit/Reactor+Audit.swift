import Foundation
import SealpostCore

/// The audit log on the running node (protocol/SPEC.md §15.7): appends in the cycle's
/// transaction, the periodic signed head, and the admin commands `audit-head` and `audit-verify`.
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
            let (record, hash) = auditLog.append(event, time: Clock.nowMs())
            try store.insertAudit(record, hash: hash)
        }
    }

    /// Appends `event`, logging (not throwing) a failure: for events recorded beside work that
    /// has its own error handling. The cycle is rolled back all the same.
    func auditOrLog(_ event: AuditEvent, ref: MessageID = .zero) {
        do { try audit(event, ref: ref) } catch {
            logger.error("audit record not written; the cycle is rolled back", metadata: ["kind": "\(event.kind.name)", "error": "\(error)"])
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
                try store.insertAuditHead(signed)
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

    // MARK: admin

    /// `{"cmd": "audit-head"}`: signs the head if the log changed since the last one, and answers it.
    func auditHeadAdmin() -> [String: Any] {
        let head = signAuditHead()
        var answer: [String: Any] = ["node": config.name, "position": Int(auditLog.committed.position),
                                     "hash": Hex.encode(auditLog.committed.hash), "sign_key": Hex.encode(keys.sign.publicKey)]
        if let head { answer["head"] = Self.json(head) }
        return answer
    }

    /// `{"cmd": "audit-verify"}`: verifies the stored log against the signed heads, and that it
    /// ends where this node's head is (a tail cut above the last signed head shows here).
    func auditVerifyAdmin() -> [String: Any] {
        do {
            var result = try store.verifyAudit(node: config.name, nodeKey: keys.sign.publicKey)
            if result.ok, result.records < auditLog.committed.position {
                result.firstBad = result.records + 1
                result.problem = "the log ends at \(result.records) but this node has written \(auditLog.committed.position) records: records \(result.records + 1)…\(auditLog.committed.position) were cut"
            }
            return Self.json(result)
        } catch {
            return ["error": "cannot read the audit log: \(error)"]
        }
    }

    static func json(_ head: AuditHead) -> [String: Any] {
        ["node": head.node, "position": Int(head.position), "root": Hex.encode(head.root),
         "time": Clock.rfc3339(ms: head.time), "time_ms": Int(head.time), "signature": Hex.encode(head.signature)]
    }

    static func json(_ v: AuditVerification) -> [String: Any] {
        ["ok": v.ok, "records": Int(v.records), "heads_checked": v.headsChecked,
         "first_bad": v.firstBad.map { Int($0) } ?? NSNull(), "problem": v.problem ?? NSNull()]
    }
}
