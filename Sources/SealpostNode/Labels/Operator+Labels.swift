import Foundation
import SealpostCore

/// `sealpost-node users clear USER LABEL`: the highest label a person may receive, in their
/// directory entry, which the node signs again (no re-enrolment) and publishes.
extension Operator {
    public struct Clearance: Sendable {
        public let address: String
        /// `敏感 sensitive`.
        public let label: String
        public let changed: Bool
        public let throughRunningNode: Bool
    }

    /// Sets `user`'s clearance on a running node (at once, published with the directory) or a stopped one.
    public static func clearUser(dataDir: DataDir, user: String, label: String) throws -> Clearance {
        let config = try dataDir.loadConfig()
        guard Name.isValid(user) else { throw NodeError.usage("'\(user)' is not a valid user name: \(Name.rule)") }
        let policy = try config.labels.policy(node: config.name)
        guard let rank = policy.set.rank(of: label) else {
            throw NodeError.usage("'\(label)' is not a label; the labels are: \(policy.set.labels.map(\.display).joined(separator: ", "))")
        }
        let address = "\(user)@\(config.name)"
        if FileManager.default.fileExists(atPath: dataDir.adminSocketPath) {
            let answer = try AdminClient.request(dataDir: dataDir, ["cmd": "user", "action": "clear", "user": user, "label": label],
                                                 timeoutMs: 5000)
            return Clearance(address: address, label: answer["label"] as? String ?? policy.set.display(rank),
                             changed: answer["changed"] as? Bool ?? true, throughRunningNode: true)
        }
        let store = try NodeStore(path: dataDir.databasePath)
        defer { store.close() }
        guard let record = try store.user(named: user) else { throw NodeError.usage("no user '\(user)' on \(config.name); see sealpost-node users") }
        guard var entry = try? DirectoryEntry.decode(record.entry) else { throw NodeError.storage("the stored entry of \(address) is damaged") }
        let changed = entry.clearance != rank
        entry.clearance = rank
        entry.updatedAt = Clock.nowMs()
        entry.sign(with: try dataDir.loadKeys().sign)
        do {
            try store.begin()
            _ = try store.replaceUserEntry(user, entry: entry.encode())
            _ = try store.bumpDirectoryVersion()
            try store.commit()
        } catch {
            store.rollback()
            throw NodeError.storage("cannot change \(address) in \(dataDir.databasePath): \(error); nothing was changed")
        }
        try audit(dataDir: dataDir, .clearanceSet(user: address, label: rank, by: AuditActor.operator))
        return Clearance(address: address, label: policy.set.display(rank), changed: changed, throughRunningNode: false)
    }

    /// Each user's clearance (rank), from their signed entry; nil: never set (the default applies).
    public static func clearances(of users: [UserRecord]) -> [String: UInt8?] {
        Dictionary(uniqueKeysWithValues: users.map { ($0.name, (try? DirectoryEntry.decode($0.entry))?.clearance) })
    }
}
