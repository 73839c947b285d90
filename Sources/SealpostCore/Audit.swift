import Sodium

/// What an audit record says happened (protocol/SPEC.md §15.7). One byte on the wire and
/// on disk; the raw names (`burn_viewed`) are what `sealpost-node audit --kind` takes.
public enum AuditKind: UInt8, CaseIterable, Sendable, Codable {
    case forward = 1
    case forwardRefused = 2
    case forwardHop = 3
    case burnViewed = 4
    case fileFetched = 5
    case userEnabled = 6
    case userDisabled = 7
    case userRemoved = 8
    case userRekeyed = 9
    case inviteCreated = 10
    case inviteUsed = 11
    case inviteRevoked = 12
    case peerAdded = 13
    case peerRemoved = 14
    case directoryForget = 15
    case directoryUnpin = 16
    case backup = 17
    case restore = 18
    case officerGranted = 19
    case officerRevoked = 20
    case traceQueryAnswered = 21
    case auditHeadSigned = 22
    case viewerCode = 23
    case labelRefused = 24
    case clearanceSet = 25
    case groupLabelChanged = 26
    case forwardReportReceived = 28
    case labelDowngraded = 27

    public var name: String {
        switch self {
        case .forward: return "forward"
        case .forwardRefused: return "forward_refused"
        case .forwardHop: return "forward_hop"
        case .burnViewed: return "burn_viewed"
        case .fileFetched: return "file_fetched"
        case .userEnabled: return "user_enabled"
        case .userDisabled: return "user_disabled"
        case .userRemoved: return "user_removed"
        case .userRekeyed: return "user_rekeyed"
        case .inviteCreated: return "invite_created"
        case .inviteUsed: return "invite_used"
        case .inviteRevoked: return "invite_revoked"
        case .peerAdded: return "peer_added"
        case .peerRemoved: return "peer_removed"
        case .directoryForget: return "directory_forget"
        case .directoryUnpin: return "directory_unpin"
        case .backup: return "backup"
        case .restore: return "restore"
        case .officerGranted: return "officer_granted"
        case .officerRevoked: return "officer_revoked"
        case .traceQueryAnswered: return "trace_query_answered"
        case .auditHeadSigned: return "audit_head_signed"
        case .viewerCode: return "viewer_code"
        case .labelRefused: return "label_refused"
        case .clearanceSet: return "clearance_set"
        case .groupLabelChanged: return "group_label_changed"
        case .forwardReportReceived: return "forward_report_received"
        case .labelDowngraded: return "label_downgraded"
        }
    }

    public init?(name: String) {
        guard let k = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }
}

/// Who performed an operator action, in an audit record's `actor` field.
public enum AuditActor {
    /// The node's operator (the admin key, or a command on the stopped node's database).
    public static let `operator` = "operator"
    /// The node itself (a signed head, an expiry).
    public static let node = "node"
}

