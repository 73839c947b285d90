import Foundation
import SealpostClient
import SealpostCore

extension ClientWorker.Engine {
    /// Asks the group's home node for a change (create, add, remove, admin, leave). The node's
    /// answer arrives later as a `group_event`: the conversation and its member list change
    /// then, for every member at once, and a refusal shows in the conversation with its reason.
    func groupRequest(_ op: Group.Op, group: String, members: [String]) throws -> WorkerReply {
        guard let address = Address(group) else { return .error("'\(group.prefix(80))' is not a group address (name@node)", status: 400) }
        if op == .create {
            guard address.node == profile.address.node else { return .error("a group is created on your own node", status: 400) }
            guard books.groups.groups[address.description] == nil else { return .error("\(address) exists already", status: 409) }
        } else if books.groups.groups[address.description] == nil {
            return .error("you are not in \(address) (or its news has not reached you yet)", status: 404)
        }
        for m in members where Address(m) == nil { return .error("'\(m.prefix(80))' is not an address (user@node)", status: 400) }
        if op != .create && op != .leave && members.isEmpty { return .error("name at least one member", status: 400) }
        try client.groupOp(op, group: address, members: op == .leave ? [] : members)
        return .json(["group": address.description, "op": op.name, "sent": true], status: 202)
    }
}
