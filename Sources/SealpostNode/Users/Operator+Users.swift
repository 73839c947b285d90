import Foundation
import SealpostCore

/// Account lifecycle for the operator: disable, enable, remove, re-key, and the
/// invites the node still holds.
///
/// A running node (its admin socket exists) makes the change itself, in its own
/// commit, so the key is refused and open sessions are closed at once. A stopped
/// node's database is changed directly; the node starts with the change.
extension Operator {
    public enum UserAction: String, Sendable, CaseIterable {
        case disable, enable, remove, rekey
    }

    /// What a user action did.
    public struct UserChange: Sendable {
        public let address: String
        /// `active`, `disabled`, `removed` or `rekeying` (disabled until the new keys enrol).
        public let state: String
        /// False when the account already was in that state.
        public let changed: Bool
        /// Sessions the running node closed (0 for a stopped node).
        public let sessionsClosed: Int
        /// Mailbox entries deleted by `remove`.
        public let mailDeleted: Int
        /// The re-key invite, for `rekey`.
        public let invite: Invite?
        /// Whether the running node made the change (else the stopped node's database was changed).
        public let throughRunningNode: Bool
    }

    /// Disables, enables, removes or re-keys `user`.
    /// - Parameters:
    ///   - ttlHours: for `rekey`, how long the invite stays valid (the config's `invite_ttl_hours` when nil).
    ///   - endpoint: for `rekey`, the endpoint written into the code (as for `invite`).
    /// - Throws: `NodeError` with a message for the operator (no such user, node not answering, …).
    public static func changeUser(dataDir: DataDir, user: String, action: UserAction, ttlHours: Int? = nil,
                                  endpoint: String? = nil) throws -> UserChange {
        let config = try dataDir.loadConfig()
        guard Name.isValid(user) else { throw NodeError.usage("'\(user)' is not a valid user name: \(Name.rule)") }
        if FileManager.default.fileExists(atPath: dataDir.adminSocketPath) {
            var request: [String: Any] = ["cmd": "user", "action": action.rawValue, "user": user]
            if let ttlHours { request["ttl_hours"] = ttlHours }
            if let endpoint { request["endpoint"] = endpoint }
            let answer: [String: Any]
            do {
                answer = try AdminClient.request(dataDir: dataDir, request, timeoutMs: 5000)
            } catch let error as NodeError where error.description.contains("is not running") {
                throw NodeError.usage("the node in \(dataDir.path) does not answer on its admin socket; nothing was changed. If it is stopped (it crashed), remove \(dataDir.adminSocketPath) and run this again")
            }
            var invite: Invite?
            if let code = answer["code"] as? String, let parsed = try? InviteCode(text: code) {
                invite = Invite(address: "\(user)@\(config.name)", code: code, expiresAt: parsed.expiresAt)
            }
            return UserChange(address: "\(user)@\(config.name)", state: answer["state"] as? String ?? "?",
                              changed: answer["changed"] as? Bool ?? true, sessionsClosed: answer["sessions_closed"] as? Int ?? 0,
                              mailDeleted: answer["mail_deleted"] as? Int ?? 0, invite: invite, throughRunningNode: true)
        }
        return try changeStoppedNode(dataDir: dataDir, config: config, user: user, action: action, ttlHours: ttlHours, endpoint: endpoint)
    }