/// A typed audit event: what a concern of the node appends (`reactor.audit(_:)`).
///
/// Every case holds ids, addresses, names, times and hashes only: never content.
/// Each maps onto the record's generic fields (`actor`, `subject`, `ref`, `detail`), so
/// the store can index who and what a record concerns without knowing every kind.
public enum AuditEvent: Sendable, Equatable {
    /// A user forwarded message `origin` as the new message `id` to recipients whose set
    /// hashes to `recipientsHash` (32 bytes), `hops` hops from the origin.
    case forward(id: MessageID, origin: MessageID, by: String, recipientsHash: [UInt8], hops: UInt8)
    /// This node refused a forward (`reason`: the policy name, e.g. `no_forward`, `hops`, `fanout`, `unit`).
    case forwardRefused(id: MessageID, origin: MessageID, by: String, reason: String)
    /// This node handled forward `id` and countersigned its hop record: `hop` holds the
    /// hop record's bytes (ids, addresses, times and hashes, ≤ 2048 bytes), `countersignature`
    /// this node's Ed25519 signature (64 bytes) over them, as the forward section of the spec says.
    case forwardHop(id: MessageID, forwarder: String, hop: [UInt8], countersignature: [UInt8])
    /// `viewer` opened burn message `id` sent by `sender`.
    case burnViewed(id: MessageID, viewer: String, sender: String)
    /// `by` (a user address, or a peer node's name) fetched file `file` held for `owner`
    /// (the uploader, "" when unknown).
    case fileFetched(file: MessageID, by: String, owner: String)
    case userEnabled(user: String, by: String)
    case userDisabled(user: String, by: String)
    case userRemoved(user: String, by: String)
    case userRekeyed(user: String, by: String)
    /// An invite `invite` (its id) for `user`; `rekey` for a re-key invite.
    case inviteCreated(invite: String, user: String, rekey: Bool, by: String)
    case inviteUsed(invite: String, user: String)
    case inviteRevoked(invite: String, user: String, by: String)
    /// A peer link configured (again, when its key changed), with the peer's CURVE public key (32 bytes).
    case peerAdded(peer: String, key: [UInt8], by: String)
    case peerRemoved(peer: String, by: String)
    /// The operator dropped what this node held of `address` (a user or a node).
    case directoryForget(address: String, by: String)
    /// The operator unpinned node `node`'s signing key.
    case directoryUnpin(node: String, by: String)
    /// A backup written to `destination` (a path on this machine).
    case backup(destination: String, by: String)
    /// This node was restored from `source`, starting stream epoch `epoch`.
    case restore(source: String, epoch: UInt64, by: String)
    case officerGranted(user: String, by: String)
    case officerRevoked(user: String, by: String)
    /// This node answered trace query `query` from node `asker` about message `about`,
    /// giving `records` records.
    case traceQueryAnswered(query: MessageID, asker: String, about: MessageID, records: UInt32)
    /// The node signed its head at `position` (tree root `root`): a checkpoint in the chain.
    case auditHeadSigned(position: UInt64, root: [UInt8])
    /// This node issued viewer code `code` to local user `viewer` for a view of `message`
    /// (sent by `sender`, "" when this node does not know; protocol/SPEC.md 11.7.4).
    case viewerCode(code: String, viewer: String, message: MessageID, sender: String)
    /// This node refused message `id` from `from` to `to` for its label (SPEC 7.11.5): `reason`
    /// is a `LabelReason` raw value, `label` the message's rank.
    case labelRefused(id: MessageID, from: String, to: String, reason: UInt8, label: UInt8)
    /// The operator set `user`'s clearance to rank `label`.
    case clearanceSet(user: String, label: UInt8, by: String)
    /// An admin changed group `group`'s label from rank `from` to `to` (a lowering is a downgrade).
    case groupLabelChanged(group: String, from: UInt8, to: UInt8, by: String)
    /// A node's signed report that it refused a forward of this unit's message (SPEC 7.9.9):
    /// actor the reporting node, subject the forwarder, ref the refused forward's id, detail the report as received.
    case forwardReportReceived(id: MessageID, node: String, forwarder: String, report: [UInt8])
    /// A message's label lowered by a person its unit allows (section 7.11.11): the countersigned record.
    case labelDowngraded(origin: MessageID, originator: String, by: String, from: UInt8, to: UInt8, record: [UInt8])

    public var kind: AuditKind {
        switch self {
        case .forward: return .forward
        case .forwardRefused: return .forwardRefused
        case .forwardHop: return .forwardHop
        case .burnViewed: return .burnViewed
        case .fileFetched: return .fileFetched
        case .userEnabled: return .userEnabled
        case .userDisabled: return .userDisabled
        case .userRemoved: return .userRemoved
        case .userRekeyed: return .userRekeyed
        case .inviteCreated: return .inviteCreated
        case .inviteUsed: return .inviteUsed
        case .inviteRevoked: return .inviteRevoked
        case .peerAdded: return .peerAdded
        case .peerRemoved: return .peerRemoved
        case .directoryForget: return .directoryForget
        case .directoryUnpin: return .directoryUnpin
        case .backup: return .backup
        case .restore: return .restore
        case .officerGranted: return .officerGranted
        case .officerRevoked: return .officerRevoked
        case .traceQueryAnswered: return .traceQueryAnswered
        case .auditHeadSigned: return .auditHeadSigned
        case .viewerCode: return .viewerCode
        case .labelRefused: return .labelRefused
        case .clearanceSet: return .clearanceSet
        case .groupLabelChanged: return .groupLabelChanged
        case .forwardReportReceived: return .forwardReportReceived
        case .labelDowngraded: return .labelDowngraded
        }
    }

