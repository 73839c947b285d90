import Foundation
import SealpostClient
import SealpostCore

/// Downgrades from the web client (protocol/SPEC.md 7.11.11): the person lowers the label of a
/// message of their unit they received or sent; their node decides whether they may (ERROR 453
/// with its reason when not), and later forwards of it carry the countersigned record.
extension ClientWorker.Engine {
    func downgrade(id: String, to: String, reason: String) throws -> WorkerReply {
        guard let forwards = books.forwards else { return .error("this profile keeps no messages with their origins", status: 500) }
        guard let message = MessageID(hex: id), !books.burns.isBurn(message) else {
            return .error("burn messages cannot be downgraded", status: 400)
        }
        let source: ForwardSource
        do { source = try forwards.source(id) } catch {
            return .error("\(id) is not kept with its signed origin here, so it cannot be downgraded", status: 404)
        }
        let updated: ForwardSource
        do {
            updated = try client.downgrade(source, to: to, reason: reason)
        } catch ClientError.refused(let code, let why) where code == ErrorCode.downgradeRefused.rawValue {
            // The node's word on it (not allowed, not this unit's message, …), for the dialog.
            return .json(["error": why, "code": Int(code)], status: 422)
        }
        guard let record = updated.downgrade else { return .error("no downgrade record", status: 502) }
        forwards.add(updated, at: Clock.nowMs())
        try forwards.save()
        let shown = try history.setDowngrade(id: id, effectiveLabel: client.labelDisplay(record.to),
                                             downgrade: History.Downgrade(by: record.by, reason: record.reason))
        if let shown { hub.publish(["type": "update", "message": json(shown)]) }
        return .json(["id": id, "label": client.labelDisplay(record.to), "from": client.labelDisplay(record.from), "by": record.by,
                      "reason": record.reason, "node": record.node, "message": shown.map(json) ?? NSNull()])
    }

    /// A received forward's downgrade, when it holds (its label is the forward's effective one).
    static func heldDowngrade(_ m: ReceivedMessage) -> History.Downgrade? {
        guard let d = m.forward?.header.downgrade, m.effectiveLabelRank == d.to else { return nil }
        return History.Downgrade(by: d.by, reason: d.reason)
    }
}
