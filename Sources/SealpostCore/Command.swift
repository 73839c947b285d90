/// Error codes carried by ERROR (protocol/SPEC.md, "Error codes").
public enum ErrorCode: UInt16, Sendable {
    case badRequest = 400
    case notAllowed = 401
    case forgedSender = 403
    case unknownAddress = 404
    case inviteUsed = 409
    case inviteExpired = 410
    /// The connection's key is no longer admitted: its account was disabled, removed or re-keyed.
    case keyRevoked = 423
    case tooLarge = 413
    /// A forward its origin's policy or the node's forwarding settings do not allow (protocol/SPEC.md 7.9.5).
    case forwardRefused = 422
    /// The sender sends faster than the node allows: retry after the time the reason names.
    case rateLimited = 429
    /// The node cannot store it: a file or mailbox quota, or the node's disk.
    case insufficientStorage = 507
    case internalError = 500
    case unavailable = 503
    /// Labels (section 7.11): a recipient or group member is not cleared for the label, or it is
    /// above a node's or a link's ceiling; the reason names who or which.
    case notCleared = 451
    /// Labels: a state-secret class, and the node is not accredited for it.
    case notAccredited = 452
    /// DOWNGRADE refused (section 7.11.11): the person may not downgrade, the message is not this
    /// unit's, the label is not lower, or a signature does not verify; the reason says which.
    case downgradeRefused = 453
    /// Labels: the message's readable-until time is missing or later than its label's 保密期限
    /// on the sender's node allows (section 7.11.9); the reason names the label and its limit.
    case beyondExpiry = 454

    /// 410 also answers a VIEW of a burn message that was viewed or expired.
    public static var gone: ErrorCode { .inviteExpired }
}

/// A directory entry as a node hands it to a client.
public struct DirectoryItem: Sendable, Equatable {
    public var entry: [UInt8]
    public var homeSignKey: [UInt8]
    public init(entry: [UInt8], homeSignKey: [UInt8]) {
        self.entry = entry
        self.homeSignKey = homeSignKey
    }
}

/// A node's name and its Ed25519 signing key, as another node holds it.
public struct NodeKey: Sendable, Equatable {
    public var name: String
    public var signKey: [UInt8]
    public init(name: String, signKey: [UInt8]) {
        self.name = name
        self.signKey = signKey
    }
}