    /// The generic fields this event is stored as.
    public var fields: AuditFields {
        func f(_ actor: String, _ subject: String = "", _ ref: MessageID? = nil, _ detail: [UInt8] = []) -> AuditFields {
            AuditFields(kind: kind, actor: actor, subject: subject, ref: ref?.bytes ?? [], detail: detail)
        }
        switch self {
        case .forward(let id, let origin, let by, let recipientsHash, let hops):
            return f(by, "", id, origin.bytes + recipientsHash + [hops])
        case .forwardRefused(let id, let origin, let by, let reason):
            return f(by, "", id, origin.bytes + Array(reason.utf8))
        case .forwardHop(let id, let forwarder, let hop, let countersignature):
            var w = WireWriter()
            w.longstr(hop)
            w.octets(countersignature)
            return f(forwarder, "", id, w.bytes)
        case .burnViewed(let id, let viewer, let sender): return f(viewer, sender, id)
        case .fileFetched(let file, let by, let owner): return f(by, owner, file)
        case .userEnabled(let user, let by), .userDisabled(let user, let by),
             .userRemoved(let user, let by), .userRekeyed(let user, let by),
             .officerGranted(let user, let by), .officerRevoked(let user, let by):
            return f(by, user)
        case .inviteCreated(let invite, let user, let rekey, let by): return f(by, user, nil, [rekey ? 1 : 0] + Array(invite.utf8))
        case .inviteUsed(let invite, let user): return f(user, user, nil, Array(invite.utf8))
        case .inviteRevoked(let invite, let user, let by): return f(by, user, nil, Array(invite.utf8))
        case .peerAdded(let peer, let key, let by): return f(by, peer, nil, key)
        case .peerRemoved(let peer, let by): return f(by, peer)
        case .directoryForget(let address, let by): return f(by, address)
        case .directoryUnpin(let node, let by): return f(by, node)
        case .backup(let destination, let by): return f(by, "", nil, Array(destination.utf8))
        case .restore(let source, let epoch, let by):
            var w = WireWriter()
            w.u64(epoch)
            w.octets(Array(source.utf8))
            return f(by, "", nil, w.bytes)
        case .traceQueryAnswered(let query, let asker, let about, let records):
            var w = WireWriter()
            w.octets(about.bytes)
            w.u32(records)
            return f(asker, "", query, w.bytes)
        case .auditHeadSigned(let position, let root):
            var w = WireWriter()
            w.u64(position)
            w.octets(root)
            return f(AuditActor.node, "", nil, w.bytes)
        case .viewerCode(let code, let viewer, let message, let sender):
            return f(viewer, code, message, Array(sender.utf8))
        case .labelRefused(let id, let from, let to, let reason, let label): return f(from, to, id, [reason, label])
        case .clearanceSet(let user, let label, let by): return f(by, user, nil, [label])
        case .groupLabelChanged(let group, let from, let to, let by): return f(by, group, nil, [from, to])
        case .forwardReportReceived(let id, let node, let forwarder, let report): return f(node, forwarder, id, report)
        case .labelDowngraded(let origin, let originator, let by, let from, let to, let record):
            return f(by, originator, origin, [from, to] + record)
        }
    }

