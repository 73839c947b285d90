import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

/// `users disable|enable|remove|rekey` and `invite list|revoke`.
extension SealpostNodeCommand {
    /// Runs one account change and prints what it did.
    static func changeUser(_ options: DataOption, _ user: String, _ action: Operator.UserAction, json: Bool,
                           ttl: Int? = nil) {
        let change: Operator.UserChange
        do {
            change = try Operator.changeUser(dataDir: options.dir, user: user, action: action, ttlHours: ttl)
        } catch let error as NodeError { fail(error.description) } catch { fail("\(error)") }
        if json {
            var object: [String: Any] = ["address": change.address, "state": change.state, "changed": change.changed,
                                         "sessions_closed": change.sessionsClosed, "node_running": change.throughRunningNode]
            if action == .remove { object["mail_deleted"] = change.mailDeleted }
            if let invite = change.invite {
                object["code"] = invite.code
                object["expires_at"] = Clock.rfc3339(ms: invite.expiresAt * 1000)
            }
            printJSON(object)
            return
        }
        let closed = change.throughRunningNode ? "; \(change.sessionsClosed) open session\(change.sessionsClosed == 1 ? "" : "s") closed" : " (node stopped: takes effect when it starts)"
        switch action {
        case .disable:
            print(change.changed ? "disabled \(change.address): its key is refused\(closed); waiting mail is kept"
                                 : "\(change.address) was already disabled")
            if change.changed { print("restore it with: sealpost-node users enable --data \(options.data) \(user)") }
        case .enable:
            print(change.changed ? "enabled \(change.address): its key is admitted again and it is back in the directory"
                                 : "\(change.address) is active (it was not disabled)")
        case .remove:
            print("removed \(change.address): \(change.mailDeleted) waiting message\(change.mailDeleted == 1 ? "" : "s") deleted, directory entry withdrawn\(closed)")
        case .rekey:
            print("re-keying \(change.address): the old key is refused\(closed)")
            print("give this one-time code to the person; on the new device they run:")
            print("  sealpost join \(change.invite?.code ?? "")")
            print(change.invite?.code ?? "")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse USER's key at once and close their open sessions; their mail is kept (enable restores them).",
            discussion: "A disabled user is left out of the directory (other units see them go); new mail to them is refused, mail already waiting is kept.")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. wu.") var user: String
        @Flag(help: "Print the result as JSON.") var json = false
        func run() throws { SealpostNodeCommand.changeUser(options, user, .disable, json: json) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Admit a disabled USER's key again and put them back in the directory.")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. wu.") var user: String
        @Flag(help: "Print the result as JSON.") var json = false
        func run() throws { SealpostNodeCommand.changeUser(options, user, .enable, json: json) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete USER: their key, mailbox, reminders and burn copies; withdraw their directory entry.",
            discussion: "Cannot be undone. Group memberships are not changed: remove the person from their groups first.")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. wu.") var user: String
        @Flag(help: "Confirm: the mailbox is deleted for good.") var yes = false
        @Flag(help: "Print the result as JSON.") var json = false
        func validate() throws {
            if !yes { throw ValidationError("removing \(user) deletes their waiting mail for good; add --yes (or use: sealpost-node users disable \(user))") }
        }
        func run() throws { SealpostNodeCommand.changeUser(options, user, .remove, json: json) }
    }

    struct Rekey: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For a lost or stolen device: refuse USER's current key at once and print an invite for new keys, same address.",
            discussion: "The person runs `sealpost join CODE` on the new device; the node signs a new directory entry and other units fetch it. Correspondents' clients show \"key changed\".")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. wu.") var user: String
        @Option(help: "Hours the code stays valid (default: invite_ttl_hours, 24).") var ttl: Int?
        @Flag(help: "Print the result as JSON.") var json = false
        func run() throws { SealpostNodeCommand.changeUser(options, user, .rekey, json: json, ttl: ttl) }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the highest label USER may receive (their clearance), e.g. users clear wu 敏感.",
            discussion: "The node signs USER's directory entry again with the clearance (no re-enrolment) and publishes it: every client, node and relay of the federation checks it. Without one, a person is cleared to the node's default label (labels.default).")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. wu.") var user: String
        @Argument(help: "The label, by name or English name: 公开/public, 内部/internal, 敏感/sensitive, 工作秘密/work-secret, …") var label: String
        @Flag(help: "Print the result as JSON.") var json = false
        func run() throws {
            do {
                let c = try Operator.clearUser(dataDir: options.dir, user: user, label: label)
                if json {
                    printJSON(["address": c.address, "clearance": c.label, "changed": c.changed, "node_running": c.throughRunningNode])
                } else {
                    print("\(c.address) is cleared to \(c.label)" + (c.changed ? "" : " (unchanged)")
                          + (c.throughRunningNode ? "; the signed entry is published now" : " (node stopped: published when it starts)"))
                }
            } catch let error as NodeError { fail(error.description) }
        }
    }

    struct InviteList: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the invites the node holds: user, created, expires, used.")
        @OptionGroup var options: DataOption
        @Flag(help: "Also list used and expired invites.") var all = false
        @Flag(help: "One JSON object per line.") var json = false

        func run() throws {
            let invites: [InviteRecord]
            do { invites = try Operator.invites(dataDir: options.dir) } catch let error as NodeError { fail(error.description) }
            let node = (try? options.dir.loadConfig().name) ?? "?"
            let now = Clock.nowMs() / 1000
            func state(_ i: InviteRecord) -> String {
                i.usedAt != nil ? "used" : i.expiresAt <= now ? "expired" : "outstanding"
            }
            let shown = invites.filter { all || state($0) == "outstanding" }
            if json {
                for i in shown {
                    printJSON(["id": i.id, "address": "\(i.user)@\(node)", "created_at": Clock.rfc3339(ms: i.createdAt * 1000),
                               "expires_at": Clock.rfc3339(ms: i.expiresAt * 1000), "state": state(i), "rekey": i.rekey,
                               "used_at": i.usedAt.map { Clock.rfc3339(ms: $0 * 1000) } ?? NSNull()])
                }
                return
            }
            if shown.isEmpty {
                print(all ? "no invites on '\(node)'" : "no outstanding invites on '\(node)' (--all shows used and expired ones)")
                return
            }
            func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
            print(pad("ID", 18) + pad("ADDRESS", 28) + pad("CREATED", 22) + pad("EXPIRES", 22) + "STATE")
            for i in shown {
                let stamp = { (s: UInt64) in String(Clock.rfc3339(ms: s * 1000).prefix(19)) + "Z" }
                print(pad(i.id, 18) + pad("\(i.user)@\(node)", 28) + pad(stamp(i.createdAt), 22) + pad(stamp(i.expiresAt), 22)
                      + state(i) + (i.usedAt.map { " " + stamp($0) } ?? "") + (i.rekey ? " (re-key)" : ""))
            }
        }
    }

    struct InviteRevoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Withdraw an unused invite: its code is refused from now on (running node or not).")
        @OptionGroup var options: DataOption
        @Argument(help: "The invite id (invite list), or the user name when they have one unused invite.") var invite: String
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            do {
                let revoked = try Operator.revokeInvite(dataDir: options.dir, id: invite)
                let node = (try? options.dir.loadConfig().name) ?? "?"
                if json {
                    printJSON(["id": revoked.id, "address": "\(revoked.user)@\(node)", "state": "revoked"])
                } else {
                    print("revoked invite \(revoked.id) for \(revoked.user)@\(node): its code is refused from now on")
                }
            } catch let error as NodeError { fail(error.description) }
        }
    }
}
