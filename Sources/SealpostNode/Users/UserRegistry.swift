/// The node's enrolled people as the reactor keeps them: each user's record by name, who
/// a CURVE key admits, and which connections are revoked (every user's User-Id carries
/// the authentication generation of its handshake, `u:NAME:GEN`).
///
/// Changes come after their commit (`enrolled`, `disabled`, `enabled`, `removed`, `rekeyed`,
/// `updated`); `revoke` bumps the generation so connections of before are refused.
struct UserRegistry {
    /// Every enrolled user (disabled ones too: their row and mail stay), by name.
    private(set) var byName: [String: UserRecord] = [:]
    /// The user each admitted CURVE key belongs to (a disabled user's key is not admitted).
    private var byCurveKey: [[UInt8]: String] = [:]
    /// Stamped into every user's User-Id at the handshake; bumped at each revocation.
    private(set) var authGeneration: UInt64 = 1
    /// Per user: connections of this generation or older are refused (disabled, removed or re-keyed).
    private var revokedThrough: [String: UInt64] = [:]

    init() {}

    /// - Parameter users: the users table.
    init(users: [UserRecord]) {
        for user in users {
            if user.disabledAt == nil { byCurveKey[user.curveKey] = user.name }
            byName[user.name] = user
        }
    }

    /// The user `curveKey` admits, if any.
    func user(curveKey: [UInt8]) -> String? { byCurveKey[curveKey] }

    // MARK: revocation

    /// Whether a connection of `user` authenticated at `generation` was revoked since.
    func isRevoked(_ user: String, generation: UInt64) -> Bool {
        guard !revokedThrough.isEmpty, let through = revokedThrough[user] else { return false }
        return generation <= through
    }

    /// Every connection `user` has now is revoked: later handshakes get the next generation.
    mutating func revoke(_ user: String) {
        revokedThrough[user] = authGeneration
        authGeneration += 1
    }

    // MARK: committed changes

    /// `record` was enrolled.
    mutating func enrolled(_ record: UserRecord) {
        byName[record.name] = record
        byCurveKey[record.curveKey] = record.name
    }

    /// `name` was disabled at `at` (seconds): its key is no longer admitted.
    mutating func disabled(_ name: String, at: UInt64) {
        guard let record = byName[name] else { return }
        byName[name]?.disabledAt = at
        byCurveKey[record.curveKey] = nil
    }

    /// `name` was enabled again: its key is admitted.
    mutating func enabled(_ name: String) {
        guard let record = byName[name] else { return }
        byName[name]?.disabledAt = nil
        byCurveKey[record.curveKey] = name
    }

    /// `name` was removed.
    mutating func removed(_ name: String) {
        guard let record = byName.removeValue(forKey: name) else { return }
        if byCurveKey[record.curveKey] == name { byCurveKey[record.curveKey] = nil }
    }

    /// `updated` has new keys (a re-key): the old key is no longer admitted, the new one is.
    mutating func rekeyed(_ updated: UserRecord) {
        if let old = byName[updated.name], byCurveKey[old.curveKey] == updated.name { byCurveKey[old.curveKey] = nil }
        byName[updated.name] = updated
        byCurveKey[updated.curveKey] = updated.name
    }

    /// `updated`'s directory entry changed (its keys did not).
    mutating func updated(_ updated: UserRecord) {
        byName[updated.name] = updated
    }
}
