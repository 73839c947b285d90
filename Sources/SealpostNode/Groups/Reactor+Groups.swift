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
            guard let group = groups[to.local] else { return try refuseGroup(envelope, "there is no group \(groupAddress)") }
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
        var state = groups[name]
        var notify: Set<String> = []
        switch op {
        case .create:
            guard state == nil else { return try refuseGroup(envelope, "\(groupAddress) already exists") }
            guard usersByName[name] == nil else { return try refuseGroup(envelope, "\(groupAddress) is a person's address") }
            guard Address(actor)?.node == config.name else { return try refuseGroup(envelope, "a group is created on its creator's own node") }
            guard targets.count < Group.maxMembers else { return try refuseGroup(envelope, "a group has at most \(Group.maxMembers) members") }
            let rank = label ?? labels.policy.defaultRank
            if let refusal = labels.policy.carry(rank) { return try refuseGroup(envelope, refusal.text) }
            var created = GroupState(name: name, createdBy: actor, members: [(actor, true)], label: rank)
            for t in targets where t != actor && !created.isMember(t) {
                guard knowsAddress(t) else { return try refuseGroup(envelope, "no user \(t) in this federation") }
                created.members.append((t, false))
            }
            // Every member must be cleared for the group's label (SPEC 7.11.8).
            if let refusal = membersRefusal(created.members.map(\.address), rank: rank, group: groupAddress) {
                return try refuseGroup(envelope, refusal.text)
            }
            try write(ref: envelope.id) {
                try store.createGroup(name: name, by: actor, at: now)
                try store.setGroupLabel(name, label: rank)
                for m in created.members { try store.setMember(group: name, member: m.address, admin: m.admin, at: now) }
            }
            state = created
        case .add, .remove, .admin:
            guard var s = state else { return try refuseGroup(envelope, "there is no group \(groupAddress)") }
            guard s.isAdmin(actor) else { return try refuseGroup(envelope, "only admins of \(groupAddress) may \(op.name) members") }
            // Check every name first: a refused request changes nothing.
            for t in targets {
                if op == .add, !s.isMember(t), !knowsAddress(t) { return try refuseGroup(envelope, "no user \(t) in this federation") }
                if op == .admin, !s.isMember(t) { return try refuseGroup(envelope, "\(t) is not a member of \(groupAddress)") }
            }
            if op == .add, s.members.count + Set(targets).subtracting(s.members.map(\.address)).count > Group.maxMembers {
                return try refuseGroup(envelope, "a group has at most \(Group.maxMembers) members")
            }
            if op == .add, let refusal = membersRefusal(targets.filter { !s.isMember($0) }, rank: s.label ?? labels.policy.defaultRank,
                                                        group: groupAddress) {
                return try refuseGroup(envelope, refusal.text)
            }
            if op == .remove, !s.members.contains(where: { $0.admin && !targets.contains($0.address) }),
               s.members.contains(where: { !targets.contains($0.address) }) {
                return try refuseGroup(envelope, "that would leave \(groupAddress) without an admin; name another admin first")
            }
            for t in targets {
                switch op {
                case .add:
                    guard !s.isMember(t) else { continue }
                    guard knowsAddress(t) else { return try refuseGroup(envelope, "no user \(t) in this federation") }
                    guard s.members.count < Group.maxMembers else { return try refuseGroup(envelope, "a group has at most \(Group.maxMembers) members") }
                    s.members.append((t, false))
                    try write(ref: envelope.id) { try store.setMember(group: name, member: t, admin: false, at: now) }
                case .remove:
                    guard s.isMember(t) else { continue }
                    s.members.removeAll { $0.address == t }
                    notify.insert(t) // the removed member is told too
                    try write(ref: envelope.id) { try store.removeMember(group: name, member: t) }
                default: // admin
                    guard let i = s.members.firstIndex(where: { $0.address == t }) else {
                        return try refuseGroup(envelope, "\(t) is not a member of \(groupAddress)")
                    }
                    s.members[i].admin = true
                    try write(ref: envelope.id) { try store.setMember(group: name, member: t, admin: true, at: now) }
                }
            }
            state = s
        case .label:
            guard var s = state else { return try refuseGroup(envelope, "there is no group \(groupAddress)") }
            guard s.isAdmin(actor) else { return try refuseGroup(envelope, "only admins of \(groupAddress) may change its label") }
            guard let rank = label else { return try refuseGroup(envelope, "name the label") }
            if let refusal = labels.policy.carry(rank) { return try refuseGroup(envelope, refusal.text) }
            let current = s.label ?? labels.policy.defaultRank
            // Raising it is refused while a member is not cleared for the new label.
            if rank > current, let refusal = membersRefusal(s.members.map(\.address), rank: rank, group: groupAddress) {
                return try refuseGroup(envelope, refusal.text)
            }
            if rank < current {
                logger.notice("group label lowered", metadata: ["group": "\(groupAddress)", "by": "\(actor)",
                                                              "from": "\(labels.policy.set.display(current))", "to": "\(labels.policy.set.display(rank))"])
            }
            s.label = rank
            try write(ref: envelope.id) { try store.setGroupLabel(name, label: rank) }
            if rank != current { try audit(.groupLabelChanged(group: groupAddress, from: current, to: rank, by: actor), ref: envelope.id) }
            state = s
        case .leave:
            guard var s = state, s.isMember(actor) else { return try refuseGroup(envelope, "you are not a member of \(groupAddress)") }
            s.members.removeAll { $0.address == actor }
            if !s.members.isEmpty && !s.members.contains(where: \.admin) { s.members[0].admin = true } // never leave it without an admin
            notify.insert(actor)
            try write(ref: envelope.id) {
                try store.removeMember(group: name, member: actor)
                if let first = s.members.first, first.admin { try store.setMember(group: name, member: first.address, admin: true, at: now) }
            }
            state = s
        }
        guard let final = state else { return }
        let previous = groups[name]
        groups[name] = final
        batch.onRollback { [weak self] in self?.groups[name] = previous }
        let event = Group.Event(op: op.rawValue, actor: actor, members: final.members, label: final.label ?? labels.policy.defaultRank)
        try sendEvent(event, group: groupAddress, about: envelope, to: Set(final.members.map(\.address)).union(notify))
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
        return address.node == config.name ? usersByName[address.local] != nil : remoteEntries[a] != nil
    }

    private func refuseGroup(_ envelope: Envelope, _ reason: String) throws {
        counters.groupRefusals += 1
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
