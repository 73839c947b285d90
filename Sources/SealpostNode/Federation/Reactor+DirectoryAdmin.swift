import Foundation
import SealpostCore

/// What an operator can do about other nodes' parts of the directory, over the
/// admin socket: list them, forget one (its next snapshot is taken fresh), and
/// unpin a node's signing key (a unit that rebuilt its node).
extension Reactor {
    /// `{"cmd": "directory-list"}`: every other node this node pinned or holds entries of.
    func directoryList() -> [String: Any] {
        var counts: [String: Int] = [:]
        for entry in directory.remoteEntries.values { counts[entry.home, default: 0] += 1 }
        let names = Set(directory.nodeKeys.keys).union(counts.keys).subtracting([config.name])
        let nodes: [[String: Any]] = names.sorted().map { name in
            [
                "node": name, "sign_key": directory.nodeKeys[name].map { Hex.encode($0) } ?? NSNull(),
                "version": Int(clamping: directory.versions[name, default: 0]), "entries": counts[name, default: 0],
                "peer": peering.links[name] != nil, "route": peering.routeTable.nextHop(to: name) ?? NSNull(),
            ]
        }
        return ["nodes": nodes]
    }

    /// `{"cmd": "directory-forget" | "directory-unpin", "node": NAME}`: drops what this
    /// node keeps of NAME's directory (and, to unpin, its pinned key) in the cycle's
    /// commit. Returns the answer at once when it is a refusal; otherwise nil, and the
    /// answer goes out with the commit (an error if the commit fails).
    func forgetNode(_ name: String, unpin: Bool, routing: [UInt8]) -> [String: Any]? {
        guard Name.isValid(name) else { return ["error": "'\(name)' is not a node name"] }
        guard name != config.name else { return ["error": "'\(name)' is this node; only other nodes' directories can be forgotten"] }
        if unpin, peering.links[name] != nil {
            return ["error": "'\(name)' is a configured peer: its key comes from its HELLO over the link you configured. "
                + "If that unit rebuilt its node, give its new public key with sealpost-node peer add; "
                + "the new signing key is pinned when it connects"]
        }
        let entries = directory.entryCount(of: name)
        let version = directory.versions[name, default: 0]
        // Forgotten, the version held stays a floor: the next snapshot is taken fresh, but an
        // older one (a replay that could bring back a disabled or re-keyed user) is refused.
        let floor = max(version, directory.floors[name, default: 0])
        let key = directory.nodeKeys[name]
        guard key != nil || entries > 0 else {
            return ["error": "this node holds nothing of '\(name)' (no pinned key, no entries); see sealpost-node directory list"]
        }
        do {
            try write(ref: .zero) {
                _ = try unpin ? store.unpinNode(name: name) : store.forgetDirectory(home: name, floor: floor)
            }
            try audit(unpin ? .directoryUnpin(node: name, by: AuditActor.operator) : .directoryForget(address: name, by: AuditActor.operator))
        } catch {
            return ["error": "cannot change the database, nothing was changed: \(error)"]
        }
        var answer: [String: Any] = ["node": name, "entries_removed": entries, "version_forgotten": Int(clamping: version)]
        if unpin { answer["unpinned_sign_key"] = key.map { Hex.encode($0) } ?? NSNull() }
        // Answered once the change is durable; a failed commit says nothing was changed.
        batch.onRollback { [weak self] in self?.sendAdmin(routing, ["error": "storage failure, nothing was changed; try again"]) }
        batch.afterCommit { [weak self] in
            guard let self else { return }
            self.directory.forgot(name, unpin: unpin, floor: floor)
            self.logger.notice(unpin ? "node key unpinned by the operator" : "directory forgotten by the operator",
                               metadata: ["home": "\(name)", "entries": "\(entries)", "version": "\(version)"])
            self.sendAdmin(routing, answer)
        }
        return nil
    }

    func sendAdmin(_ routing: [UInt8], _ answer: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) ?? Data("{}".utf8)
        _ = try? admin.send([routing, Array(data)], dontWait: true)
    }
}
