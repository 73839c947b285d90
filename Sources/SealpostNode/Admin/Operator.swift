import Foundation
import SealpostCore
import Sodium
import SQLite

/// Operator actions that work on a node's data dir, running or not (SQLite WAL
/// lets them write while the node runs; the node reads invites at each handshake).
public enum Operator {
    public struct Invite: Sendable {
        public let address: String
        public let code: String
        public let expiresAt: UInt64
    }

    /// Issues a one-time invite for `user` on this node.
    /// - Parameter ttlHours: validity; the config's `invite_ttl_hours` when nil.
    /// - Parameter endpoint: the endpoint written into the code; the config's
    ///   `advertise` (else `listen`) when nil.
    public static func invite(dataDir: DataDir, user: String, ttlHours: Int? = nil, endpoint: String? = nil) throws -> Invite {
        do { return try makeInvite(dataDir: dataDir, user: user, ttlHours: ttlHours, endpoint: endpoint) } catch let error as SQLiteError {
            throw NodeStore.startupError(error, path: dataDir.databasePath)
        }
    }

    private static func makeInvite(dataDir: DataDir, user: String, ttlHours: Int?, endpoint: String?) throws -> Invite {
        let config = try dataDir.loadConfig()
        let keys = try dataDir.loadKeys()
        let (record, invite) = try newInvite(config: config, keys: keys, user: user, ttlHours: ttlHours, endpoint: endpoint, rekey: false,
                                            configPath: dataDir.configPath)
        try dataDir.checkDatabase()
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        if let existing = try store.user(named: user) {
            throw NodeError.usage("\(user)@\(config.name) is already enrolled"
                                  + (existing.disabledAt != nil ? " (disabled: sealpost-node users enable \(user))" : "")
                                  + "; for a lost device use: sealpost-node users rekey \(user)")
        }
        if try store.groups()[user] != nil {
            throw NodeError.usage("\(user)@\(config.name) is a group; choose another user name")
        }
        try store.begin()
        do {
            try store.insert(invite: record)
            try store.appendAudit(.inviteCreated(invite: record.id, user: invite.address, rekey: false, by: AuditActor.operator), time: Clock.nowMs())
            try store.commit()
        } catch {
            store.rollback()
            throw error
        }
        return invite
    }

    /// Appends `event` to the node's audit log from an operator command, running node or not:
    /// the append takes the database's write lock, and a running node takes in what another
    /// process appended before its own next append (protocol/SPEC.md §15.7).
    static func audit(dataDir: DataDir, _ event: AuditEvent) throws {
        do {
            let store = try NodeStore(path: dataDir.databasePath)
            defer { store.close() }
            try store.begin()
            do {
                try store.appendAudit(event, time: Clock.nowMs())
                try store.commit()
            } catch {
                store.rollback()
                throw error
            }
        } catch let error as SQLiteError {
            throw NodeError.storage("cannot write the audit record (\(event.kind.name)) into \(dataDir.databasePath): \(error.description)")
        }
    }

    /// Makes an invite (its record for the store, and the code for the person) without storing it.
    static func newInvite(config: NodeConfig, keys: NodeKeys, user: String, ttlHours: Int?, endpoint: String?,
                          rekey: Bool, configPath: String) throws -> (record: InviteRecord, invite: Invite) {
        guard Name.isValid(user) else { throw NodeError.usage("'\(user)' is not a valid user name: \(Name.rule)") }
        let hours = ttlHours ?? config.inviteTTLHours
        guard (1...24 * 365).contains(hours) else { throw NodeError.usage("--ttl must be between 1 and 8760 hours") }
        let endpoint = endpoint ?? config.advertisedEndpoint
        // It goes into the invite code as a 1-byte-length string (and comes from the admin socket too).
        guard endpoint.utf8.count <= 255 else { throw NodeError.usage("the endpoint is over 255 bytes; give tcp://HOST:PORT") }
        try NodeConfig.validateEndpoint(endpoint, field: "invite")
        guard !endpoint.contains("*") && !endpoint.contains("0.0.0.0") else {
            throw NodeError.config("the node listens on \(config.listen); set 'advertise: tcp://HOST:PORT' in \(configPath) so invites tell clients where to connect")
        }
        let inviteKeys = BoxKeyPair.generate()
        let now = Clock.nowMs() / 1000
        let expires = now + UInt64(hours) * 3600
        let record = InviteRecord(id: Hex.encode(Sodium.randomBytes(8)), user: user, curveKey: inviteKeys.publicKey,
                                  createdAt: now, expiresAt: expires, usedAt: nil, usedBy: nil, rekey: rekey)
        var secret = inviteKeys.secretKey.copyBytes()
        defer { wipe(&secret) }
        let code = InviteCode(node: config.name, user: user, endpoint: endpoint, nodeCurveKey: keys.curve.publicKey,
                              nodeSignKey: keys.sign.publicKey, secret: secret, expiresAt: expires)
        return (record, Invite(address: "\(user)@\(config.name)", code: code.text, expiresAt: expires))
    }

    /// The users waiting for new keys after a re-key (whatever became of its invite).
    public static func rekeyPendingUsers(dataDir: DataDir) throws -> Set<String> {
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        return try store.rekeyPendingUsers()
    }

    /// Enrolled users, with how many messages wait for each.
    public static func users(dataDir: DataDir) throws -> [(user: UserRecord, waiting: Int)] {
        _ = try dataDir.loadConfig()
        try dataDir.checkDatabase()
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        do {
            let waiting = try store.waitingCounts()
            return try store.users().map { ($0, waiting[$0.name] ?? 0) }
        } catch let error as SQLiteError {
            throw NodeStore.startupError(error, path: dataDir.databasePath)
        }
    }

    /// Adds a peer to node.yaml; a running node connects within about a second.
    public static func addPeer(dataDir: DataDir, peer: PeerConfig) throws {
        var config = try dataDir.loadConfig()
        try peer.validate()
        guard peer.name != config.name else { throw NodeError.usage("'\(peer.name)' is this node's own name") }
        if let existing = config.peers.firstIndex(where: { $0.name == peer.name }) {
            config.peers[existing] = peer
        } else {
            config.peers.append(peer)
        }
        if let keys = try? dataDir.loadKeys(), keys.curve.publicKey == peer.keyBytes {
            throw NodeError.usage("that public key is this node's own key: use the neighbour's (sealpost-node info on their node)")
        }
        try dataDir.saveConfig(config)
    }

    /// Removes a peer from node.yaml; a running node drops the link within about a second.
    public static func removePeer(dataDir: DataDir, name: String) throws {
        var config = try dataDir.loadConfig()
        guard config.peers.contains(where: { $0.name == name }) else {
            throw NodeError.usage("no peer named '\(name)'; see sealpost-node peer list")
        }
        config.peers.removeAll { $0.name == name }
        try dataDir.saveConfig(config)
    }
}