    /// The typed event of a record's fields.
    /// - Throws: `WireError.invalid` when the fields do not fit the kind (a bad length).
    public init(_ r: AuditFields) throws {
        func id(_ bytes: ArraySlice<UInt8>, _ field: String) throws -> MessageID {
            guard let id = MessageID(bytes: Array(bytes)) else { throw WireError.invalid(field: field, reason: "\(bytes.count) bytes, not 16") }
            return id
        }
        func text(_ bytes: ArraySlice<UInt8>) throws -> String {
            guard let s = String(validating: bytes, as: UTF8.self) else { throw WireError.invalid(field: "detail", reason: "not UTF-8") }
            return s
        }
        let d = r.detail[...]
        switch r.kind {
        case .forward:
            guard d.count == 16 + 32 + 1 else { throw WireError.invalid(field: "detail", reason: "forward: \(d.count) bytes, not 49") }
            self = .forward(id: try id(r.ref[...], "ref"), origin: try id(d.prefix(16), "origin"),
                            by: r.actor, recipientsHash: Array(d.dropFirst(16).prefix(32)), hops: d.last!)
        case .forwardRefused:
            guard d.count >= 16 else { throw WireError.invalid(field: "detail", reason: "forward_refused: \(d.count) bytes") }
            self = .forwardRefused(id: try id(r.ref[...], "ref"), origin: try id(d.prefix(16), "origin"),
                                   by: r.actor, reason: try text(d.dropFirst(16)))
        case .forwardHop:
            var reader = WireReader(r.detail)
            let hop = try reader.longstr("hop", max: AuditFields.maxDetail)
            let sig = try reader.octets(64, "countersignature")
            try reader.expectEnd()
            self = .forwardHop(id: try id(r.ref[...], "ref"), forwarder: r.actor, hop: hop, countersignature: sig)
        case .burnViewed: self = .burnViewed(id: try id(r.ref[...], "ref"), viewer: r.actor, sender: r.subject)
        case .fileFetched: self = .fileFetched(file: try id(r.ref[...], "ref"), by: r.actor, owner: r.subject)
        case .userEnabled: self = .userEnabled(user: r.subject, by: r.actor)
        case .userDisabled: self = .userDisabled(user: r.subject, by: r.actor)
        case .userRemoved: self = .userRemoved(user: r.subject, by: r.actor)
        case .userRekeyed: self = .userRekeyed(user: r.subject, by: r.actor)
        case .officerGranted: self = .officerGranted(user: r.subject, by: r.actor)
        case .officerRevoked: self = .officerRevoked(user: r.subject, by: r.actor)
        case .inviteCreated:
            guard let flag = d.first, flag <= 1 else { throw WireError.invalid(field: "detail", reason: "invite_created: no rekey flag") }
            self = .inviteCreated(invite: try text(d.dropFirst()), user: r.subject, rekey: flag == 1, by: r.actor)
        case .inviteUsed: self = .inviteUsed(invite: try text(d), user: r.subject)
        case .inviteRevoked: self = .inviteRevoked(invite: try text(d), user: r.subject, by: r.actor)
        case .peerAdded:
            guard d.count == 32 else { throw WireError.invalid(field: "detail", reason: "peer_added: \(d.count) bytes, not a 32-byte key") }
            self = .peerAdded(peer: r.subject, key: r.detail, by: r.actor)
        case .peerRemoved: self = .peerRemoved(peer: r.subject, by: r.actor)
        case .directoryForget: self = .directoryForget(address: r.subject, by: r.actor)
        case .directoryUnpin: self = .directoryUnpin(node: r.subject, by: r.actor)
        case .backup: self = .backup(destination: try text(d), by: r.actor)
        case .restore:
            var reader = WireReader(r.detail)
            let epoch = try reader.u64("epoch")
            self = .restore(source: try text(d.dropFirst(8)), epoch: epoch, by: r.actor)
        case .traceQueryAnswered:
            var reader = WireReader(r.detail)
            let about = try reader.octets(16, "about")
            let records = try reader.u32("records")
            try reader.expectEnd()
            self = .traceQueryAnswered(query: try id(r.ref[...], "ref"), asker: r.actor, about: try id(about[...], "about"), records: records)
        case .auditHeadSigned:
            var reader = WireReader(r.detail)
            let position = try reader.u64("position")
            let root = try reader.octets(32, "root")
            try reader.expectEnd()
            self = .auditHeadSigned(position: position, root: root)
        case .viewerCode:
            guard ViewerCode(r.subject) != nil else { throw WireError.invalid(field: "subject", reason: "viewer_code: not a viewer code") }
            self = .viewerCode(code: r.subject, viewer: r.actor, message: try id(r.ref[...], "ref"), sender: try text(d))
        case .labelRefused:
            guard d.count == 2 else { throw WireError.invalid(field: "detail", reason: "label_refused: \(d.count) bytes, not 2") }
            self = .labelRefused(id: try id(r.ref[...], "ref"), from: r.actor, to: r.subject, reason: d.first!, label: d.last!)
        case .clearanceSet:
            guard d.count == 1 else { throw WireError.invalid(field: "detail", reason: "clearance_set: \(d.count) bytes, not 1") }
            self = .clearanceSet(user: r.subject, label: d.first!, by: r.actor)
        case .groupLabelChanged:
            guard d.count == 2 else { throw WireError.invalid(field: "detail", reason: "group_label_changed: \(d.count) bytes, not 2") }
            self = .groupLabelChanged(group: r.subject, from: d.first!, to: d.last!, by: r.actor)
        case .forwardReportReceived:
            guard (try? ForwardReport.decode(r.detail)) != nil else {
                throw WireError.invalid(field: "detail", reason: "forward_report_received: not a forward report")
            }
            self = .forwardReportReceived(id: try id(r.ref[...], "ref"), node: r.actor, forwarder: r.subject, report: r.detail)
        case .labelDowngraded:
            guard d.count > 2 else { throw WireError.invalid(field: "detail", reason: "label_downgraded: \(d.count) bytes") }
            let record = Array(d.dropFirst(2))
            _ = try DowngradeRecord.decode(record)
            self = .labelDowngraded(origin: try id(r.ref[...], "ref"), originator: r.subject, by: r.actor, from: d[d.startIndex],
                                    to: d[d.startIndex + 1], record: record)
        }
    }
}

/// The generic fields of an audit record, as stored and hashed.
public struct AuditFields: Sendable, Equatable {
    public var kind: AuditKind
    /// Who did it: a user address, a peer node's name, `operator` or `node`.
    public var actor: String
    /// Whom or what it concerns (a user address, a peer, an invite's user); "" when nothing.
    public var subject: String
    /// The message, forward, file or query id (16 bytes), or empty.
    public var ref: [UInt8]
    /// Kind-specific bytes (ids, hashes, a hop record, a path), at most `maxDetail`.
    public var detail: [UInt8]

    public static let maxDetail = 4096

    public init(kind: AuditKind, actor: String, subject: String, ref: [UInt8], detail: [UInt8]) {
        self.kind = kind
        self.actor = actor
        self.subject = subject
        self.ref = ref
        self.detail = detail
    }
}

