import Foundation
import SealpostCore
import Sodium

/// Groups: the home node keeps the membership, applies `group_op`s, tells members
/// with `group_event`s, and fans messages out — to local members directly, and
/// one `group_fanout` per destination node for remote members (protocol/SPEC.md, "Groups").
extension Reactor {
    /// A group op or group message for a group whose home is this node (from a
    /// local user, `session` set, or relayed from another node).
    func handleGroupEnvelope(_ envelope: Envelope, session: Session?) throws {
        guard let to = Address(envelope.to) else { return }
        let groupAddress = to.description
        switch envelope.knownKind {
        case .groupOp?:
            guard let (op, targets, label) = try? Group.parseOp(labelled: envelope.body) else {
                return try refuseGroup(envelope, "malformed group operation")
            }
            try apply(op, targets: targets, label: label, group: to.local, actor: envelope.from, envelope: envelope)
        case let kind? where kind.fansOut:
            guard let group = groupHome.groups[to.local] else { return try refuseGroup(envelope, "there is no group \(groupAddress)") }
            // The fan-out wraps the envelope: it must still fit a body once wrapped.
            let limit = envelope.knownKind == .burn ? Envelope.maxLargeBodyBytes : Envelope.maxBodyBytes
            guard envelope.encodedSize + 4096 + group.members.count * 66 <= limit else {
                return try refuseGroup(envelope, "the message is too large for a group (limit about \(limit / 1024 - 4) KiB with its key wraps)")
            }
            guard group.isMember(envelope.from) else {
                return try refuseGroup(envelope, "only members may post to \(groupAddress)")
            }
            // The home node checks a post against the group's label and every member's clearance
            // (its own people's posts were checked at their SEND already).
            if let rank = labels.rank(of: envelope),
               let refusal = loweredForwardRefusal(envelope) ?? groupPostRefusal(envelope, rank: rank, group: group) {
                try refuseForLabel(envelope, recipient: groupAddress, refusal)
                if envelope.knownKind == .forward, let (header, _) = try? ForwardHeader.split(envelope.body) {
                    // A forward the home will not fan out: recorded and reported to the origin's unit (SPEC 7.9.9).
                    forwarding.refused += 1
                    try auditForward(.refused(ForwardRefusal("label_" + refusal.reason.name, refusal.text)), envelope: envelope, header: header)
                }
                return
            }
            if let problem = try forwardGroupProblem(envelope, members: group.members.map(\.address)) {
                return try refuseGroup(envelope, problem)
            }
            try noteForwardHop(envelope, role: .groupHome)
            try fanOut(envelope, to: group.members.map(\.address).filter { $0 != envelope.from })
        default:
            try refuseGroup(envelope, "\(groupAddress) is a group: send it group messages")
        }
    }

    private func apply(_ op: Group.Op, targets: [String], label: UInt8?, group name: String, actor: String, envelope: Envelope) throws {
        let now = Clock.nowMs()
        let groupAddress = address(name)
        let facts = GroupHome.Facts(
            me: config.name, defaultRank: labels.policy.defaultRank,
            isPerson: { [unowned self] in self.users.byName[$0] != nil },
            knowsAddress: { [unowned self] in self.knowsAddress($0) },
            carryRefusal: { [unowned self] in self.labels.policy.carry($0)?.text },
            membersRefusal: { [unowned self] in self.membersRefusal($0, rank: $1, group: $2)?.text })
        let change: GroupHome.Change
        switch groupHome.decide(op, targets: targets, label: label, group: name, address: groupAddress, actor: actor, facts: facts) {
        case .refuse(let reason): return try refuseGroup(envelope, reason)
        case .accept(let accepted): change = accepted
        }
        if let (current, rank) = change.label, rank < current {
            logger.notice("group label lowered", metadata: ["group": "\(groupAddress)", "by": "\(actor)",
                                                          "from": "\(labels.policy.set.display(current))", "to": "\(labels.policy.set.display(rank))"])
        }
        for w in change.writes {
            try write(ref: envelope.id) {
                switch w {
                case .create(let by): try store.createGroup(name: name, by: by, at: now)
                case .setLabel(let rank): try store.setGroupLabel(name, label: rank)
                case let .setMember(member, admin): try store.setMember(group: name, member: member, admin: admin, at: now)
                case .removeMember(let member): try store.removeMember(group: name, member: member)
                }
            }
        }
        if let (current, rank) = change.label, rank != current {
            try audit(.groupLabelChanged(group: groupAddress, from: current, to: rank, by: actor), ref: envelope.id)
        }
        let final = change.group
        let previous = groupHome.applied(final)
        batch.onRollback { [weak self] in self?.groupHome.rolledBack(name, to: previous) }
        let event = Group.Event(op: op.rawValue, actor: actor, members: final.members, label: final.label ?? labels.policy.defaultRank)
        try sendEvent(event, group: groupAddress, about: envelope, to: Set(final.members.map(\.address)).union(change.notify))
    }