/// Every command of the client ↔ node protocol, one per ZeroMQ frame.
///
/// Frame: `signature:octets[2]=AA 5C version:u8=1 command:u8 fields…`
/// (grammar and field meanings in protocol/SPEC.md).
public enum Command: Sendable, Equatable {
    /// C→N, only on an invite session: the person's public keys.
    case enroll(display: String, curveKey: [UInt8], boxKey: [UInt8], signKey: [UInt8])
    /// N→C: enrolment done.
    case enrolled(address: String, nodeSignKey: [UInt8])
    /// C→N: ask for a directory entry.
    case lookup(requestId: UInt32, address: String)
    /// N→C: the signed directory entry (see `DirectoryEntry`) and the signing key
    /// of its home node (this node's own key, or the key it pinned for a remote node).
    case entry(requestId: UInt32, entry: [UInt8], homeSignKey: [UInt8])
    /// C→N: an envelope to store and route (`from` must be empty: the node stamps it).
    case send(Envelope)
    /// N→C: the envelope with this id is durable on the node.
    case stored(id: MessageID)
    /// C→N: this session wants its mailbox pushed, at most `window` unacknowledged at once.
    case attach(window: UInt32)
    /// N→C: mailbox entry `seq`.
    case deliver(seq: UInt64, envelope: Envelope)
    /// C→N: every delivery up to and including `seq` is safe with the client.
    case ack(seq: UInt64)
    /// N→C: everything that was waiting when the session attached has been sent.
    case synced(pending: UInt32)
    /// C→N: keep-alive.
    case ping
    /// N→C: keep-alive answer; `attached` says whether the node still knows the session.
    case pong(attached: Bool)
    /// N→C: a request failed. `ref` is the message id concerned, or zero.
    case error(code: UInt16, ref: MessageID, reason: String)
    /// C→N: stop pushing to this session.
    case detach
    /// C→N: list directory entries whose address or name contains `query` (all when empty).
    case directory(requestId: UInt32, query: String)
    /// N→C: the matching entries, each with its home node's signing key.
    case entries(requestId: UInt32, items: [DirectoryItem])
    /// C→N: hand over burn message `id` once; the node deletes it as it answers.
    case view(id: MessageID)
    /// N→C: the burn message asked for, whole; it no longer exists on the node.
    case viewing(Envelope)
    /// C→N: which nodes' signing keys does this node hold (for checking burn receipts)?
    case nodeKeys(requestId: UInt32)
    /// N→C: this node and every node whose signing key it holds, by name.
    case nodeList(requestId: UInt32, nodes: [NodeKey])
    /// C→N: an upload starts, or continues after an interruption (`size`: ciphertext bytes).
    case fileBegin(fileId: FileID, size: UInt64, chunks: UInt32)
    /// N→C: the first `have` of the file's `chunks` chunks are durable on the node.
    case fileStatus(fileId: FileID, have: UInt32, chunks: UInt32)
    /// C→N (upload) and N→C (download): ciphertext chunk `index`.
    case fileChunk(fileId: FileID, index: UInt32, data: [UInt8])
    /// C→N: send chunks `from ..< from + count` (credit).
    case fileGet(fileId: FileID, from: UInt32, count: UInt32)
    /// C→N: this recipient has the whole file (the node may collect it).
    case fileDone(fileId: FileID)
    /// C→N: a trace (officers: `message`, `code`) or a viewer code for a view (`mark`, anyone).
    case trace(requestId: UInt32, op: Trace.Operation, subject: Trace.Subject)
    /// N→C: the answer to TRACE: for `mark` the code issued, else every node's state and signed answer.
    case traceResult(requestId: UInt32, op: Trace.Operation, code: String, nodes: [Trace.NodeResult])
    /// C→N with nil: asks for the node's label rules; N→C: the federation's label set, the
    /// node's default label and ceiling, and the person's clearance (section 7.11.4).
    case labels(LabelInfo?)
    /// C→N: a person asks its node to downgrade a message of its unit (section 7.11.11).
    case downgrade(DowngradeRequest)
    /// N→C: the downgrade, countersigned by the node (the answer to `downgrade`).
    case downgraded(DowngradeRecord)

    public static let signature: [UInt8] = [0xAA, 0x5C]
    public static let version: UInt8 = 1

    /// The command's id: its entry in the table of protocol/SPEC.md 4.2.
    public var commandID: CommandID {
        switch self {
        case .enroll: return .enroll
        case .enrolled: return .enrolled
        case .lookup: return .lookup
        case .entry: return .entry
        case .send: return .send
        case .stored: return .stored
        case .attach: return .attach
        case .deliver: return .deliver
        case .ack: return .ack
        case .synced: return .synced
        case .ping: return .ping
        case .pong: return .pong
        case .error: return .error
        case .detach: return .detach
        case .directory: return .directory
        case .entries: return .entries
        case .view: return .view
        case .viewing: return .viewing
        case .nodeKeys: return .nodeKeys
        case .nodeList: return .nodeList
        case .fileBegin: return .fileBegin
        case .fileStatus: return .fileStatus
        case .fileChunk: return .fileChunk
        case .fileGet: return .fileGet
        case .fileDone: return .fileDone
        case .trace: return .trace
        case .traceResult: return .traceResult
        case .labels: return .labels
        case .downgrade, .downgraded: return .downgrade
        }
    }

    public var id: UInt8 { commandID.rawValue }
    public var name: String { commandID.name }

