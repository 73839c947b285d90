import Foundation
import SealpostCore

/// Decides a DOWNGRADE (protocol/SPEC.md 7.11.11) from plain values: who may, whose message,
/// whether the label goes down, and every signature. The reactor gives it what it knows,
/// countersigns the record it returns and answers a refusal with `ERROR 453`.
struct DowngradeJudge {
    /// What the node knows that the judge asks about.
    struct Facts {
        /// This node's name: only its own unit's messages are downgraded here.
        var node: String
        /// `labels.downgraders`: user names of this node.
        var downgraders: [String]
        /// The federation's label set.
        var set: LabelSet
        /// The `sign_key` of a person's directory entry as this node holds it, or nil.
        var signKey: (String) -> [UInt8]?
        /// This node's own signing key (the previous downgrade must be its own).
        var nodeKey: [UInt8]
        /// Milliseconds since the epoch.
        var now: UInt64
    }

    /// How far a downgrade's `at` may be from the node's clock.
    static let maxSkewMs: UInt64 = 10 * 60 * 1000

    enum Verdict: Equatable {
        /// The record to countersign (`node` and `node_signature` not yet set).
        case accept(DowngradeRecord)
        case refuse(String)
    }

    /// Judges `request` from the local user `user`.
    func judge(_ request: DowngradeRequest, user: String, facts: Facts) -> Verdict {
        let by = "\(user)@\(facts.node)"
        let origin = request.origin
        let message = "\(origin.sender)'s message \(origin.id.hex)"
        guard facts.downgraders.contains(user) else {
            return .refuse("\(by) may not downgrade messages: not in labels.downgraders of \(facts.node) (ask its operator)")
        }
        guard origin.unit == facts.node else {
            return .refuse("\(message) is not of this unit: only its originating unit \(origin.unit) can downgrade it")
        }
        guard let originKey = facts.signKey(origin.sender) else {
            return .refuse("the origin of \(message) cannot be checked: \(origin.sender) is not in the directory of \(facts.node)")
        }
        guard origin.verify(signKey: originKey) else {
            return .refuse("bad signature: the origin of \(message) is not signed by \(origin.sender)")
        }
        guard let originLabel = origin.label else {
            return .refuse("\(message) has a version 1 origin, which names no label: it cannot be downgraded")
        }
        var current = originLabel
        if let previous = request.previous {
            if let problem = previous.problem(for: origin, nodeKey: facts.nodeKey) {
                return .refuse("bad signature: the earlier downgrade does not hold: \(problem)")
            }
            current = previous.to
        }
        guard request.from == current else {
            return .refuse("\(message) is \(facts.set.display(current)), not \(facts.set.display(request.from)) as the request says")
        }
        guard facts.set.contains(request.to) else {
            return .refuse("label rank \(request.to) is not in this federation's label set")
        }
        guard request.to < current else {
            return .refuse("not lower: \(message) is \(facts.set.display(current)); \(facts.set.display(request.to)) does not downgrade it")
        }
        guard !request.reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .refuse("a downgrade needs a reason")
        }
        let skew = request.at > facts.now ? request.at - facts.now : facts.now - request.at
        guard skew <= Self.maxSkewMs else {
            return .refuse("the downgrade's time is \(skew / 1000) s away from \(facts.node)'s clock (at most \(Self.maxSkewMs / 60_000) minutes)")
        }
        let record = request.record(by: by)
        guard let userKey = facts.signKey(by), record.verifyUser(signKey: userKey) else {
            return .refuse("bad signature: the downgrade statement is not signed by \(by)")
        }
        return .accept(record)
    }
}
