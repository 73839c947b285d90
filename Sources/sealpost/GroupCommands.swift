import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

extension SealpostCommand {
    struct GroupCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "group",
            abstract: "Work groups that span units: NAME@node lives on the node where it was created.",
            subcommands: [Create.self, Add.self, Remove.self, Leave.self, Admin.self, SetLabel.self, Members.self, List.self])

        /// Sends a request to the group's home node and waits for its answer.
        /// - Parameter label: for `create` and `label`: the group's label, by name.
        static func request(_ op: Group.Op, group: Address, members: [String], label: String? = nil, profile: ProfileOption, json: Bool) {
            let p = profile.load()
            // It attaches to wait for the answer: the profile is held like inbox holds it.
            let lock = profile.lock()
            defer { withExtendedLifetime(lock) {} }
            do {
                let client = try profile.client(p)
                defer { client.close() }
                if let label {
                    try client.groupOp(op, group: group, members: members, label: try client.labelRank(label))
                } else {
                    try client.groupOp(op, group: group, members: members)
                }
                guard let answer = try client.awaitGroupEvent(group: group, timeoutMs: client.timeoutMs), let event = answer.groupEvent else {
                    fail("sent to \(group.node), but its answer has not arrived yet; check sealpost inbox")
                }
                if event.op == Group.Event.refused { fail(event.reason) }
                let book = GroupBook(profilePath: profile.path)
                book.note(answer, me: p.address.description)
                try book.save()
                let shown = event.label.map { client.labelDisplay($0) }
                if json {
                    var object: [String: Any] = ["group": group.description, "op": event.opName,
                                                 "members": event.members.map { ["address": $0.address, "admin": $0.admin] }]
                    if let shown { object["label"] = shown }
                    print(jsonLine(object))
                } else {
                    print("\(group)\(shown.map { " [\($0)]" } ?? ""): \(event.opName) done; members: \(event.members.map { $0.address + ($0.admin ? " (admin)" : "") }.joined(separator: ", "))")
                }
            } catch { fail("\(error)") }
        }

        static func members(_ list: String?) -> [String] {
            (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create NAME@yournode; you are its admin.")
            @Argument(help: "The group's name (its address is NAME@your node).") var name: String
            @Option(help: "Members to add, comma separated: a@x,b@y.") var members: String?
            @Option(help: "The group's label (default: your node's, e.g. 内部): every member must be cleared for it, and posts are at most it.")
            var label: String?
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print the result as JSON.") var json = false

            func validate() throws {
                guard Name.isValid(name) else { throw ValidationError("'\(name)' is not a valid group name: \(Name.rule)") }
                for m in GroupCommand.members(members) where Address(m) == nil { throw ValidationError("'\(m)' is not an address") }
            }

            func run() throws {
                let p = profile.load()
                GroupCommand.request(.create, group: Address(local: name, node: p.address.node)!, members: GroupCommand.members(members),
                                     label: label, profile: profile, json: json)
            }
        }

        /// GROUP, MEMBERS and the usual options, shared by add, remove and admin.
        struct MemberChange: ParsableArguments {
            @Argument(help: "The group, NAME@node.") var group: String
            @Argument(help: "Members, comma separated.") var members: String
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print the result as JSON.") var json = false

            func request(_ op: Group.Op) {
                GroupCommand.request(op, group: parseAddress(group), members: GroupCommand.members(members), profile: profile, json: json)
            }
        }

        struct SetLabel: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "label",
                abstract: "Set the group's label (admins only); raising it is refused while a member is not cleared for it.")
            @Argument(help: "The group, NAME@node.") var group: String
            @Argument(help: "The label: 公开/public, 内部/internal, 敏感/sensitive, 工作秘密/work-secret, …") var label: String
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print the result as JSON.") var json = false
            func run() throws {
                GroupCommand.request(.label, group: parseAddress(group), members: [], label: label, profile: profile, json: json)
            }
        }

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add members (admins only).")
            @OptionGroup var change: MemberChange
            func run() throws { change.request(.add) }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove members (admins only); they receive nothing sent after.")
            @OptionGroup var change: MemberChange
            func run() throws { change.request(.remove) }
        }

        struct Admin: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make members admins (admins only).")
            @OptionGroup var change: MemberChange
            func run() throws { change.request(.admin) }
        }

        struct Leave: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Leave a group.")
            @Argument(help: "The group, NAME@node.") var group: String
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print the result as JSON.") var json = false
            func run() throws { GroupCommand.request(.leave, group: parseAddress(group), members: [], profile: profile, json: json) }
        }

        struct Members: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "A group's members, as its home node last announced them.")
            @Argument(help: "The group, NAME@node.") var group: String
            @OptionGroup var profile: ProfileOption
            @Flag(help: "One JSON object per line.") var json = false

            func run() throws {
                let book = GroupBook(profilePath: profile.path)
                guard let entry = book.groups[parseAddress(group).description] else {
                    fail("you are not in \(group) (or its news has not reached you yet: run sealpost inbox)")
                }
                for m in entry.members {
                    print(json ? jsonLine(["address": m, "admin": entry.admins.contains(m)]) : m + (entry.admins.contains(m) ? "  (admin)" : ""))
                }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The groups you are in.")
            @OptionGroup var profile: ProfileOption
            @Flag(help: "One JSON object per line.") var json = false

            func run() throws {
                let book = GroupBook(profilePath: profile.path)
                if book.groups.isEmpty && !json { print("you are in no group yet"); return }
                for (name, entry) in book.groups.sorted(by: { $0.key < $1.key }) {
                    print(json ? jsonLine(["group": name, "members": entry.members, "admins": entry.admins])
                               : "\(name)  \(entry.members.count) members")
                }
            }
        }
    }
}