    /// Largest frame a client sends, but for a SEND of a burn message (`maxLargeFrameBytes`).
    public static let maxFrameBytes: Int64 = 256 * 1024
    /// Largest frame a node accepts on its ROUTER (ZMQ_MAXMSGSIZE, shared by clients and peers):
    /// bigger ones drop the connection. Burn messages with images and their RELAYs fit.
    public static let maxLargeFrameBytes: Int64 = 16 * 1024 * 1024

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 64 + bulkBytes)
        w.octets(Self.signature)
        w.u8(Self.version)
        w.u8(id)
        switch self {
        case let .enroll(display, curveKey, boxKey, signKey):
            w.string(display); w.octets(curveKey); w.octets(boxKey); w.octets(signKey)
        case let .enrolled(address, nodeSignKey):
            w.string(address); w.octets(nodeSignKey)
        case let .lookup(requestId, address):
            w.u32(requestId); w.string(address)
        case let .entry(requestId, entry, homeSignKey):
            w.u32(requestId); w.longstr(entry); w.octets(homeSignKey)
        case let .send(envelope):
            envelope.encode(into: &w)
        case let .stored(id):
            w.octets(id.bytes)
        case let .attach(window):
            w.u32(window)
        case let .deliver(seq, envelope):
            w.u64(seq); envelope.encode(into: &w)
        case let .ack(seq):
            w.u64(seq)
        case let .synced(pending):
            w.u32(pending)
        case .ping, .detach:
            break
        case let .directory(requestId, query):
            w.u32(requestId); w.string(query)
        case let .entries(requestId, items):
            w.u32(requestId); w.u32(UInt32(items.count))
            for item in items { w.longstr(item.entry); w.octets(item.homeSignKey) }
        case let .view(id):
            w.octets(id.bytes)
        case let .viewing(envelope):
            envelope.encode(into: &w)
        case let .nodeKeys(requestId):
            w.u32(requestId)
        case let .nodeList(requestId, nodes):
            w.u32(requestId); w.u16(UInt16(nodes.count))
            for n in nodes { w.string(n.name); w.octets(n.signKey) }
        case let .pong(attached):
            w.u8(attached ? 1 : 0)
        case let .error(code, ref, reason):
            w.u16(code); w.octets(ref.bytes); w.string(reason.truncatedUTF8(255))
        case let .fileBegin(fileId, size, chunks):
            w.octets(fileId.bytes); w.u64(size); w.u32(chunks)
        case let .fileStatus(fileId, have, chunks):
            w.octets(fileId.bytes); w.u32(have); w.u32(chunks)
        case let .fileChunk(fileId, index, data):
            w.octets(fileId.bytes); w.u32(index); w.longstr(data)
        case let .fileGet(fileId, from, count):
            w.octets(fileId.bytes); w.u32(from); w.u32(count)
        case let .fileDone(fileId):
            w.octets(fileId.bytes)
        case let .trace(requestId, op, subject):
            w.u32(requestId); w.u8(op.rawValue); subject.encode(into: &w)
        case let .traceResult(requestId, op, code, nodes):
            w.u32(requestId); w.u8(op.rawValue); w.string(code); w.u16(UInt16(nodes.count))
            for n in nodes { w.string(n.node); w.u8(n.state.rawValue); w.longstr(n.answer) }
        case let .labels(info):
            info?.encode(into: &w)
        case let .downgrade(request):
            w.u8(1); request.encode(into: &w)
        case let .downgraded(record):
            w.u8(2); record.encode(into: &w)
        }
        return w.bytes
    }

    public static func decode(_ frame: [UInt8]) throws -> Command {
        var r = WireReader(frame)
        guard try r.octets(2, "signature") == signature else { throw WireError.badSignature }
        let version = try r.u8("version")
        guard version == Self.version else { throw WireError.unsupportedVersion(version) }
        let command: Command
        let byte = try r.u8("command")
        guard let id = CommandID(rawValue: byte) else { throw WireError.unknownCommand(byte) }
        switch id {
        case .enroll:
            let display = try r.string("display")
            command = .enroll(display: display, curveKey: try r.octets(32, "curve_key"),
                              boxKey: try r.octets(32, "box_key"), signKey: try r.octets(32, "sign_key"))
        case .enrolled:
            command = .enrolled(address: try r.string("address"), nodeSignKey: try r.octets(32, "node_sign_key"))
        case .lookup:
            command = .lookup(requestId: try r.u32("request_id"), address: try r.string("address"))
        case .entry:
            command = .entry(requestId: try r.u32("request_id"), entry: try r.longstr("entry", max: 4096),
                             homeSignKey: try r.octets(32, "home_sign_key"))
        case .send:
            command = .send(try Envelope.decode(from: &r))
        case .stored:
            command = .stored(id: MessageID(bytes: try r.octets(16, "id"))!)
        case .attach:
            command = .attach(window: try r.u32("window"))
        case .deliver:
            let seq = try r.u64("seq")
            command = .deliver(seq: seq, envelope: try Envelope.decode(from: &r))
        case .ack:
            command = .ack(seq: try r.u64("seq"))
        case .synced:
            command = .synced(pending: try r.u32("pending"))
        case .ping:
            command = .ping
        case .pong:
            let flag = try r.u8("attached")
            guard flag <= 1 else { throw WireError.invalid(field: "attached", reason: "must be 0 or 1") }
            command = .pong(attached: flag == 1)
        case .error:
            let code = try r.u16("code")
            let ref = MessageID(bytes: try r.octets(16, "ref"))!
            command = .error(code: code, ref: ref, reason: try r.string("reason"))
        case .detach:
            command = .detach
        case .directory:
            command = .directory(requestId: try r.u32("request_id"), query: try r.string("query"))
        case .entries:
            let requestId = try r.u32("request_id")
            let n = Int(try r.u32("count"))
            guard n <= 100_000 else { throw WireError.invalid(field: "count", reason: "too many entries") }
            var items: [DirectoryItem] = []
            for _ in 0..<n {
                items.append(DirectoryItem(entry: try r.longstr("entry", max: 4096), homeSignKey: try r.octets(32, "home_sign_key")))
            }
            command = .entries(requestId: requestId, items: items)
        case .view:
            command = .view(id: MessageID(bytes: try r.octets(16, "id"))!)
        case .viewing:
            command = .viewing(try Envelope.decode(from: &r))
        case .nodeKeys:
            command = .nodeKeys(requestId: try r.u32("request_id"))
        case .nodeList:
            let requestId = try r.u32("request_id")
            let n = Int(try r.u16("count"))
            var nodes: [NodeKey] = []
            for _ in 0..<n {
                let name = try r.string("node")
                guard Name.isValid(name) else { throw WireError.invalid(field: "node", reason: "not a node name") }
                nodes.append(NodeKey(name: name, signKey: try r.octets(32, "sign_key")))
            }
            command = .nodeList(requestId: requestId, nodes: nodes)
        case .fileBegin, .fileStatus, .fileChunk, .fileGet, .fileDone:
            command = try decodeFile(id, &r)
        case .trace, .traceResult:
            command = try decodeTrace(id, &r)
        case .labels:
            command = .labels(r.remaining == 0 ? nil : try LabelInfo.decode(from: &r))
        case .downgrade:
            switch try r.u8("op") {
            case 1: command = .downgrade(try DowngradeRequest.decode(from: &r))
            case 2: command = .downgraded(try DowngradeRecord.decode(from: &r))
            default: throw WireError.invalid(field: "op", reason: "must be 1 (request) or 2 (record)")
            }
        }
        try r.expectEnd()
        return command
    }
}

