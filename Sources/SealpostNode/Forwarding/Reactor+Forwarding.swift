import Foundation
import Logging
import SealpostCore

/// Forwards (protocol/SPEC.md 7.9): the forwarder's node judges a `forward` from one of its
/// users from the signed header alone and refuses it with `ERROR 422` saying why; every node
/// that handles one (the forwarder's, relays, a group's home, the recipients') countersigns
/// its hop in its audit log. Nodes never see the content.
extension Reactor {
    /// What this node knows for the judge: directory keys, federation units, its own groups.
    var forwardFacts: ForwardJudge.Facts {
        ForwardJudge.Facts(
            signKey: { [unowned self] in self.userSignKey($0) },
            knowsUnit: { [unowned self] in $0 == self.config.name || self.directory.nodeKeys[$0] != nil },
            groupMembers: { [unowned self] address in
                guard let a = Address(address), a.node == self.config.name else { return nil }
                return self.groupHome.groups[a.local]?.members.map(\.address)
            })
    }

    /// The `sign_key` of a person's directory entry as this node holds it (its own users, or federated entries).
    func userSignKey(_ address: String) -> [UInt8]? {
        guard let a = Address(address) else { return nil }
        if a.node == config.name { return users.byName[a.local]?.signKey }
        guard let remote = directory.remoteEntries[address], let entry = try? DirectoryEntry.decode(remote.entry) else { return nil }
        return entry.signKey
    }

    /// Why a `forward` from local `user` cannot be accepted, or nil (checked before it is stored).
    func forwardProblem(_ envelope: Envelope, from user: String) throws -> (code: ErrorCode, reason: String)? {
        guard envelope.knownKind == .forward else { return nil }
        guard let (header, sealed) = try? ForwardHeader.split(envelope.body), !sealed.isEmpty else {
            return (.badRequest, "malformed forward: it must start with its origin and hop records, then its sealed content")
        }
        let me = address(user)
        let refused: ForwardRefusal? = try {
            if envelope.flags & Burn.fileFlag != 0 { return ForwardRefusal("view_once", "view-once files cannot be forwarded") }
            if envelope.flags & Quote.flag != 0 { return ForwardRefusal("flags", "a forward does not quote: send the note inside it") }
            if try store.isBurnID(header.origin.id) { return ForwardRefusal("burn", "burn messages cannot be forwarded or quoted") }
            if let offer = header.offer {
                if burns.files[offer.fileId] != nil { return ForwardRefusal("view_once", "view-once files cannot be forwarded") }
                guard let file = transfers.files[offer.fileId], file.record.size == offer.cipherSize, file.record.chunks == offer.chunks else {
                    return ForwardRefusal("file", "file \(offer.fileId.hex) is no longer on \(config.name) (collected after its retention): it cannot be forwarded; ask its sender to send it again")
                }
                guard file.record.owner == user || file.readers[.user(user)] != nil else {
                    return ForwardRefusal("file", "file \(offer.fileId.hex) was not sent to you: only its recipients may forward it")
                }
            }
            let judge = ForwardJudge(limits: config.forwarding.limits)
            let accepted = try store.forwardRecipients(hop: header.last?.link ?? [])
            if case .refuse(let refusal) = judge.judge(header, from: me, to: envelope.to, accepted: accepted, facts: forwardFacts) {
                return refusal
            }
            return nil
        }()
        guard let refused else { return nil }
        forwarding.refused += 1
        logger.info("forward refused", metadata: ["user": "\(me)", "origin": "\(header.origin.id.hex)", "reason": "\(refused.code)"])
        var stamped = envelope
        stamped.from = me
        try auditForward(.refused(refused), envelope: stamped, header: header)
        return (.forwardRefused, refused.reason)
    }

    /// A forward from a local user was accepted (and is new): the recipient counts against its
    /// hop, a file it offers waits for the next hop's pull, and the hop is countersigned.
    func noteForwardAccepted(_ envelope: Envelope) throws {
        guard envelope.knownKind == .forward, let (header, _) = try? ForwardHeader.split(envelope.body), let last = header.last else { return }
        let nowMs = Clock.nowMs()
        try write(ref: envelope.id) { try store.noteForwardRecipient(hop: last.link, recipient: envelope.to, at: nowMs) }
        if let offer = header.offer, let file = transfers.files[offer.fileId], let dest = Address(envelope.to)?.node,
           dest != config.name, let next = peering.routeTable.nextHop(to: dest) {
            // The recipients' nodes pull it from here, as from an origin (section 7.8.5).
            try setReader(file, .node(next), fetched: false)
        }
        forwarding.accepted += 1
        try auditForward(.forwarded, envelope: envelope, header: header, verified: true)
    }