/// One record of a node's audit log (protocol/SPEC.md §15.7).
///
/// Canonical bytes: `position:u64 || time:u64 || kind:u8 || actor:string || subject:string
/// || ref:string || detail:longstr`. The record's hash chains it to the one before:
/// `hash = BLAKE2b-256("sealpost audit record v1" || prev:octets[32] || canonical bytes)`,
/// and the first record's `prev` is 32 zero bytes.
public struct AuditRecord: Sendable, Equatable {
    /// 1 for the first record of the log; each next one is one more.
    public var position: UInt64
    /// Milliseconds since the epoch.
    public var time: UInt64
    public var fields: AuditFields
    /// The hash of the record before (32 zero bytes for position 1).
    public var prev: [UInt8]

    public static let context = Array("sealpost audit record v1".utf8)
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public init(position: UInt64, time: UInt64, fields: AuditFields, prev: [UInt8]) {
        self.position = position
        self.time = time
        self.fields = fields
        self.prev = prev
    }

    public init(position: UInt64, time: UInt64, event: AuditEvent, prev: [UInt8]) {
        self.init(position: position, time: time, fields: event.fields, prev: prev)
    }

    /// The typed event (throws when the fields do not fit the kind).
    public func event() throws -> AuditEvent { try AuditEvent(fields) }

    /// The canonical bytes (without `prev`). Only for a record that `isEncodable` (every one
    /// decoded, and every one a node appends): a longer string stops the program.
    public var canonicalBytes: [UInt8] {
        var w = WireWriter(capacity: 48 + fields.actor.utf8.count + fields.subject.utf8.count + fields.ref.count + fields.detail.count)
        w.u64(position)
        w.u64(time)
        w.u8(fields.kind.rawValue)
        w.string(fields.actor)
        w.string(fields.subject)
        w.u8(UInt8(fields.ref.count))
        w.octets(fields.ref)
        w.longstr(fields.detail)
        return w.bytes
    }

    /// Decodes canonical bytes (with `prev` given apart), checking every length and the kind.
    public static func decode(_ bytes: [UInt8], prev: [UInt8]) throws -> AuditRecord {
        var r = WireReader(bytes)
        let position = try r.u64("position")
        let time = try r.u64("time")
        let rawKind = try r.u8("kind")
        guard let kind = AuditKind(rawValue: rawKind) else { throw WireError.invalid(field: "kind", reason: "unknown audit kind \(rawKind)") }
        let actor = try r.string("actor")
        let subject = try r.string("subject")
        let refLength = Int(try r.u8("ref"))
        guard refLength == 0 || refLength == MessageID.size else { throw WireError.invalid(field: "ref", reason: "\(refLength) bytes, not 0 or 16") }
        let ref = try r.octets(refLength, "ref")
        let detail = try r.longstr("detail", max: AuditFields.maxDetail)
        try r.expectEnd()
        guard prev.count == 32 else { throw WireError.invalid(field: "prev", reason: "\(prev.count) bytes, not 32") }
        return AuditRecord(position: position, time: time, fields: AuditFields(kind: kind, actor: actor, subject: subject, ref: ref, detail: detail), prev: prev)
    }

    /// Whether the fields fit the protocol's limits (strings ≤ 255 bytes, ref 0 or 16, detail ≤ 4096).
    public var isEncodable: Bool {
        fields.actor.utf8.count <= 255 && fields.subject.utf8.count <= 255
            && (fields.ref.isEmpty || fields.ref.count == MessageID.size) && fields.detail.count <= AuditFields.maxDetail
    }

    /// This record's chained hash (for a record that `isEncodable`).
    public var hash: [UInt8] { Self.chain(prev: prev, canonical: canonicalBytes) }

    public static func chain(prev: [UInt8], canonical: [UInt8]) -> [UInt8] {
        Sodium.genericHash(context + prev + canonical, outputLength: 32)
    }
}

/// The node's signature over its audit log at one size (protocol/SPEC.md §15.7).
///
/// Signed bytes: `"sealpost audit head v1" || node:string || position:u64 || root:octets[32]
/// || time:u64`, where `root` is the RFC 6962 Merkle tree hash (`AuditTree`) of the record
/// hashes 1…position. The last leaf is the chained hash of record `position`, so the head
/// commits to the whole chain too.
public struct AuditHead: Sendable, Equatable, Codable {
    public var node: String
    /// How many records the log held (the position of the last one).
    public var position: UInt64
    public var root: [UInt8]
    /// When it was signed, milliseconds since the epoch.
    public var time: UInt64
    public var signature: [UInt8]

    public static let context = Array("sealpost audit head v1".utf8)