/// Who sends a command of the client protocol (the "direction" column of protocol/SPEC.md 4.2).
public enum CommandDirection: Sendable, CaseIterable {
    case clientToNode
    case nodeToClient
    /// FILE-CHUNK: client → node (upload), node → client (download).
    case both

    /// Whether a client may send it (a node answers the others from a client with ERROR 400, SPEC 5).
    public var clientSends: Bool { self != .nodeToClient }
    /// Whether a node may send it (a client ignores the others from its node, SPEC 5).
    public var nodeSends: Bool { self != .clientToNode }
}

/// The commands of the client ↔ node protocol: id, name and direction, as in the table of
/// protocol/SPEC.md 4.2 (`ProtocolTableTests` compares the two). Encoding writes these ids,
/// decoding dispatches on them, and the node refuses by `direction` what clients may not send.
public enum CommandID: UInt8, Sendable, CaseIterable {
    case enroll = 0x01
    case enrolled = 0x02
    case lookup = 0x03
    case entry = 0x04
    case send = 0x05
    case stored = 0x06
    case attach = 0x07
    case deliver = 0x08
    case ack = 0x09
    case synced = 0x0A
    case ping = 0x0B
    case pong = 0x0C
    case error = 0x0D
    case detach = 0x0E
    case directory = 0x0F
    case entries = 0x10
    case view = 0x11
    case viewing = 0x12
    case nodeKeys = 0x13
    case nodeList = 0x14
    case downgrade = 0x15
    case fileBegin = 0x18
    case fileStatus = 0x19
    case fileChunk = 0x1A
    case fileGet = 0x1B
    case fileDone = 0x1C
    case trace = 0x1D
    case traceResult = 0x1E
    case labels = 0x1F

