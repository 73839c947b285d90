import SealpostCore

/// The groups whose home is this node, and the decision on each `group_op`
/// (protocol/SPEC.md, "Groups"): who may create, add, remove, make admin, change the
/// label or leave, and what that changes.
///
/// Pure logic: `decide` takes an operation and what the node knows (`Facts`) and returns
/// the refusal, or the change — the rows to write, the group as it will be, who is told.
/// The reactor writes the rows in the cycle's transaction, then `applied` puts the group in
/// memory and returns what was there, for `rolledBack` if the cycle's commit fails.
struct GroupHome {
    /// By group name (the local part of its address).
    private(set) var groups: [String: GroupState]

    /// What the node knows that a decision asks about.
    struct Facts {
        /// This node's name.
        var me: String
        /// The label of a group created without one, or of one without a label.
        var defaultRank: UInt8
        /// A local person's name (a group may not take it).
        var isPerson: (String) -> Bool
        /// A person of this federation: a local user, or one in the federated directory.
        var knowsAddress: (String) -> Bool
        /// Why this node may not carry `rank` at all, or nil.
        var carryRefusal: (UInt8) -> String?
        /// Who of the members is not cleared for `rank`, as a refusal text for `group`, or nil.
        var membersRefusal: (_ members: [String], _ rank: UInt8, _ group: String) -> String?
    }

    /// A row to write for a change.
    enum Write: Equatable {
        case create(by: String)
        case setLabel(UInt8)
        case setMember(String, admin: Bool)
        case removeMember(String)
    }

    /// An accepted operation.
    struct Change {
        /// The rows to write, in order.
        var writes: [Write]
        /// The group once they are committed.
        var group: GroupState
        /// Told besides the members (who was removed, or left).
        var notify: Set<String>
        /// The label before and after a `label` op, to audit when it changed.
        var label: (from: UInt8, to: UInt8)?
    }

    enum Outcome {
        case refuse(String)
        case accept(Change)
    }

    init(groups: [String: GroupState] = [:]) {
        self.groups = groups
    }

    /// Decides `op` on `targets` (and `label`) by `actor` for group `name`, whose address is `address`.
    func decide(_ op: Group.Op, targets: [String], label: UInt8?, group name: String, address groupAddress: String,
                actor: String, facts: Facts) -> Outcome {
        let state = groups[name]
        var writes: [Write] = []
        var notify: Set<String> = []
        switch op {
        case .create:
            guard state == nil else { return .refuse("\(groupAddress) already exists") }
            guard !facts.isPerson(name) else { return .refuse("\(groupAddress) is a person's address") }
            guard Address(actor)?.node == facts.me else { return .refuse("a group is created on its creator's own node") }
            guard targets.count < Group.maxMembers else { return .refuse("a group has at most \(Group.maxMembers) members") }
            let rank = label ?? facts.defaultRank
            if let refusal = facts.carryRefusal(rank) { return .refuse(refusal) }
            var created = GroupState(name: name, createdBy: actor, members: [(actor, true)], label: rank)
            for t in targets where t != actor && !created.isMember(t) {
                guard facts.knowsAddress(t) else { return .refuse("no user \(t) in this federation") }
                created.members.append((t, false))
            }
            // Every member must be cleared for the group's label (SPEC 7.11.8).
            if let refusal = facts.membersRefusal(created.members.map(\.address), rank, groupAddress) { return .refuse(refusal) }
            writes = [.create(by: actor), .setLabel(rank)] + created.members.map { .setMember($0.address, admin: $0.admin) }
            return .accept(Change(writes: writes, group: created, notify: notify, label: nil))
        case .add, .remove, .admin:
            guard var s = state else { return .refuse("there is no group \(groupAddress)") }
            guard s.isAdmin(actor) else { return .refuse("only admins of \(groupAddress) may \(op.name) members") }
            // Check every name first: a refused request changes nothing.
            for t in targets {
                if op == .add, !s.isMember(t), !facts.knowsAddress(t) { return .refuse("no user \(t) in this federation") }
                if op == .admin, !s.isMember(t) { return .refuse("\(t) is not a member of \(groupAddress)") }
            }
            if op == .add, s.members.count + Set(targets).subtracting(s.members.map(\.address)).count > Group.maxMembers {
                return .refuse("a group has at most \(Group.maxMembers) members")
            }
            if op == .add, let refusal = facts.membersRefusal(targets.filter { !s.isMember($0) }, s.label ?? facts.defaultRank, groupAddress) {
                return .refuse(refusal)
            }
            if op == .remove, !s.members.contains(where: { $0.admin && !targets.contains($0.address) }),
               s.members.contains(where: { !targets.contains($0.address) }) {
                return .refuse("that would leave \(groupAddress) without an admin; name another admin first")
            }
            for t in targets {
                switch op {
                case .add:
                    guard !s.isMember(t) else { continue }
                    guard facts.knowsAddress(t) else { return .refuse("no user \(t) in this federation") }
                    guard s.members.count < Group.maxMembers else { return .refuse("a group has at most \(Group.maxMembers) members") }
                    s.members.append((t, false))
                    writes.append(.setMember(t, admin: false))
                case .remove:
                    guard s.isMember(t) else { continue }
                    s.members.removeAll { $0.address == t }
                    notify.insert(t) // the removed member is told too
                    writes.append(.removeMember(t))
                default: // admin
                    guard let i = s.members.firstIndex(where: { $0.address == t }) else {
                        return .refuse("\(t) is not a member of \(groupAddress)")
                    }
                    s.members[i].admin = true
                    writes.append(.setMember(t, admin: true))
                }
            }
            return .accept(Change(writes: writes, group: s, notify: notify, label: nil))
        case .label:
            guard var s = state else { return .refuse("there is no group \(groupAddress)") }
            guard s.isAdmin(actor) else { return .refuse("only admins of \(groupAddress) may change its label") }
            guard let rank = label else { return .refuse("name the label") }
            if let refusal = facts.carryRefusal(rank) { return .refuse(refusal) }
            let current = s.label ?? facts.defaultRank
            // Raising it is refused while a member is not cleared for the new label.
            if rank > current, let refusal = facts.membersRefusal(s.members.map(\.address), rank, groupAddress) {
                return .refuse(refusal)
            }
            s.label = rank
            return .accept(Change(writes: [.setLabel(rank)], group: s, notify: notify, label: (current, rank)))
        case .leave:
            guard var s = state, s.isMember(actor) else { return .refuse("you are not a member of \(groupAddress)") }
            s.members.removeAll { $0.address == actor }
            writes.append(.removeMember(actor))
            if !s.members.isEmpty && !s.members.contains(where: \.admin) { s.members[0].admin = true } // never leave it without an admin
            if let first = s.members.first, first.admin { writes.append(.setMember(first.address, admin: true)) }
            notify.insert(actor)
            return .accept(Change(writes: writes, group: s, notify: notify, label: nil))
        }
    }

    /// A change's rows were written in this cycle's transaction: the group is `group` now.
    /// - Returns: what was there before, for `rolledBack`.
    mutating func applied(_ group: GroupState) -> GroupState? {
        defer { groups[group.name] = group }
        return groups[group.name]
    }

    /// The cycle that changed group `name` was rolled back: `previous` is back.
    mutating func rolledBack(_ name: String, to previous: GroupState?) {
        groups[name] = previous
    }
}