    public init(node: String, position: UInt64, root: [UInt8], time: UInt64, signature: [UInt8] = []) {
        self.node = node
        self.position = position
        self.root = root
        self.time = time
        self.signature = signature
    }

    public var signedBytes: [UInt8] {
        var w = WireWriter()
        w.octets(Self.context)
        w.string(node)
        w.u64(position)
        w.octets(root)
        w.u64(time)
        return w.bytes
    }

    /// The head signed with the node's key.
    public func signed(with key: SignKeyPair) -> AuditHead {
        var h = self
        h.signature = key.sign(signedBytes)
        return h
    }

    public func verify(nodeKey: [UInt8]) -> Bool {
        root.count == 32 && SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
    }

    /// The wire form: `node:string || position:u64 || root:octets[32] || time:u64 || signature:octets[64]`.
    public func encode(into w: inout WireWriter) {
        w.string(node)
        w.u64(position)
        w.octets(root)
        w.u64(time)
        w.octets(signature)
    }

    public static func decode(from r: inout WireReader) throws -> AuditHead {
        let node = try r.string("node")
        let position = try r.u64("position")
        let root = try r.octets(32, "root")
        let time = try r.u64("time")
        let signature = try r.octets(64, "signature")
        return AuditHead(node: node, position: position, root: root, time: time, signature: signature)
    }
}

/// The RFC 6962 (§2.1) Merkle tree over a log's record hashes, with BLAKE2b-256:
/// `leaf = H(0x00 || record hash)`, `node = H(0x01 || left || right)`, the empty tree `H()`.
public enum AuditTree {
    public static func leaf(_ recordHash: [UInt8]) -> [UInt8] { Sodium.genericHash([0] + recordHash, outputLength: 32) }
    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { Sodium.genericHash([1] + left + right, outputLength: 32) }
    public static let empty: [UInt8] = Sodium.genericHash([], outputLength: 32)

    /// The largest power of two smaller than `n` (n ≥ 2).
    public static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The tree hash of `leaves` (leaf hashes, already `leaf(_:)`ed).
    public static func root(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        switch leaves.count {
        case 0: return empty
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            return node(root(leaves.prefix(k)), root(leaves.dropFirst(k)))
        }
    }

    /// The inclusion proof (audit path, RFC 6962 §2.1.1) of leaf `index` (0-based) in the tree of `leaves`.
    public static func path(_ index: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
        guard leaves.count > 1 else { return [] }
        let k = split(leaves.count)
        if index < k { return path(index, leaves.prefix(k)) + [root(leaves.dropFirst(k))] }
        return path(index - k, leaves.dropFirst(k)) + [root(leaves.prefix(k))]
    }

    /// Every level of the tree of `leaves`, bottom up: level 0 the leaves, each next level the
    /// pairs of the one below, a last node without a partner carried up as it is (which gives
    /// RFC 6962's tree). 2n hashes in memory; then each `path(_:levels:)` costs O(log n).
    public static func levels(_ leaves: [[UInt8]]) -> [[[UInt8]]] {
        var out = [leaves]
        while let last = out.last, last.count > 1 {
            var next: [[UInt8]] = []
            next.reserveCapacity((last.count + 1) / 2)
            var i = 0
            while i + 1 < last.count {
                next.append(node(last[i], last[i + 1]))
                i += 2
            }
            if i < last.count { next.append(last[i]) }
            out.append(next)
        }
        return out
    }

