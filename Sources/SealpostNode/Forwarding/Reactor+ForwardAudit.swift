import Logging
import SealpostCore

/// The audit records of forwards (protocol/SPEC.md 7.9.7): ids, addresses, times and
/// hashes, never content.
extension Reactor {
    enum ForwardEvent {
        /// A local user's forward was accepted (the forwarder's node): `forward`, then its `forward_hop`.
        case forwarded
        /// A local user's forward was refused: `forward_refused`.
        case refused(ForwardRefusal)
        /// This node handled the forward's hop as a relay, a group's home or a recipient's node: `forward_hop`.
        case hop(ForwardCountersign.Role)
    }

    /// Records what this node did with a forward in its audit log (in the cycle's transaction).
    /// - Parameters:
    ///   - envelope: the forward, `from` stamped.
    ///   - verified: the chain was checked already (the judge accepted it); nil: it is checked here.
    func auditForward(_ event: ForwardEvent, envelope: Envelope, header: ForwardHeader, verified: Bool = false) throws {
        guard let last = header.last else { return }
        let origin = header.origin
        switch event {
        case .refused(let refusal):
            try audit(.forwardRefused(id: envelope.id, origin: origin.id, by: envelope.from, reason: refusal.code), ref: envelope.id)
            try indexForTrace(origin.id)
            // The origin's unit is told, in the same transaction (SPEC 7.9.9).
            return try reportRefusedForward(envelope, header: header, reason: refusal.code)
        case .forwarded:
            try audit(.forward(id: envelope.id, origin: origin.id, by: envelope.from, recipientsHash: last.recipientSet,
                               hops: UInt8(header.hops.count)), ref: envelope.id)
            try indexForTrace(origin.id)
        case .hop:
            break
        }
        let role: ForwardCountersign.Role
        if case .hop(let r) = event { role = r } else { role = .forwarder }
        // A chain this node checked moments ago (the judge, another recipient of the same hop) is not
        // checked again. The check depends on the envelope's `from` and `to` as well as the chain, so
        // they are part of the key: a relay that changed either gets the chain checked afresh.
        let link = last.link + Array(envelope.from.utf8) + [0] + Array(envelope.to.utf8)
        let known = verified ? ForwardCheck.Status.verified : forwarding.checked[link]
        let check = known != nil ? nil : header.check(envelopeFrom: envelope.from, envelopeTo: envelope.to, content: nil) { [unowned self] in
            self.userSignKey($0)
        }
        let status = known ?? check?.status ?? .forged
        forwarding.remember(link, status)
        let chain: UInt8 = status == .verified ? 1 : status == .forged ? 0 : 2
        let statement = ForwardCountersign(originID: origin.id, originator: origin.sender, to: envelope.to,
                                           hopIndex: UInt8(header.hops.count), role: role, chain: chain, hop: last)
        try audit(.forwardHop(id: envelope.id, forwarder: last.forwarder, hop: statement.encode(),
                              countersignature: statement.sign(node: config.name, with: keys.sign)), ref: envelope.id)
        try indexForTrace(origin.id)
        if chain != 1 {
            logger.warning("forward whose chain does not verify here", metadata: [
                "origin": "\(origin.id.hex)", "forwarder": "\(last.forwarder)", "role": "\(role.name)", "problem": "\(check?.problems.first ?? "")"])
        }
    }
}