    /// The file a forward offers, for the pull at a recipient's node (nil for other kinds).
    func forwardedOffer(_ envelope: Envelope) -> FileOffer? {
        guard envelope.knownKind == .forward else { return nil }
        return (try? ForwardHeader.split(envelope.body))?.header.offer
    }

    /// A group's home fans a forward out only within its own limits (section 7.9.5, rules 5 to 7):
    /// no more hops than its maximum, no more recipients named by the last hop than its maximum,
    /// and every member within the scope. It judges forwards from other nodes too: their
    /// forwarder's node may have looser settings than the group's home (or skip its checks).
    /// A refusal is recorded in its audit log and answered with a `group_event`.
    func forwardGroupProblem(_ envelope: Envelope, members: [String]) throws -> String? {
        guard envelope.knownKind == .forward, let (header, _) = try? ForwardHeader.split(envelope.body) else { return nil }
        let judge = ForwardJudge(limits: config.forwarding.limits)
        if let refusal = judge.homeLimitRefusal(header, home: config.name) {
            forwarding.refused += 1
            try auditForward(.refused(refusal), envelope: envelope, header: header)
            return refusal.reason
        }
        let outside = judge.outsideScope(header, members: members, knowsUnit: { $0 == config.name || directory.nodeKeys[$0] != nil })
        guard !outside.isEmpty else { return nil }
        forwarding.refused += 1
        let scope = judge.limits.effective(header.origin.policy).scope
        try auditForward(.refused(ForwardRefusal(scope == .none ? "no_forward" : scope.name, "members outside the scope")), envelope: envelope, header: header)
        return "\(header.origin.sender)'s message \(header.origin.id.hex) may not reach every member of \(envelope.to) under its forward policy; outside it: \(outside.prefix(5).joined(separator: ", "))"
    }

    /// Countersigns the hop of a forward this node handles as `role` (a relay, a group's home,
    /// a recipient's node); the forwarder's node does in `noteForwardAccepted`.
    func noteForwardHop(_ envelope: Envelope, role: ForwardCountersign.Role) throws {
        guard let forward = carried(.forward, in: envelope), let (header, _) = try? ForwardHeader.split(forward.body) else { return }
        forwarding.hops += 1
        try auditForward(.hop(role), envelope: forward, header: header)
    }
}

/// The node's forwarding counters (status `forwards`) and the chains it checked lately.
struct ForwardingState {
    /// Forwards of local users accepted and refused (ERROR 422).
    var accepted: UInt64 = 0
    var refused: UInt64 = 0
    /// Hops countersigned as a relay, group home or destination.
    var hops: UInt64 = 0
    /// Forward reports (SPEC 7.9.9): sent to other units, withheld by the per-forwarder rate,
    /// received for this unit (made here or relayed), of those with no officer to read them, and dropped (forged, not ours).
    var reportsSent: UInt64 = 0
    var reportsSuppressed: UInt64 = 0
    var reportsReceived: UInt64 = 0
    var reportsUnread: UInt64 = 0
    var reportsDropped: UInt64 = 0
    var reportLimiter = ForwardReportLimiter()
    /// Reports taken from other nodes, per reporting node (SPEC 7.9.9 "Rate"): a node that signs
    /// reports past `receivedRateFactor` times its own per-forwarder rate is not heard past it.
    var receivedLimiter = ForwardReportLimiter()
    static let receivedRateFactor = 10
    /// Chains checked lately, by their last hop's link with the envelope's `from` and `to` (cleared at housekeeping, and when full):
    /// a hop handled in several roles or for several local recipients is verified once.
    private(set) var checked: [[UInt8]: ForwardCheck.Status] = [:]

    mutating func remember(_ link: [UInt8], _ status: ForwardCheck.Status) {
        if checked.count >= 4096 { checked.removeAll(keepingCapacity: true) }
        checked[link] = status
    }

    /// Directory keys may have changed (a re-key): what was checked is checked again.
    mutating func forgetChecks() { checked.removeAll(keepingCapacity: true) }
}