    private static func changeStoppedNode(dataDir: DataDir, config: NodeConfig, user: String, action: UserAction,
                                          ttlHours: Int?, endpoint: String?) throws -> UserChange {
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        guard let record = try store.user(named: user) else {
            throw NodeError.usage("no user '\(user)' on \(config.name); see sealpost-node users")
        }
        let address = "\(user)@\(config.name)"
        let now = Clock.nowMs() / 1000
        var state = "active", changed = true, mail = 0
        var invite: Invite?
        var rekeyInvite: String?
        do {
            try store.begin()
            switch action {
            case .disable:
                state = "disabled"
                // An open re-key invite would enable the account again: withdrawn.
                let withdrawn = try store.withdrawRekeyInvites(user: user)
                if record.disabledAt == nil { try store.setUserDisabled(user, at: now) }
                changed = record.disabledAt == nil || withdrawn > 0
            case .enable:
                changed = record.disabledAt != nil
                if changed, let since = try store.rekeyPending(user: user) {
                    throw NodeError.usage(rekeyPending(address, since: since, try store.outstandingRekey(user: user, now: now)))
                }
                if changed { try store.setUserDisabled(user, at: nil) }
            case .remove:
                state = "removed"
                mail = try store.removeUser(user)
            case .rekey:
                state = "rekeying"
                let keys = try dataDir.loadKeys()
                let made = try newInvite(config: config, keys: keys, user: user, ttlHours: ttlHours, endpoint: endpoint,
                                         rekey: true, configPath: dataDir.configPath)
                try store.insert(invite: made.record)
                try store.setRekeyPending(user: user, since: try store.rekeyPending(user: user) ?? now)
                invite = made.invite
                rekeyInvite = made.record.id
                if record.disabledAt == nil { try store.setUserDisabled(user, at: now) }
            }
            if changed { _ = try store.bumpDirectoryVersion() }
            let nowMs = Clock.nowMs()
            switch action {
            case .disable where record.disabledAt == nil:
                try store.appendAudit(.userDisabled(user: address, by: AuditActor.operator), time: nowMs)
            case .enable where changed:
                try store.appendAudit(.userEnabled(user: address, by: AuditActor.operator), time: nowMs)
            case .remove:
                try store.appendAudit(.userRemoved(user: address, by: AuditActor.operator), time: nowMs)
            case .rekey:
                try store.appendAudit(.userRekeyed(user: address, by: AuditActor.operator), time: nowMs)
                if let rekeyInvite { try store.appendAudit(.inviteCreated(invite: rekeyInvite, user: address, rekey: true, by: AuditActor.operator), time: nowMs) }
            default:
                break
            }
            try store.commit()
        } catch let error as NodeError {
            store.rollback()
            throw error
        } catch {
            store.rollback()
            throw NodeError.storage("cannot change \(address) in \(dataDir.databasePath): \(error); nothing was changed")
        }
        return UserChange(address: address, state: state, changed: changed, sessionsClosed: 0, mailDeleted: mail,
                          invite: invite, throughRunningNode: false)
    }

    /// Why `enable` refuses while a re-key waits: the old key may be on a lost device.
    static func rekeyPending(_ address: String, since: UInt64, _ invite: InviteRecord?) -> String {
        let user = address.split(separator: "@").first.map(String.init) ?? address
        let open = invite.map { "; invite \($0.id) is open until \(Clock.rfc3339(ms: $0.expiresAt * 1000))" } ?? "; no invite is open"
        return "\(address) waits for new keys since a re-key at \(Clock.rfc3339(ms: since * 1000))\(open). Enabling would admit the old key, which may be on the lost device. Let the person join with a re-key code (a new one: sealpost-node users rekey \(user)), or remove the user: sealpost-node users remove \(user)"
    }

    /// The invites the node holds (outstanding, used, expired less than a day ago), newest first.
    public static func invites(dataDir: DataDir) throws -> [InviteRecord] {
        _ = try dataDir.loadConfig()
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        return try store.invites()
    }

    /// Withdraws an unused invite: its key is refused from the next handshake on,
    /// running node or not (the node reads invites at each handshake and at ENROLL).
    /// - Parameter id: the invite's id (`invite list`), or a user name with exactly one unused invite.
    /// - Returns: the invite withdrawn.
    public static func revokeInvite(dataDir: DataDir, id: String) throws -> InviteRecord {
        let config = try dataDir.loadConfig()
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        let all = try store.invites()
        var matches = all.filter { $0.id == id }
        if matches.isEmpty {
            matches = all.filter { $0.user == id && $0.usedAt == nil }
            if matches.count > 1 {
                throw NodeError.usage("\(id)@\(config.name) has \(matches.count) unused invites; give the invite id (sealpost-node invite list)")
            }
        }
        guard let invite = matches.first else {
            throw NodeError.usage("no invite '\(id)' on \(config.name); see sealpost-node invite list")
        }
        guard invite.usedAt == nil else {
            throw NodeError.usage("invite \(invite.id) was already used by \(invite.user)@\(config.name); to cut off that user: sealpost-node users disable \(invite.user)")
        }
        do {
            try store.begin()
            do {
                try store.deleteInvite(id: invite.id)
                try store.appendAudit(.inviteRevoked(invite: invite.id, user: "\(invite.user)@\(config.name)", by: AuditActor.operator),
                                      time: Clock.nowMs())
                try store.commit()
            } catch {
                store.rollback()
                throw error
            }
        } catch {
            throw NodeError.storage("cannot revoke invite \(invite.id) in \(dataDir.databasePath): \(error)")
        }
        return invite
    }
}