    /// The audit path of leaf `index` from precomputed `levels` (the same as `path(_:_:)`).
    public static func path(_ index: Int, levels: [[[UInt8]]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = index
        for level in levels.dropLast() {
            let sibling = i ^ 1
            if sibling < level.count { out.append(level[sibling]) }
            i >>= 1
        }
        return out
    }

    /// Verifies an inclusion proof (RFC 9162 §2.1.3.2): leaf `index` of a tree of `size` leaves.
    public static func verify(leaf: [UInt8], index: UInt64, size: UInt64, path: [[UInt8]], root: [UInt8]) -> Bool {
        guard index < size, path.count <= 64 else { return false }
        var fn = index, sn = size - 1, r = leaf
        for p in path {
            guard sn != 0, p.count == 32 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && Sodium.constantTimeEqual(r, root)
    }
}

/// The right edge of an RFC 6962 tree as leaves are appended: one root per perfect
/// subtree (the binary digits of the size), so the tree hash of the log so far costs
/// O(log n) and never a scan.
public struct AuditFrontier: Sendable, Equatable {
    /// Roots of the perfect subtrees, largest (leftmost) first, with their heights.
    public private(set) var subtrees: [(height: Int, hash: [UInt8])] = []
    public private(set) var size: UInt64 = 0

    public init() {}

    /// The frontier of a tree of `size` leaves from its subtree roots, largest first (what
    /// `bytes` holds: one 32-byte root per set bit of `size`, from the highest); nil when
    /// the count does not fit the size.
    public init?(size: UInt64, bytes: [UInt8]) {
        let heights = (0..<64).reversed().filter { size >> UInt64($0) & 1 == 1 }
        guard bytes.count == heights.count * 32 else { return nil }
        subtrees = heights.enumerated().map { i, h in (h, Array(bytes[(i * 32)..<(i * 32 + 32)])) }
        self.size = size
    }

    /// The subtree roots, largest first, concatenated (for `init(size:bytes:)`).
    public var bytes: [UInt8] { subtrees.flatMap(\.hash) }

    public static func == (a: AuditFrontier, b: AuditFrontier) -> Bool {
        a.size == b.size && a.subtrees.map(\.hash) == b.subtrees.map(\.hash)
    }

    /// Appends the record hash (not yet `leaf`ed).
    public mutating func append(recordHash: [UInt8]) {
        var h = (height: 0, hash: AuditTree.leaf(recordHash))
        while let last = subtrees.last, last.height == h.height {
            subtrees.removeLast()
            h = (h.height + 1, AuditTree.node(last.hash, h.hash))
        }
        subtrees.append(h)
        size += 1
    }

    /// The tree hash of the leaves so far.
    public var root: [UInt8] {
        guard var r = subtrees.last?.hash else { return AuditTree.empty }
        for s in subtrees.dropLast().reversed() { r = AuditTree.node(s.hash, r) }
        return r
    }
}

/// A proof that one record is in the log whose signed head is `head`: the record, and the
/// audit path from its leaf to the head's root (⌈log2 n⌉ hashes, never the whole log).
public struct AuditProof: Sendable, Equatable {
    public var record: AuditRecord
    public var path: [[UInt8]]
    public var head: AuditHead

    public init(record: AuditRecord, path: [[UInt8]], head: AuditHead) {
        self.record = record
        self.path = path
        self.head = head
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case badHeadSignature
        case beyondHead(position: UInt64, head: UInt64)
        case notInTree(position: UInt64)

        public var description: String {
            switch self {
            case .badHeadSignature: return "the signed head's signature does not verify with the node's key"
            case .beyondHead(let p, let n): return "record \(p) is not below the signed head (\(n) records)"
            case .notInTree(let p): return "record \(p) does not hash into the signed head's root (altered, or not in that log)"
            }
        }
    }

    /// The wire form (protocol/SPEC.md §15.7.4): `record:longstr (canonical bytes) || prev:octets[32]
    /// || path_count:u8 || path_count × octets[32] || head (AuditHead's wire form)`.
    public func encode(into w: inout WireWriter) {
        w.longstr(record.canonicalBytes)
        w.octets(record.prev)
        w.u8(UInt8(path.count))
        for p in path { w.octets(p) }
        head.encode(into: &w)
    }

    /// Decodes a proof, checking every length (a record over the limits, more than 64 hashes).
    public static func decode(from r: inout WireReader) throws -> AuditProof {
        let canonical = try r.longstr("record", max: 4 * AuditFields.maxDetail)
        let prev = try r.octets(32, "prev")
        let record = try AuditRecord.decode(canonical, prev: prev)
        let count = Int(try r.u8("path_count"))
        guard count <= 64 else { throw WireError.invalid(field: "path_count", reason: "\(count) hashes, limit 64") }
        var path: [[UInt8]] = []
        for _ in 0..<count { path.append(try r.octets(32, "path")) }
        return AuditProof(record: record, path: path, head: try AuditHead.decode(from: &r))
    }

    /// Checks the head's signature with `nodeKey`, then that the record hashes into its root.
    /// - Throws: `Failure` naming what does not hold.
    public func verify(nodeKey: [UInt8]) throws {
        guard head.verify(nodeKey: nodeKey) else { throw Failure.badHeadSignature }
        guard record.position >= 1, record.position <= head.position else {
            throw Failure.beyondHead(position: record.position, head: head.position)
        }
        guard AuditTree.verify(leaf: AuditTree.leaf(record.hash), index: record.position - 1, size: head.position,
                               path: path, root: head.root) else { throw Failure.notInTree(position: record.position) }
    }

    /// The proof of record `position` (1-based) among `recordHashes` (hashes of records 1…n), against `head` (of size n).
    public static func make(record: AuditRecord, recordHashes: [[UInt8]], head: AuditHead) -> AuditProof {
        make(records: [record], recordHashes: recordHashes, head: head)[0]
    }

    /// The proofs of several records against one head: the tree is built once (O(n)), each path is O(log n).
    public static func make(records: [AuditRecord], recordHashes: [[UInt8]], head: AuditHead) -> [AuditProof] {
        let levels = AuditTree.levels(recordHashes.prefix(Int(head.position)).map(AuditTree.leaf))
        return records.map { AuditProof(record: $0, path: AuditTree.path(Int($0.position) - 1, levels: levels), head: head) }
    }
}

/// What `audit verify` found (protocol/SPEC.md §15.7): the log is good, or the first bad position and why.
public struct AuditVerification: Sendable, Equatable, Codable {
    public var records: UInt64
    /// The positions of the signed heads checked.
    public var headsChecked: Int
    /// The first bad position (nil when the log verifies).
    public var firstBad: UInt64?
    public var problem: String?

    public var ok: Bool { firstBad == nil }

    public init(records: UInt64, headsChecked: Int, firstBad: UInt64?, problem: String?) {
        self.records = records
        self.headsChecked = headsChecked
        self.firstBad = firstBad
        self.problem = problem
    }

    /// Verifies a run of records and the signed heads over them (all in memory; a store
    /// streams its rows through `AuditVerifier` instead).
    public static func verify(records: some Sequence<AuditRecord>, storedHashes: [[UInt8]]? = nil,
                              heads: [AuditHead], nodeKey: [UInt8]) -> AuditVerification {
        var verifier = AuditVerifier(heads: heads, nodeKey: nodeKey)
        for (i, record) in records.enumerated() {
            let stored = storedHashes.flatMap { i < $0.count ? $0[i] : nil }
            if !verifier.add(record, storedHash: stored) { break }
        }
        return verifier.finish()
    }
}

/// Verifies a log one record at a time, in position order (`audit verify`, protocol/SPEC.md §15.7).
///
/// Each record must be at the next position (from 1), hold the hash of the one before in
/// `prev`, and hash to its stored hash when one is given. Each signed head must verify with
/// the node's key and its root must be the tree hash of the first `position` records; a head
/// above the last record means the tail was cut. So an edited record (its hash, or the next
/// one's `prev`, no longer matches), a removed one (a position is missing), two swapped
/// (positions or `prev` out of order) and a tail cut below a signed head are all found, at
/// the first bad position.
public struct AuditVerifier {
    private let heads: [AuditHead]
    private let nodeKey: [UInt8]
    private var nextHead = 0
    private var frontier = AuditFrontier()
    private var prev = AuditRecord.genesis
    private var expected: UInt64 = 1
    private var checked = 0
    private var failure: AuditVerification?

    public init(heads: [AuditHead], nodeKey: [UInt8]) {
        self.heads = heads.filter { $0.position > 0 }.sorted { $0.position < $1.position }
        self.nodeKey = nodeKey
    }

    private mutating func fail(_ at: UInt64, _ why: String) -> Bool {
        failure = AuditVerification(records: expected - 1, headsChecked: checked, firstBad: at, problem: why)
        return false
    }

    /// Adds the next record; false once a problem is found (later records are not looked at).
    public mutating func add(_ record: AuditRecord, storedHash: [UInt8]? = nil) -> Bool {
        guard failure == nil else { return false }
        if record.position != expected {
            return fail(expected, record.position > expected
                        ? "record \(expected) is missing (the next record is \(record.position))"
                        : "record \(record.position) is out of order (expected \(expected))")
        }
        if record.prev != prev {
            return fail(expected, "record \(expected) does not hold the hash of record \(expected - 1) (it or the one before was altered, removed or moved)")
        }
        guard record.isEncodable else { return fail(expected, "record \(expected) has fields over the protocol's limits (altered)") }
        let hash = record.hash
        if let storedHash, storedHash != hash {
            return fail(expected, "record \(expected) was altered (its fields no longer hash to its stored hash)")
        }
        frontier.append(recordHash: hash)
        prev = hash
        while nextHead < heads.count, heads[nextHead].position <= expected {
            let head = heads[nextHead]
            nextHead += 1
            if head.position < expected { continue }
            checked += 1
            if !head.verify(nodeKey: nodeKey) {
                return fail(expected, "the signed head at \(head.position) does not verify with the node's key")
            }
            if head.root != frontier.root {
                return fail(expected, "the records up to \(expected) do not match the signed head at \(head.position)")
            }
        }
        expected += 1
        return true
    }

    /// What was found: the first problem, or a tail cut below the last signed head, or a good log.
    public func finish() -> AuditVerification {
        if let failure { return failure }
        if nextHead < heads.count, let last = heads.last {
            return AuditVerification(records: expected - 1, headsChecked: checked, firstBad: expected,
                                     problem: "the log ends at \(expected - 1) but a head was signed at \(last.position): records \(expected)…\(last.position) were cut")
        }
        return AuditVerification(records: expected - 1, headsChecked: checked, firstBad: nil, problem: nil)
    }
}
