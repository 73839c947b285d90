import Foundation
import SealpostCore

/// Security officers (`sealpost-node users officer grant|revoke|list`): the people of this
/// node who may trace a message across the federation and resolve viewer codes. The operator's
/// admin socket counts as an officer too (`sealpost-node trace`).
///
/// A running node makes the change itself (its in-memory set and the audit log move in the same
/// commit); a stopped node's database is changed directly.
extension Operator {
    public enum OfficerAction: String, Sendable {
        case grant, revoke
    }

    /// What `officer grant|revoke` did.
    public struct OfficerChange: Sendable {
        public let address: String
        public let officer: Bool
        /// False when the user already was (or was not) an officer.
        public let changed: Bool
        public let throughRunningNode: Bool
    }

    /// Grants or revokes the officer role of `user` (an enrolled user of this node).
    /// - Throws: `NodeError.usage` for an unknown user or a node that does not answer.
    public static func changeOfficer(dataDir: DataDir, user: String, action: OfficerAction) throws -> OfficerChange {
        let config = try dataDir.loadConfig()
        guard Name.isValid(user) else { throw NodeError.usage("'\(user)' is not a valid user name: \(Name.rule)") }
        let address = "\(user)@\(config.name)"
        if FileManager.default.fileExists(atPath: dataDir.adminSocketPath) {
            let answer: [String: Any]
            do {
                answer = try AdminClient.request(dataDir: dataDir, ["cmd": "officer", "action": action.rawValue, "user": user], timeoutMs: 5000)
            } catch let error as NodeError where error.description.contains("is not running") {
                throw NodeError.usage("the node in \(dataDir.path) does not answer on its admin socket; nothing was changed. If it is stopped (it crashed), remove \(dataDir.adminSocketPath) and run this again")
            }
            return OfficerChange(address: address, officer: action == .grant, changed: answer["changed"] as? Bool ?? true,
                                 throughRunningNode: true)
        }
        try dataDir.checkDatabase()
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        guard try store.user(named: user) != nil else {
            throw NodeError.usage("no user '\(user)' on \(config.name); see sealpost-node users")
        }
        var changed = false
        do {
            try store.begin()
            switch action {
            case .grant: changed = try store.grantOfficer(user, at: Clock.nowMs() / 1000, by: AuditActor.operator)
            case .revoke: changed = try store.revokeOfficer(user)
            }
            if changed {
                // In the same transaction: the role and its record are written together or not at all.
                try store.appendAudit(action == .grant ? .officerGranted(user: address, by: AuditActor.operator)
                                                       : .officerRevoked(user: address, by: AuditActor.operator), time: Clock.nowMs())
            }
            try store.commit()
        } catch {
            store.rollback()
            throw NodeError.storage("cannot change the officers in \(dataDir.databasePath): \(error); nothing was changed")
        }
        return OfficerChange(address: address, officer: action == .grant, changed: changed, throughRunningNode: false)
    }

    /// The officers of this node, by user name.
    public static func officers(dataDir: DataDir) throws -> [OfficerRecord] {
        _ = try dataDir.loadConfig()
        try dataDir.checkDatabase()
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        return try store.officers()
    }
}