    /// Who of `members` is not cleared for `rank`, as a refusal naming them (counted).
    private func membersRefusal(_ members: [String], rank: UInt8, group: String) -> LabelRefusal? {
        guard var refusal = labels.policy.deliver(rank, to: members.map { ($0, clearance(of: $0)) }) else { return nil }
        labels.count(refusal.reason)
        refusal.text = "\(group) is \(labels.policy.set.display(rank)): " + refusal.text
        return refusal
    }

    /// A person of this federation: a local user, or one in the federated directory.
    func knowsAddress(_ a: String) -> Bool {
        guard let address = Address(a) else { return false }
        return address.node == config.name ? users.byName[address.local] != nil : directory.remoteEntries[a] != nil
    }

    private func refuseGroup(_ envelope: Envelope, _ reason: String) throws {
        let event = Group.Event(op: Group.Event.refused, actor: envelope.from, reason: reason, members: [])
        try sendEvent(event, group: envelope.to, about: envelope, to: [envelope.from])
    }

    private func sendEvent(_ event: Group.Event, group: String, about envelope: Envelope, to recipients: Set<String>) throws {
        let id = MessageID(bytes: Sodium.genericHash(Array("event".utf8) + envelope.id.bytes + Array(envelope.from.utf8), outputLength: 16))!
        let notice = Envelope(id: id, from: group, to: group, kind: .groupEvent, sentAt: Clock.nowMs(),
                              body: event.encode())
        try fanOut(notice, to: recipients.sorted())
    }

    /// Local recipients get the envelope in their mailbox; remote ones get one
    /// `group_fanout` per destination node.
    func fanOut(_ envelope: Envelope, to recipients: [String]) throws {
        var byNode: [String: [String]] = [:]
        for r in recipients {
            guard let a = Address(r) else { continue }
            if a.node == config.name {
                try deliverLocally(envelope, to: a.local)
            } else {
                byNode[a.node, default: []].append(r)
            }
        }
        for (node, list) in byNode.sorted(by: { $0.key < $1.key }) {
            let id = MessageID(bytes: Sodium.genericHash(Array("fanout".utf8) + envelope.id.bytes + Array(node.utf8), outputLength: 16))!
            // The wrapper shows the label of what it carries, so every relay on the way checks it.
            let label = labels.rank(of: envelope).map { EnvelopeLabel(rank: $0, readableUntil: envelope.label?.readableUntil ?? 0) }
            let wrapper = Envelope(id: id, from: envelope.to, to: list[0], kind: .groupFanout,
                                   sentAt: envelope.sentAt, label: label, body: Group.fanoutBody(recipients: list, envelope: envelope))
            try journalOut(wrapper, dest: node)
        }
    }

    /// At a member's node: the home node's fan-out, into each listed local mailbox.
    func deliverFanout(_ wrapper: Envelope) throws {
        guard let (recipients, inner) = try? Group.parseFanout(wrapper.body),
              let group = Address(inner.to), Address(wrapper.from)?.description == group.description else {
            counters.undeliverable += 1
            return
        }
        for r in recipients {
            guard let a = Address(r), a.node == config.name else { continue }
            try deliverLocally(inner, to: a.local)
        }
    }
}
