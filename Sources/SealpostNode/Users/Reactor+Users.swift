import Foundation
import Logging
import SealpostCore
import Sodium

/// Account lifecycle on the running node: `users disable|enable|remove|rekey`
/// through the admin socket (protocol/SPEC.md, section 15.6).
///
/// A key stops being admitted at once: the ZAP handler no longer knows it, and
/// connections it already authenticated are cut off by generation. Every user
/// User-Id carries the generation of its handshake (`u:NAME:GEN`); revoking a
/// user records the current generation for them, and whatever arrives on a
/// connection of that generation or older is answered `ERROR 423` and its
/// session forgotten. The generation lives in memory only: a restarted node has
/// no connections from before.
extension Reactor {
    static let revokedReason = "this device's key is no longer admitted by this node (account disabled, removed or re-keyed); ask your operator"

    /// Whether a message from `principal` came on a connection authenticated before
    /// its user's key was revoked.
    func isRevoked(_ principal: Principal) -> Bool {
        guard case .user(let name, let generation) = principal else { return false }
        return users.isRevoked(name, generation: generation)
    }

    /// Answers a revoked connection and forgets its session.
    func refuseRevoked(_ routing: [UInt8]) {
        drop(routing)
        send(routing, .error(code: ErrorCode.keyRevoked.rawValue, ref: .zero, reason: Self.revokedReason))
    }

    /// Cuts off every connection `user` has now: each open session gets `ERROR 423`
    /// and is forgotten, and later commands on those connections are refused too.
    /// - Returns: how many sessions were open.
    @discardableResult
    func revokeSessions(of user: String) -> Int {
        users.revoke(user)
        let routings = sessions.filter { $0.value.user == user }.map(\.key)
        for routing in routings {
            refuseRevoked(routing)
            for i in transfers.sends.indices where transfers.sends[i].routing == routing && !transfers.sends[i].peer {
                transfers.sends[i].end = transfers.sends[i].next
            }
        }
        return routings.count
    }

    /// The signed directory entry of a local user: the one place this node signs one
    /// (at enrolment and at a re-key).
    /// (at enrolment, at a re-key, and when the operator sets a clearance).
    func signedEntry(user: String, display: String, boxKey: [UInt8], signKey: [UInt8], clearance: UInt8? = nil) -> [UInt8] {
        var entry = DirectoryEntry(address: address(user), display: display, boxKey: boxKey, signKey: signKey, updatedAt: Clock.nowMs(),
                                   clearance: clearance)
        entry.sign(with: keys.sign)
        return entry.encode()
    }

    /// Local users that are in the directory: every enrolled user not disabled, by name.
    var directoryUsers: [UserRecord] {
        users.byName.values.filter { $0.disabledAt == nil }.sorted { $0.name < $1.name }
    }

    /// After a commit that changed the local directory: peers fetch it again.
    func directoryChanged(to version: UInt64) {
        directory.raiseLocalVersion(to: version)
        peering.announceSoon()
    }

    // MARK: admin

    /// `{"cmd": "user", "action": "disable" | "enable" | "remove" | "rekey", "user": NAME}`
    /// (`rekey` also takes `ttl_hours` and `endpoint`). Commits before it answers.
    func userAdmin(_ request: [String: Any]) -> [String: Any] {
        guard let name = request["user"] as? String, Name.isValid(name) else {
            return ["error": "give a valid user name: \(Name.rule)"]
        }
        guard let user = users.byName[name] else {
            return ["error": "no user '\(name)' on \(config.name); see sealpost-node users"]
        }
        let failuresBefore = counters.commitFailures
        var answer: [String: Any]
        do {
            switch request["action"] as? String {
            case "disable": answer = try disable(user)
            case "enable": answer = try enable(user)
            case "remove": answer = try remove(user)
            case "rekey":
                answer = try rekey(user, ttlHours: request["ttl_hours"] as? Int, endpoint: request["endpoint"] as? String)
            case "clear":
                answer = try clearUser(user, label: request["label"] as? String ?? "")
            default: return ["error": "unknown user action; use disable, enable, remove, rekey or clear"]
            }
        } catch let error as NodeError {
            finishCycle()
            return ["error": error.description]
        } catch {
            finishCycle()
            return ["error": "storage failure, nothing was changed; try again (\(error))"]
        }
        // Each action ended the cycle itself (commit, then the mirrors and the closed sessions).
        if counters.commitFailures != failuresBefore {
            return ["error": "storage failure, nothing was changed; try again"]
        }
        answer["address"] = address(name)
        return answer
    }

