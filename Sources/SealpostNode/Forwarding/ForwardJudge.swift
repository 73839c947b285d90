import SealpostCore

/// Decides whether a node accepts a forward from one of its users (protocol/SPEC.md 7.9.5),
/// from the signed header alone: pure logic, the reactor gives it what it knows and sends
/// the refusal it returns (`ERROR 422`).
struct ForwardJudge {
    /// What the node knows that the judge asks about.
    struct Facts {
        /// The `sign_key` of a person's checked directory entry, or nil when unknown.
        var signKey: (String) -> [UInt8]?
        /// Whether a unit (node) is in this node's federation: itself, or a node whose key it holds.
        var knowsUnit: (String) -> Bool
        /// The members of a group whose home is this node, or nil (a person, or a group elsewhere).
        var groupMembers: (String) -> [String]?
    }

    enum Verdict: Equatable {
        case accept
        case refuse(ForwardRefusal)
    }

    var limits: ForwardLimits

    /// Judges the forward `header` sent by `from` to `to`, where `accepted` are the recipients
    /// this node already took the same last hop for.
    func judge(_ header: ForwardHeader, from: String, to: String, accepted: Set<String>, facts: Facts) -> Verdict {
        guard let last = header.last else { return .refuse(ForwardRefusal("chain", "a forward needs at least one hop record")) }
        guard last.forwarder == from else {
            return .refuse(ForwardRefusal("chain", "the last hop of this forward is by \(last.forwarder), but you are \(from)"))
        }
        let check = header.check(envelopeFrom: from, envelopeTo: to, content: nil, signKey: facts.signKey)
        switch check.status {
        case .verified: break
        case .forged: return .refuse(ForwardRefusal("chain", "the forward's chain does not verify: \(check.problems.joined(separator: "; "))"))
        case .unverifiable: return .refuse(ForwardRefusal("chain", "the forward's chain cannot be checked here: \(check.problems.joined(separator: "; "))"))
        }
        if let members = facts.groupMembers(last.via), !members.contains(from) {
            return .refuse(ForwardRefusal("chain", "\(from) says it received it through \(last.via), but is not a member of it"))
        }
        if let refusal = header.policyRefusal(to: to, limits: limits, groupMembers: facts.groupMembers(to), knowsUnit: facts.knowsUnit) {
            return .refuse(refusal)
        }
        if !accepted.contains(to) && accepted.count >= Int(last.recipients) {
            return .refuse(ForwardRefusal("fanout", "this forward names \(last.recipients) recipient\(last.recipients == 1 ? "" : "s") and was already sent to \(accepted.count): \(to) would be one more"))
        }
        return .accept
    }

    /// Rules 5 and 6 of section 7.9.5 as a group's home applies them to a forward it is to fan
    /// out (from any node): more hops than this node's maximum, or a last hop naming more
    /// recipients than its maximum. Nil when within both.
    func homeLimitRefusal(_ header: ForwardHeader, home: String) -> ForwardRefusal? {
        guard let last = header.last else { return ForwardRefusal("chain", "a forward needs at least one hop record") }
        let rule = limits.effective(header.origin.policy)
        let message = "\(header.origin.sender)'s message \(header.origin.id.hex)"
        if header.hops.count > rule.maxHops {
            return ForwardRefusal("hops", "\(message) may be forwarded at most \(rule.maxHops) time\(rule.maxHops == 1 ? "" : "s") in a chain at \(home); this is forward \(header.hops.count)")
        }
        if Int(last.recipients) > rule.maxRecipients {
            return ForwardRefusal("fanout", "a forward of \(message) may go to at most \(rule.maxRecipients) recipient\(rule.maxRecipients == 1 ? "" : "s") at once at \(home) (a group counts as one); this one names \(last.recipients)")
        }
        return nil
    }

    /// Members of a group (at its home node) a forward may not reach under its scope, for the home's check at fan-out.
    func outsideScope(_ header: ForwardHeader, members: [String], knowsUnit: (String) -> Bool) -> [String] {
        switch limits.effective(header.origin.policy).scope {
        case .none: return members
        case .unit: return members.filter { Address($0)?.node != header.origin.unit }
        case .federation: return members.filter { !knowsUnit(Address($0)?.node ?? "") }
        case .anywhere, .unset: return []
        }
    }
}
