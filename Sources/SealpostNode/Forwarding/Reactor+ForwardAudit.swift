import Logging
import SealpostCore

/// The audit records of forwards (protocol/SPEC.md 7.9.7): ids, addresses, times and
/// hashes, never content.
extension Reactor {
    enum ForwardEvent {
        /// A local user's forward was accepted (the forwarder's node).
        case forwarded
        /// A local user's forward was refused, and why.
        case refused(reason: String)
        /// This node handled the forward's hop as a relay, a group's home or a recipient's node.
        case hop(ForwardRole)
    }

    /// Records what this node did with a forward in its audit log.
    func auditForward(_ event: ForwardEvent, envelope: Envelope, header: ForwardHeader) throws {
        guard let last = header.last else { return }
        let check = header.check(envelopeFrom: envelope.from.isEmpty ? last.forwarder : envelope.from, envelopeTo: envelope.to,
                                 content: nil, signKey: { [unowned self] in self.userSignKey($0) })
        var metadata: Logger.Metadata = [
            "origin": "\(header.origin.id.hex)", "originator": "\(header.origin.sender)", "forwarder": "\(last.forwarder)",
            "to": "\(envelope.to)", "hop": "\(header.hops.count)", "hop_link": "\(Hex.encode(last.link))",
            "chain": "\(check.status.rawValue)",
        ]
        switch event {
        case .forwarded: metadata["event"] = "forward"
        case .refused(let reason): metadata["event"] = "forward_refused"; metadata["reason"] = "\(reason)"
        case .hop(let role): metadata["event"] = "forward_hop"; metadata["role"] = "\(role.rawValue)"
        }
        logger.debug("forward audit", metadata: metadata)
        // The countersigned record a trace reads (protocol/SPEC.md 11.7.2): ids, addresses, times, hashes.
        let role: ForwardHopRecord.Role
        switch event {
        case .refused(let reason):
            try audit(.forwardRefused(id: envelope.id, origin: header.origin.id, by: last.forwarder, reason: reason), ref: envelope.id)
            return try indexForTrace(header.origin.id)
        case .forwarded: role = .forwarder
        case .hop(.relay): role = .relay
        case .hop(.groupHome): role = .groupHome
        case .hop(.destination): role = .destination
        }
        let chain: UInt8 = check.status == .verified ? 0 : check.status == .forged ? 1 : 2
        let record = ForwardHopRecord(role: role, chain: chain, to: envelope.to, hops: UInt8(clamping: header.hops.count),
                                      origin: header.origin, hop: last).encode()
        try audit(.forwardHop(id: envelope.id, forwarder: last.forwarder, hop: record,
                              countersignature: ForwardHopRecord.countersign(record, with: keys.sign)), ref: envelope.id)
        try indexForTrace(header.origin.id)
    }
}