    private func disable(_ user: UserRecord) throws -> [String: Any] {
        guard user.disabledAt == nil else {
            // Disabled already (a re-key disables too): an open re-key invite would enable it again.
            var withdrawn = 0
            try write(ref: .zero) { withdrawn = try store.withdrawRekeyInvites(user: user.name) }
            batch.afterCommit { [weak self] in
                guard let self, withdrawn > 0 else { return }
                self.logger.notice("user disabled: open re-key invites withdrawn",
                                   metadata: ["user": "\(self.address(user.name))", "invites": "\(withdrawn)"])
            }
            finishCycle()
            return ["state": "disabled", "sessions_closed": 0, "changed": withdrawn > 0, "invites_withdrawn": withdrawn]
        }
        let now = Clock.nowMs() / 1000
        var version: UInt64 = 0
        var withdrawn = 0
        try write(ref: .zero) {
            try store.setUserDisabled(user.name, at: now)
            withdrawn = try store.withdrawRekeyInvites(user: user.name)
            version = try store.bumpDirectoryVersion(from: directory.localVersion)
        }
        try audit(.userDisabled(user: address(user.name), by: AuditActor.operator))
        var closed = 0
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.users.disabled(user.name, at: now)
            closed = self.revokeSessions(of: user.name)
            self.directoryChanged(to: version)
            self.logger.notice("user disabled", metadata: ["user": "\(self.address(user.name))", "sessions_closed": "\(closed)"])
        }
        finishCycle()
        return ["state": "disabled", "sessions_closed": closed, "changed": true, "directory_version": Int(version), "invites_withdrawn": withdrawn]
    }

    private func enable(_ user: UserRecord) throws -> [String: Any] {
        guard user.disabledAt != nil else { return ["state": "active", "changed": false] }
        // Until new keys arrive, the key on record may be on the lost device: whatever became
        // of the re-key invite (expired, revoked, withdrawn), enabling is refused.
        if let since = try store.rekeyPending(user: user.name) {
            throw NodeError.usage(Operator.rekeyPending(address(user.name), since: since,
                                                        try store.outstandingRekey(user: user.name, now: Clock.nowMs() / 1000)))
        }
        var version: UInt64 = 0
        try write(ref: .zero) {
            try store.setUserDisabled(user.name, at: nil)
            version = try store.bumpDirectoryVersion(from: directory.localVersion)
        }
        try audit(.userEnabled(user: address(user.name), by: AuditActor.operator))
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.users.enabled(user.name)
            self.directoryChanged(to: version)
            self.logger.notice("user enabled", metadata: ["user": "\(self.address(user.name))"])
        }
        finishCycle()
        return ["state": "active", "changed": true, "directory_version": Int(version)]
    }

    private func remove(_ user: UserRecord) throws -> [String: Any] {
        var version: UInt64 = 0
        var reminders: [MessageID] = []
        var mail = 0
        var bySender: [(sender: String, usage: Quotas.Usage)] = []
        try write(ref: .zero) {
            reminders = try store.scheduledReminders(user: user.name)
            bySender = try store.mailboxSenders(recipient: user.name, through: UInt64(Int64.max))
            mail = try store.removeUser(user.name)
            version = try store.bumpDirectoryVersion(from: directory.localVersion)
        }
        try audit(.userRemoved(user: address(user.name), by: AuditActor.operator))
        // The quotas forget what waited for them (committed with the batch, undone with it).
        let mailbox = quotas.mailboxUse(user.name), burns = quotas.burnUse(user.name)
        quotas.changeMailbox(user.name, count: -mailbox.count, bytes: -mailbox.bytes)
        quotas.changeBurns(user.name, count: -burns.count, bytes: -burns.bytes)
        for s in bySender { quotas.changeSender(s.sender, count: -s.usage.count, bytes: -s.usage.bytes) }
        var closed = 0
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.users.removed(user.name)
            closed = self.revokeSessions(of: user.name)
            self.delivery.forgetWaiting(of: user.name)
            for id in reminders { self.schedule.remove(user: user.name, reminder: id) }
            self.burns.reloaded(pending: try? self.store.burnCount(), nextExpiryMs: (try? self.store.nextBurnExpiry()) ?? nil)
            self.directoryChanged(to: version)
            self.logger.notice("user removed", metadata: ["user": "\(self.address(user.name))", "mail_deleted": "\(mail)"])
        }
        finishCycle()
        return ["state": "removed", "sessions_closed": closed, "mail_deleted": mail, "reminders_deleted": reminders.count,
                "directory_version": Int(version)]
    }

    /// Refuses the user's current key at once (as `disable`) and issues a re-key invite
    /// for the same address; enrolling with it installs the new keys (`enroll`).
    private func rekey(_ user: UserRecord, ttlHours: Int?, endpoint: String?) throws -> [String: Any] {
        let (record, invite) = try Operator.newInvite(config: config, keys: keys, user: user.name, ttlHours: ttlHours,
                                                      endpoint: endpoint, rekey: true, configPath: dataDir.configPath)
        let now = Clock.nowMs() / 1000
        let wasActive = user.disabledAt == nil
        var version: UInt64 = 0
        try write(ref: .zero) {
            try store.insert(invite: record)
            try store.setRekeyPending(user: user.name, since: try store.rekeyPending(user: user.name) ?? now)
            if wasActive {
                try store.setUserDisabled(user.name, at: now)
                version = try store.bumpDirectoryVersion(from: directory.localVersion)
            }
        }
        try audit(.userRekeyed(user: address(user.name), by: AuditActor.operator))
        try audit(.inviteCreated(invite: record.id, user: address(user.name), rekey: true, by: AuditActor.operator))
        var closed = 0
        batch.afterCommit { [weak self] in
            guard let self else { return }
            if wasActive {
                self.users.disabled(user.name, at: now)
                self.directoryChanged(to: version)
            }
            closed = self.revokeSessions(of: user.name)
            self.logger.notice("user re-key started: the old key is refused", metadata: [
                "user": "\(self.address(user.name))", "sessions_closed": "\(closed)"])
        }
        finishCycle()
        return ["state": "rekeying", "sessions_closed": closed, "code": invite.code,
                "expires_at": Clock.rfc3339(ms: invite.expiresAt * 1000)]
    }

    /// Enrolment with a re-key invite: the existing user gets the new keys and a newly
    /// signed entry; the old key stays refused and other units fetch the new entry.
    func rekeyEnroll(_ session: Session, invite: InviteRecord, user: UserRecord, curveKey: [UInt8], boxKey: [UInt8], signKey: [UInt8]) throws {
        let now = Clock.nowMs() / 1000
        // The clearance stays with the person across a re-key.
        let entry = signedEntry(user: user.name, display: user.display, boxKey: boxKey, signKey: signKey,
                                clearance: (try? DirectoryEntry.decode(user.entry))?.clearance)
        var updated = user
        updated.curveKey = curveKey
        updated.boxKey = boxKey
        updated.signKey = signKey
        updated.entry = entry
        updated.disabledAt = nil
        var version: UInt64 = 0
        try write(ref: .zero) {
            try store.replaceUserKeys(user.name, curveKey: curveKey, boxKey: boxKey, signKey: signKey, entry: entry)
            try store.markInviteUsed(id: invite.id, at: now, by: curveKey)
            try store.setRekeyPending(user: user.name, since: nil)
            version = try store.bumpDirectoryVersion(from: directory.localVersion)
        }
        try audit(.inviteUsed(invite: invite.id, user: address(user.name)))
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.users.rekeyed(updated)
            self.revokeSessions(of: user.name)
            self.directoryChanged(to: version)
            self.logger.notice("user re-keyed", metadata: ["user": "\(self.address(user.name))"])
        }
        reply(session, .enrolled(address: address(user.name), nodeSignKey: keys.sign.publicKey))
    }
}
