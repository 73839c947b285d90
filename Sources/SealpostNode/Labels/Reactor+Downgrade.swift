import Foundation
import Logging
import SealpostCore

/// Downgrades (protocol/SPEC.md 7.11.11): a person of this unit whom `labels.downgraders` allows
/// lowers the label of one of the unit's messages; the node countersigns the record in the same
/// commit as its `label_downgraded` audit record. Every node a forward passes checks that its
/// clear label is not below the label of what it forwards (the origin's, or a downgrade's that holds).
extension Reactor {
    /// The signing key of a node: this node's own, or the one it holds for a peer node.
    func nodeSignKey(_ node: String) -> [UInt8]? {
        node == config.name ? keys.sign.publicKey : directory.nodeKeys[node]
    }

    /// DOWNGRADE from a local user: judged, countersigned, audited, answered after the commit.
    func handleDowngrade(_ session: Session, user: String, request: DowngradeRequest) throws {
        let facts = DowngradeJudge.Facts(node: config.name, downgraders: config.labels.downgraders, set: labels.policy.set,
                                         signKey: { [unowned self] in self.userSignKey($0) }, nodeKey: keys.sign.publicKey,
                                         now: Clock.nowMs())
        switch DowngradeJudge().judge(request, user: user, facts: facts) {
        case .refuse(let reason):
            logger.notice("downgrade refused", metadata: ["user": "\(address(user))", "origin": "\(request.origin.id.hex)", "reason": "\(reason)"])
            reply(session, .error(code: ErrorCode.downgradeRefused.rawValue, ref: request.origin.id, reason: reason))
        case .accept(var record):
            record.countersign(node: config.name, with: keys.sign)
            try audit(.labelDowngraded(origin: request.origin.id, originator: request.origin.sender, by: record.by, from: record.from,
                                       to: record.to, record: record.encode()), ref: request.origin.id)
            // The countersigned record goes out only with its audit record: a rolled-back cycle
            // answers 500 (retry) and hands out no record the log does not hold.
            batch.afterCommit { [weak self] in
                guard let self else { return }
                self.labels.downgrades += 1
                self.logger.notice("message downgraded", metadata: [
                    "by": "\(record.by)", "origin": "\(request.origin.id.hex)",
                    "from": "\(self.labels.policy.set.display(record.from))", "to": "\(self.labels.policy.set.display(record.to))"])
                self.reply(session, .downgraded(record))
            }
            batch.onRollback { [weak self] in
                guard let self else { return }
                // As the cycle's acknowledgements: 507 while the disk is full, else 500.
                let full = self.storage.isFull
                self.reply(session, .error(code: (full ? ErrorCode.insufficientStorage : .internalError).rawValue, ref: request.origin.id,
                                           reason: full ? Self.storageFullReason(self.config.name) : CycleBatch.retryLater))
            }
        }
    }

    /// A forward (or a group fan-out carrying one) whose clear label is below the label of what it
    /// forwards, without a downgrade that holds here: refused like a ceiling (reason `lowered`).
    func loweredForwardRefusal(_ envelope: Envelope) -> LabelRefusal? {
        guard let forward = carried(.forward, in: envelope), let (header, _) = try? ForwardHeader.split(forward.body) else { return nil }
        let set = labels.policy.set
        let clear = labels.rank(of: forward) ?? labels.policy.defaultRank
        guard let text = header.loweredLabel(clearRank: clear, nodeKey: { [unowned self] in self.nodeSignKey($0) },
                                             display: { set.display($0) }) else { return nil }
        return LabelRefusal(.lowered, text)
    }

    /// The label a forward is held to at its recipient's node: its clear label, or the label of
    /// what it forwards when that is higher (a lowered label does not let it reach someone less cleared).
    func deliveryRank(_ envelope: Envelope, clear: UInt8) -> UInt8 {
        guard envelope.knownKind == .forward, let (header, _) = try? ForwardHeader.split(envelope.body),
              let effective = header.effectiveLabel(nodeKey: { [unowned self] in self.nodeSignKey($0) }).rank else { return clear }
        return max(clear, effective)
    }
}
