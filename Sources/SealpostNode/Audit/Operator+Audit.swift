import Foundation
import SQLite
import SealpostCore
import Sodium

/// `sealpost-node audit`: reading, verifying, signing and exporting a node's audit log
/// (protocol/SPEC.md §15.7), on a running node (its admin socket for the head and the
/// verification, which also compares the log with the head the node holds) or a stopped
/// one (its database, signed with its node key).
extension Operator {
    /// What `audit head` reports.
    public struct AuditHeadReport: Sendable {
        /// Records in the log (the last position).
        public var position: UInt64
        /// The latest signed head (nil when the log was never signed).
        public var head: AuditHead?
        /// The node's signing key, to check the head with.
        public var signKey: [UInt8]
        public var throughRunningNode: Bool
    }

    /// The running node's answer to `cmd`; nil when no node runs there, or one left its admin
    /// socket behind and does not answer (then the database is used, as for a stopped node).
    /// - Throws: `NodeError` with the node's error.
    static func runningAnswer(_ dataDir: DataDir, _ request: [String: Any], timeoutMs: Int = 5000) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: dataDir.adminSocketPath) else { return nil }
        let answer: [String: Any]
        do {
            answer = try AdminClient.request(dataDir: dataDir, request, timeoutMs: timeoutMs)
        } catch let error as NodeError where error.description.contains("is not running") {
            return nil
        }
        if let error = answer["error"] as? String { throw NodeError.storage(error) }
        return answer
    }

    static func openStore(_ dataDir: DataDir) throws -> NodeStore {
        try dataDir.checkDatabase()
        do { return try NodeStore(path: dataDir.databasePath) } catch let error as SQLiteError {
            throw NodeStore.startupError(error, path: dataDir.databasePath)
        }
    }

    /// The records matching `filter`, oldest first; with `last`, only the last `last` of them.
    public static func auditRecords(dataDir: DataDir, filter: AuditFilter, last: Int? = nil) throws -> [StoredAuditRecord] {
        _ = try dataDir.loadConfig()
        let store = try openStore(dataDir)
        defer { store.close() }
        return try store.auditRecords(filter, limit: last ?? Int.max, last: last != nil)
    }

    /// Signs the head if events were committed since the last one (the running node does it
    /// itself; for a stopped node it is signed here with its key), and reports the latest.
    public static func auditHead(dataDir: DataDir) throws -> AuditHeadReport {
        let config = try dataDir.loadConfig()
        let keys = try dataDir.loadKeys()
        if let answer = try runningAnswer(dataDir, ["cmd": "audit-head"]) {
            var head: AuditHead?
            if let h = answer["head"] as? [String: Any] { head = auditHead(json: h, node: config.name) }
            return AuditHeadReport(position: UInt64((answer["position"] as? Int) ?? 0), head: head, signKey: keys.sign.publicKey,
                                   throughRunningNode: true)
        }
        let store = try openStore(dataDir)
        defer { store.close() }
        let head = try store.signAuditHead(node: config.name, key: keys.sign, time: Clock.nowMs())
        return AuditHeadReport(position: try store.auditCount(), head: head, signKey: keys.sign.publicKey, throughRunningNode: false)
    }

    static func auditHead(json h: [String: Any], node: String) -> AuditHead? {
        guard let position = h["position"] as? Int, let root = (h["root"] as? String).flatMap(Hex.decode),
              let time = h["time_ms"] as? Int, let signature = (h["signature"] as? String).flatMap(Hex.decode) else { return nil }
        return AuditHead(node: node, position: UInt64(max(0, position)), root: root, time: UInt64(max(0, time)), signature: signature)
    }

    /// Verifies the log against the node's signed heads (`audit verify`), here, not on the node's
    /// thread. A running node also says how far it has written and the hash there: a log that
    /// ends below it, or differs there, had its tail cut or altered after the last signed head.
    public static func auditVerify(dataDir: DataDir) throws -> AuditVerification {
        let config = try dataDir.loadConfig()
        let keys = try dataDir.loadKeys()
        let running = try runningAnswer(dataDir, ["cmd": "audit-head", "sign": false])
        let store = try openStore(dataDir)
        defer { store.close() }
        var result = try store.verifyAudit(node: config.name, nodeKey: keys.sign.publicKey)
        guard result.ok, let running, let written = running["position"] as? Int, written > 0 else { return result }
        let position = UInt64(written)
        if result.records < position {
            result.firstBad = result.records + 1
            result.problem = "the log ends at \(result.records) but the running node has written \(position) records: records \(result.records + 1)…\(position) were cut"
        } else if let hash = running["hash"] as? String, let stored = try store.auditRecord(at: position), Hex.encode(stored.hash) != hash {
            result.firstBad = position
            result.problem = "record \(position) is not the one the running node wrote (the log was rewritten from there or before)"
        }
        return result
    }

    /// What `audit export` wrote.
    public struct AuditExport: Sendable {
        public var records: Int
        public var heads: Int
        public var bytes: Int
    }

    /// Writes the whole log to `path` for an archive, as JSON lines: a first line describing the
    /// export (node, signing key), one line per record (its fields, its canonical bytes and
    /// hashes, in hex), then one line per signed head. The head is signed first if the log
    /// changed, so the export ends with a head over all of it. The file is made 0600.
    public static func auditExport(dataDir: DataDir, to path: String) throws -> AuditExport {
        let config = try dataDir.loadConfig()
        let keys = try dataDir.loadKeys()
        guard !FileManager.default.fileExists(atPath: path) else { throw NodeError.usage("\(path) exists: export into a new file") }
        _ = try auditHead(dataDir: dataDir)
        let store = try openStore(dataDir)
        defer { store.close() }
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let out = FileHandle(forWritingAtPath: path) else {
            throw NodeError.usage("cannot create \(path)")
        }
        defer { try? out.close() }
        var bytes = 0
        func line(_ object: [String: Any]) throws {
            var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            data.append(0x0a)
            bytes += data.count
            try out.write(contentsOf: data)
        }
        // One snapshot: the records and the heads are read in one read transaction.
        try store.db.execute("BEGIN")
        defer { try? store.db.execute("COMMIT") }
        let heads = try store.auditHeads(node: config.name)
        try line(["format": "sealpost-audit-export", "version": 1, "node": config.name, "sign_key": Hex.encode(keys.sign.publicKey),
                  "exported_at": Clock.rfc3339(ms: Clock.nowMs()), "spec": "protocol/SPEC.md 15.7"])
        var count = 0
        var failure: Error?
        try store.forEachAuditRecord { position, stored in
            guard failure == nil else { return }
            do {
                if let stored { try line(auditJSON(stored)) } else { try line(["position": Int(position), "undecodable": true]) }
                count += 1
            } catch { failure = error }
        }
        if let failure { throw failure }
        for head in heads { try line(["head": Reactor.json(head)]) }
        return AuditExport(records: count, heads: heads.count, bytes: bytes)
    }

    /// A record as JSON (the `--json` of `audit`, a line of `audit export`).
    public static func auditJSON(_ stored: StoredAuditRecord) -> [String: Any] {
        let r = stored.record
        var object: [String: Any] = [
            "position": Int(r.position), "time": Clock.rfc3339(ms: r.time), "time_ms": Int(r.time), "kind": r.fields.kind.name,
            "actor": r.fields.actor, "subject": r.fields.subject, "ref": r.fields.ref.isEmpty ? NSNull() : Hex.encode(r.fields.ref),
            "detail": Hex.encode(r.fields.detail), "prev": Hex.encode(r.prev), "hash": Hex.encode(stored.hash),
        ]
        if r.isEncodable { object["canonical"] = Hex.encode(r.canonicalBytes) }
        if let event = try? r.event() { object["event"] = describe(event) }
        return object
    }

    /// One line for a person reading the log.
    public static func describe(_ event: AuditEvent) -> String {
        switch event {
        case let .forward(id, origin, by, _, hops): return "\(by) forwarded \(origin.hex) as \(id.hex) (hop \(hops))"
        case let .forwardRefused(id, origin, by, reason): return "refused \(by)'s forward \(id.hex) of \(origin.hex): \(reason)"
        case let .forwardHop(id, forwarder, hop, _): return "countersigned \(forwarder)'s hop of \(id.hex) (\(hop.count)-byte hop record)"
        case let .burnViewed(id, viewer, sender): return "\(viewer) viewed burn message \(id.hex) from \(sender)"
        case let .fileFetched(file, by, owner): return "\(by) fetched file \(file.hex)" + (owner.isEmpty ? "" : " uploaded by \(owner)")
        case let .userEnabled(user, by): return "\(by) enabled \(user)"
        case let .userDisabled(user, by): return "\(by) disabled \(user)"
        case let .userRemoved(user, by): return "\(by) removed \(user)"
        case let .userRekeyed(user, by): return "\(by) started a re-key of \(user)"
        case let .inviteCreated(invite, user, rekey, by): return "\(by) created \(rekey ? "re-key " : "")invite \(invite) for \(user)"
        case let .inviteUsed(invite, user): return "\(user) enrolled with invite \(invite)"
        case let .inviteRevoked(invite, user, by): return "\(by) revoked invite \(invite) for \(user)"
        case let .peerAdded(peer, key, by): return "\(by) configured peer \(peer) (key \(Z85Text.short(key)))"
        case let .peerRemoved(peer, by): return "\(by) removed peer \(peer)"
        case let .directoryForget(address, by): return "\(by) forgot the directory of \(address)"
        case let .directoryUnpin(node, by): return "\(by) unpinned the key of \(node)"
        case let .backup(destination, by): return "\(by) backed up the node to \(destination)"
        case let .restore(source, epoch, by): return "\(by) restored the node from \(source) (epoch \(epoch))"
        case let .officerGranted(user, by): return "\(by) made \(user) a security officer"
        case let .officerRevoked(user, by): return "\(by) revoked \(user)'s security officer role"
        case let .traceQueryAnswered(query, asker, about, records): return "answered \(asker)'s trace \(query.hex) about \(about.hex) with \(records) records"
        case let .auditHeadSigned(position, _): return "signed the audit head at \(position)"
        case let .viewerCode(code, viewer, message, sender):
            return "issued viewer code \(code) to \(viewer) for \(message.hex)" + (sender.isEmpty ? "" : " from \(sender)")
        case let .labelRefused(id, from, to, reason, label):
            return "refused \(from)'s message \(id.hex) to \(to) (label \(LabelSet.standard.display(label))): \(LabelReason(rawValue: reason)?.name ?? "reason \(reason)")"
        case let .clearanceSet(user, label, by): return "\(by) cleared \(user) to \(LabelSet.standard.display(label))"
        case let .groupLabelChanged(group, from, to, by):
            return "\(by) \(to < from ? "lowered" : "raised") the label of \(group) from \(LabelSet.standard.display(from)) to \(LabelSet.standard.display(to))"
        case let .forwardReportReceived(id, node, forwarder, report):
            let r = try? ForwardReport.decode(report)
            return "\(node) reported: \(forwarder) tried to forward \(r?.originator ?? "?")'s message \(r?.origin.hex ?? "?") to \(r?.to ?? "?") (forward \(id.hex), \(r?.reason ?? "?"))"
        case let .labelDowngraded(origin, originator, by, from, to, record):
            let reason = (try? DowngradeRecord.decode(record))?.reason ?? ""
            return "\(by) downgraded \(originator)'s message \(origin.hex) from \(LabelSet.standard.display(from)) to \(LabelSet.standard.display(to)): \(reason)"
        }
    }
}

/// Short key fingerprints for log lines.
enum Z85Text {
    static func short(_ key: [UInt8]) -> String { Hex.encode(Array(key.prefix(6))) }
}
