import SQLite
import SealpostCore

/// Account lifecycle: disabled accounts, re-key invites, removal, outstanding invites.
extension NodeStore {
    /// A user can be disabled (their key refused, their mail kept) and an invite can re-key an existing user.
    func migrateTo10() throws {
        try db.transaction {
            try db.execute("""
                ALTER TABLE users ADD COLUMN disabled_at INTEGER;
                ALTER TABLE invites ADD COLUMN rekey INTEGER NOT NULL DEFAULT 0;
                PRAGMA user_version = 10;
                """)
        }
    }

    /// Disables (`at` = when) or enables (`at` = nil) a user; false when there is no such user.
    @discardableResult
    public func setUserDisabled(_ name: String, at: UInt64?) throws -> Bool {
        try db.run("UPDATE users SET disabled_at = ? WHERE name = ?", at.map { .int(Int64($0)) } ?? .null, .text(name)) == 1
    }

    /// Gives `name` new keys and a newly signed directory entry, and enables the account.
    func replaceUserKeys(_ name: String, curveKey: [UInt8], boxKey: [UInt8], signKey: [UInt8], entry: [UInt8]) throws {
        try db.run("UPDATE users SET curve_key = ?, box_key = ?, sign_key = ?, entry = ?, disabled_at = NULL WHERE name = ?",
                   .blob(curveKey), .blob(boxKey), .blob(signKey), .blob(entry), .text(name))
    }

    /// Due notices still owed to `user` (what a removal takes out of the schedule).
    func scheduledReminders(user: String) throws -> [MessageID] {
        try db.query("SELECT reminder FROM reminders WHERE user = ?", .text(user)) { MessageID(bytes: $0.blob(0)) }.compactMap { $0 }
    }

    /// Deletes the user and what this node keeps for them: mailbox, due notices, burn
    /// copies and invites (secure_delete zeroes the pages). Returns the mailbox entries deleted.
    @discardableResult
    public func removeUser(_ name: String) throws -> Int {
        try db.run("DELETE FROM users WHERE name = ?", .text(name))
        let mail = try db.run("DELETE FROM mailbox WHERE recipient = ?", .text(name))
        try db.run("DELETE FROM reminders WHERE user = ?", .text(name))
        try db.run("DELETE FROM burns WHERE recipient = ?", .text(name))
        try db.run("DELETE FROM invites WHERE user = ?", .text(name))
        try db.run("DELETE FROM officers WHERE user = ?", .text(name))
        try setRekeyPending(user: name, since: nil)
        return mail
    }

    /// Every invite the node still holds (used ones until a day after their expiry), newest first.
    public func invites() throws -> [InviteRecord] {
        try db.query("SELECT id, user, curve_key, created_at, expires_at, used_at, used_by, rekey FROM invites ORDER BY created_at DESC, id",
                     map: mapInvite)
    }

    /// An unused, unexpired re-key invite for `user`: the account waits for new keys.
    public func outstandingRekey(user: String, now: UInt64) throws -> InviteRecord? {
        try db.first("""
            SELECT id, user, curve_key, created_at, expires_at, used_at, used_by, rekey FROM invites
            WHERE user = ? AND rekey = 1 AND used_at IS NULL AND expires_at > ? ORDER BY created_at DESC LIMIT 1
            """, .text(user), .int(Int64(now)), map: mapInvite)
    }

    static let rekeyPendingKey = "rekey_pending:"

    /// Since when (seconds) `user` waits for new keys after a re-key: set by `rekey`, cleared
    /// only when new keys arrive (or the user is removed), whatever becomes of the invite.
    public func rekeyPending(user: String) throws -> UInt64? {
        try meta(Self.rekeyPendingKey + user).map { UInt64(max(0, $0)) }
    }

    /// Every user waiting for new keys after a re-key.
    public func rekeyPendingUsers() throws -> Set<String> {
        Set(try db.query("SELECT key FROM meta WHERE key LIKE 'rekey_pending:%'") { String($0.text(0).dropFirst(Self.rekeyPendingKey.count)) })
    }

    func setRekeyPending(user: String, since: UInt64?) throws {
        if let since {
            try setMeta(Self.rekeyPendingKey + user, Int64(clamping: since))
        } else {
            _ = try db.run("DELETE FROM meta WHERE key = ?", .text(Self.rekeyPendingKey + user))
        }
    }

    /// Withdraws `user`'s unused re-key invites (a `disable` after a `rekey`); returns how many.
    func withdrawRekeyInvites(user: String) throws -> Int {
        try db.run("DELETE FROM invites WHERE user = ? AND rekey = 1 AND used_at IS NULL", .text(user))
    }

    /// Deletes an invite; its key is refused from the next handshake on. False when there was none.
    @discardableResult
    public func deleteInvite(id: String) throws -> Bool {
        try db.run("DELETE FROM invites WHERE id = ?", .text(id)) == 1
    }

    /// Bumps the local directory version (other units fetch the directory again); returns the new one.
    public func bumpDirectoryVersion(from current: UInt64? = nil) throws -> UInt64 {
        let stored = try meta("directory_version").map { UInt64(max($0, 0)) }
        let users = UInt64(try users().count)
        let version = max(current ?? 0, stored ?? users) + 1
        try setMeta("directory_version", Int64(version))
        return version
    }
}