    /// The command's name in protocol/SPEC.md.
    public var name: String {
        switch self {
        case .enroll: return "ENROLL"
        case .enrolled: return "ENROLLED"
        case .lookup: return "LOOKUP"
        case .entry: return "ENTRY"
        case .send: return "SEND"
        case .stored: return "STORED"
        case .attach: return "ATTACH"
        case .deliver: return "DELIVER"
        case .ack: return "ACK"
        case .synced: return "SYNCED"
        case .ping: return "PING"
        case .pong: return "PONG"
        case .error: return "ERROR"
        case .detach: return "DETACH"
        case .directory: return "DIRECTORY"
        case .entries: return "ENTRIES"
        case .view: return "VIEW"
        case .viewing: return "VIEWING"
        case .nodeKeys: return "NODE-KEYS"
        case .nodeList: return "NODE-LIST"
        case .downgrade: return "DOWNGRADE"
        case .fileBegin: return "FILE-BEGIN"
        case .fileStatus: return "FILE-STATUS"
        case .fileChunk: return "FILE-CHUNK"
        case .fileGet: return "FILE-GET"
        case .fileDone: return "FILE-DONE"
        case .trace: return "TRACE"
        case .traceResult: return "TRACE-RESULT"
        case .labels: return "LABELS"
        }
    }

    public var direction: CommandDirection {
        switch self {
        case .enroll, .lookup, .send, .attach, .ack, .ping, .detach, .directory, .view, .nodeKeys,
             .fileBegin, .fileGet, .fileDone, .trace:
            return .clientToNode
        case .enrolled, .entry, .stored, .deliver, .synced, .pong, .error, .entries, .viewing, .nodeList, .fileStatus, .traceResult:
            return .nodeToClient
        case .fileChunk, .labels, .downgrade:
            return .both
        }
    }
}

extension String {
    /// The longest prefix of whole characters that fits in `maxBytes` of UTF-8.
    public func truncatedUTF8(_ maxBytes: Int) -> String {
        if utf8.count <= maxBytes { return self }
        var out = ""
        var used = 0
        for ch in self {
            let n = String(ch).utf8.count
            if used + n > maxBytes { break }
            out.append(ch)
            used += n
        }
        return out
    }
}
