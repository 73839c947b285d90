/// One destination in a route announcement: the path from the announcer to it
/// (empty for the announcer itself), the destination's signing key as the
/// announcer knows it, and the version of its directory.
public struct RouteEntry: Sendable, Equatable {
    public var dest: String
    public var signKey: [UInt8]
    public var directoryVersion: UInt64
    public var path: [String]

    public init(dest: String, signKey: [UInt8], directoryVersion: UInt64, path: [String]) {
        self.dest = dest
        self.signKey = signKey
        self.directoryVersion = directoryVersion
        self.path = path
    }
}

/// Who sends a node-to-node command, and on which socket (the "sent" column of protocol/SPEC.md 11.4).
public enum PeerCommandDirection: Sendable, CaseIterable {
    /// `N:`, N → S: the connecting node on its DEALER, read by the peer's ROUTER.
    case nodeToServer
    /// `S:`, S → N: the ROUTER's answer on that connection, read on the DEALER.
    case serverToNode
    /// HELLO: N → S, and S → N as the answer.
    case both
    /// `P:`: published on PUB, read on SUB.
    case published

    /// Whether a node's ROUTER takes it from a peer.
    public var readOnRouter: Bool { self == .nodeToServer || self == .both }
    /// Whether a node's DEALER takes it from the peer it connected to.
    public var readOnDealer: Bool { self == .serverToNode || self == .both }
    /// Whether a node's SUB takes it from a peer's PUB.
    public var readOnSubscription: Bool { self == .published }
}

/// The node-to-node commands: id, name and direction, as in the table of protocol/SPEC.md 11.4
/// (`ProtocolTableTests` compares the two). Encoding writes these ids, decoding dispatches on
/// them, and a node refuses by `direction` a command on a socket it is not sent on.
public enum PeerCommandID: UInt8, Sendable, CaseIterable {
    case hello = 0x20
    case relay = 0x21
    case relayed = 0x22
    case ping = 0x23
    case pong = 0x24
    case routes = 0x25
    case directoryRequest = 0x26
    case directorySnapshot = 0x27
    case summary = 0x28
    case filePull = 0x29
    case fileData = 0x2A
    case fileHave = 0x2B
    case filePulled = 0x2C
    case traceQuery = 0x2D
    case traceAnswer = 0x2E

    /// The command's name in protocol/SPEC.md.
    public var name: String {
        switch self {
        case .hello: return "HELLO"
        case .relay: return "RELAY"
        case .relayed: return "RELAYED"
        case .ping: return "PEER-PING"
        case .pong: return "PEER-PONG"
        case .routes: return "ROUTES"
        case .directoryRequest: return "DIR-REQ"
        case .directorySnapshot: return "DIR-SNAPSHOT"
        case .summary: return "SUMMARY"
        case .filePull: return "FILE-PULL"
        case .fileData: return "FILE-DATA"
        case .fileHave: return "FILE-HAVE"
        case .filePulled: return "FILE-PULLED"
        case .traceQuery: return "TRACE-QUERY"
        case .traceAnswer: return "TRACE-ANSWER"
        }
    }

    public var direction: PeerCommandDirection {
        switch self {
        case .hello: return .both
        case .relay, .ping, .directoryRequest, .filePull, .filePulled, .traceQuery, .traceAnswer: return .nodeToServer
        case .relayed, .pong, .directorySnapshot, .fileData, .fileHave: return .serverToNode
        case .routes, .summary: return .published
        }
    }
}

/// Commands between nodes (protocol/SPEC.md, "Node to node"). Same frame header
/// as `Command`; ids from 0x20 (`PeerCommandID`, with each command's direction). A node's
/// DEALER to a peer's ROUTER carries HELLO, RELAY, PEER-PING, DIR-REQ, FILE-PULL and
/// FILE-PULLED; the ROUTER answers HELLO, RELAYED, PEER-PONG, DIR-SNAPSHOT, FILE-DATA and
/// FILE-HAVE on the same connection. ROUTES and SUMMARY go out on PUB.
public enum PeerCommand: Sendable, Equatable {
    /// The sending node's name, signing key, how many RELAYs it accepts unacknowledged (credit),
    /// and its stream epoch (new after a restore; 0 from nodes that predate epochs), and the digest
    /// of its label set (section 7.11.2; empty from nodes that predate labels).
    case hello(node: String, signKey: [UInt8], credit: UInt32, epoch: UInt64 = 0, labels: [UInt8] = [])
    /// An envelope on its way from `origin` node to `dest` node. `jid` is the sending
    /// hop's journal id (echoed in RELAYED); `streamSeq` orders the origin→dest stream.
    /// `hops` counts the nodes it passed; a node drops it past `maxHops` (a routing loop).
    /// `epoch` is the origin's stream epoch when it numbered the envelope (0: unknown).
    case relay(jid: UInt64, origin: String, dest: String, streamSeq: UInt64, hops: UInt8, envelope: Envelope, epoch: UInt64 = 0)
    /// These journal ids are durable on the receiving hop.
    case relayed(jids: [UInt64])
    case ping(sentNs: UInt64)
    case pong(echoNs: UInt64)
    /// Path-vector announcement: every destination the announcer reaches. A full
    /// table each time (lossy PUB/SUB needs no gap repair for it); `seq` lets
    /// receivers drop stale or repeated ones.
    case routes(node: String, seq: UInt64, entries: [RouteEntry])
    /// Ask a peer for the directory of home node `home`.
    case directoryRequest(home: String)
    /// Every signed entry of `home` at `version`, and `home`'s own signature over
    /// both (`DirectoryHead`), passed on unchanged by every node on the way.
    case directorySnapshot(home: String, version: UInt64, entries: [[UInt8]], signature: [UInt8])
    /// A node's status summary (JSON), flooded so operators see the federation.
    case summary(node: String, seq: UInt64, json: [UInt8])
    /// Ask a peer for chunks `from ..< from + count` of a file that `origin` holds
    /// (`size` and `chunks` as in the file's offer, so a node in between can pull it too).
    case filePull(fileId: FileID, origin: String, size: UInt64, chunks: UInt32, from: UInt32, count: UInt32)
    /// One ciphertext chunk of a file and its BLAKE2b-256.
    case fileData(fileId: FileID, index: UInt32, hash: [UInt8], data: [UInt8])
    /// The answering node has only the first `have` chunks (`known` false: it has no such file).
    case fileHave(fileId: FileID, have: UInt32, known: Bool)
    /// The pulling node holds the whole file now (the origin may collect it).
    case filePulled(fileId: FileID)
    /// A trace query on its way from `query.origin` to `query.dest`, hop by hop (SPEC 11.7);
    /// `hops` counts the nodes it passed.
    case traceQuery(query: Trace.Query, hops: UInt8)
    /// A node's signed answer (`Trace.Answer`) on its way back from `origin` to the asker `dest`.
    case traceAnswer(queryId: [UInt8], origin: String, dest: String, hops: UInt8, answer: [UInt8])

    /// The command's id: its entry in the table of protocol/SPEC.md 11.4.
    public var commandID: PeerCommandID {
        switch self {
        case .hello: return .hello
        case .relay: return .relay
        case .relayed: return .relayed
        case .ping: return .ping
        case .pong: return .pong
        case .routes: return .routes
        case .directoryRequest: return .directoryRequest
        case .directorySnapshot: return .directorySnapshot
        case .summary: return .summary
        case .filePull: return .filePull
        case .fileData: return .fileData
        case .fileHave: return .fileHave
        case .filePulled: return .filePulled
        case .traceQuery: return .traceQuery
        case .traceAnswer: return .traceAnswer
        }
    }

    public var id: UInt8 { commandID.rawValue }
    public var name: String { commandID.name }

    /// Frames between nodes may be larger than a client's (directory snapshots).
    public static let maxFrameBytes: Int64 = 16 * 1024 * 1024
    static let maxPath = 32
    /// A RELAY that has passed this many nodes is dropped (a transient routing loop).
    public static let maxHops: UInt8 = 32
    static let maxAcks = 65_535

    /// Whether a frame holds a node-to-node command (by its command id).
    public static func isPeerFrame(_ frame: [UInt8]) -> Bool { frame.count >= 4 && frame[3] >= 0x20 && frame[3] < 0x40 }

    /// The `jid` of a frame that is a RELAY as far as its `jid` (header, command id, a
    /// `jid` in range), however malformed the rest: what a node acknowledges to drop it.
    public static func relayJid(_ frame: [UInt8]) -> UInt64? {
        var r = WireReader(frame)
        guard (try? r.octets(2, "signature")) == Command.signature, (try? r.u8("version")) == Command.version,
              (try? r.u8("command")) == PeerCommandID.relay.rawValue else { return nil }
        return try? r.u64("jid")
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 64 + bulkBytes)
        w.octets(Command.signature)
        w.u8(Command.version)
        w.u8(id)
        switch self {
        case let .hello(node, signKey, credit, epoch, labels):
            w.string(node); w.octets(signKey); w.u32(credit); w.u64(epoch)
            if !labels.isEmpty { w.octets(labels) }
        case let .relay(jid, origin, dest, streamSeq, hops, envelope, epoch):
            w.u64(jid); w.string(origin); w.string(dest); w.u64(streamSeq); w.u8(hops); envelope.encode(into: &w); w.u64(epoch)
        case let .relayed(jids):
            w.u16(UInt16(jids.count)); for j in jids { w.u64(j) }
        case let .ping(sentNs):
            w.u64(sentNs)
        case let .pong(echoNs):
            w.u64(echoNs)
        case let .routes(node, seq, entries):
            w.string(node); w.u64(seq); w.u16(UInt16(entries.count))
            for e in entries {
                w.string(e.dest); w.octets(e.signKey); w.u64(e.directoryVersion)
                w.u8(UInt8(e.path.count)); for hop in e.path { w.string(hop) }
            }
        case let .directoryRequest(home):
            w.string(home)
        case let .directorySnapshot(home, version, entries, signature):
            w.string(home); w.u64(version); w.u32(UInt32(entries.count))
            for e in entries { w.longstr(e) }
            w.octets(signature)
        case let .summary(node, seq, json):
            w.string(node); w.u64(seq); w.longstr(json)
        case let .filePull(fileId, origin, size, chunks, from, count):
            w.octets(fileId.bytes); w.string(origin); w.u64(size); w.u32(chunks); w.u32(from); w.u32(count)
        case let .fileData(fileId, index, hash, data):
            w.octets(fileId.bytes); w.u32(index); w.octets(hash); w.longstr(data)
        case let .fileHave(fileId, have, known):
            w.octets(fileId.bytes); w.u32(have); w.u8(known ? 1 : 0)
        case let .filePulled(fileId):
            w.octets(fileId.bytes)
        case let .traceQuery(query, hops):
            query.encode(into: &w, hops: hops)
        case let .traceAnswer(queryId, origin, dest, hops, answer):
            w.octets(queryId); w.string(origin); w.string(dest); w.u8(hops); w.longstr(answer)
        }
        return w.bytes
    }

    public static func decode(_ frame: [UInt8]) throws -> PeerCommand {
        var r = WireReader(frame)
        guard try r.octets(2, "signature") == Command.signature else { throw WireError.badSignature }
        let version = try r.u8("version")
        guard version == Command.version else { throw WireError.unsupportedVersion(version) }
        func nodeName(_ field: String) throws -> String {
            let s = try r.string(field)
            guard Name.isValid(s) else { throw WireError.invalid(field: field, reason: "not a node name") }
            return s
        }
        let command: PeerCommand
        let byte = try r.u8("command")
        guard let id = PeerCommandID(rawValue: byte) else { throw WireError.unknownCommand(byte) }
        switch id {
        case .hello:
            let node = try nodeName("node"), signKey = try r.octets(32, "sign_key"), credit = try r.u32("credit")
            // `epoch` is optional at the end: a node of an earlier release ends after `credit`.
            let epoch = r.remaining == 0 ? 0 : try r.u64("epoch")
            // `labels` (16 bytes) is optional after `epoch`: nodes that predate labels end there.
            let labels = r.remaining == 0 ? [] : try r.octets(16, "labels")
            command = .hello(node: node, signKey: signKey, credit: credit, epoch: epoch, labels: labels)
        case .relay:
            let jid = try r.u64("jid")
            let origin = try nodeName("origin")
            let dest = try nodeName("dest")
            let seq = try r.u64("stream_seq")
            // The destination's counter moves one past the seq it delivered: it must stay under 2^63 too.
            guard seq < WireReader.maxU64 else { throw WireError.invalid(field: "stream_seq", reason: "2^63 - 1 or more") }
            let hops = try r.u8("hops")
            let envelope = try Envelope.decode(from: &r)
            guard let from = Address(envelope.from), from.node == origin else {
                throw WireError.invalid(field: "envelope.from", reason: "must be a user of the origin node")
            }
            guard Address(envelope.to)?.node == dest else {
                throw WireError.invalid(field: "envelope.to", reason: "must be a user of the destination node")
            }
            guard origin != dest else { throw WireError.invalid(field: "dest", reason: "the same node as origin") }
            try envelope.checkClearHeader()
            let epoch = r.remaining == 0 ? 0 : try r.u64("epoch")
            command = .relay(jid: jid, origin: origin, dest: dest, streamSeq: seq, hops: hops, envelope: envelope, epoch: epoch)
        case .relayed:
            let n = Int(try r.u16("count"))
            var jids: [UInt64] = []
            jids.reserveCapacity(n)
            for _ in 0..<n { jids.append(try r.u64("jid")) }
            command = .relayed(jids: jids)
        case .ping:
            command = .ping(sentNs: try r.u64("sent_ns"))
        case .pong:
            command = .pong(echoNs: try r.u64("echo_ns"))
        case .routes:
            let node = try nodeName("node")
            let seq = try r.u64("seq")
            let n = Int(try r.u16("count"))
            var entries: [RouteEntry] = []
            var dests = Set<String>()
            for _ in 0..<n {
                let dest = try nodeName("dest")
                let key = try r.octets(32, "sign_key")
                let dirVersion = try r.u64("directory_version")
                let hops = Int(try r.u8("hops"))
                guard hops <= maxPath else { throw WireError.invalid(field: "path", reason: "longer than \(maxPath)") }
                var path: [String] = []
                for _ in 0..<hops { path.append(try nodeName("hop")) }
                guard Set(path).count == path.count, !path.contains(node) else {
                    throw WireError.invalid(field: "path", reason: "repeats a node")
                }
                guard dests.insert(dest).inserted else { throw WireError.invalid(field: "dest", reason: "listed twice") }
                guard (dest == node) == path.isEmpty, path.last == nil || path.last == dest else {
                    throw WireError.invalid(field: "path", reason: "does not end at its destination")
                }
                entries.append(RouteEntry(dest: dest, signKey: key, directoryVersion: dirVersion, path: path))
            }
            command = .routes(node: node, seq: seq, entries: entries)
        case .directoryRequest:
            command = .directoryRequest(home: try nodeName("home"))
        case .directorySnapshot:
            let home = try nodeName("home")
            let version = try r.u64("version")
            let n = Int(try r.u32("count"))
            guard n <= 1_000_000 else { throw WireError.invalid(field: "count", reason: "too many entries") }
            var entries: [[UInt8]] = []
            for _ in 0..<n { entries.append(try r.longstr("entry", max: 4096)) }
            let signature = try r.octets(64, "signature")
            command = .directorySnapshot(home: home, version: version, entries: entries, signature: signature)
        case .summary:
            command = .summary(node: try nodeName("node"), seq: try r.u64("seq"), json: try r.longstr("json", max: 64 * 1024))
        case .filePull, .fileData, .fileHave, .filePulled:
            command = try decodeFile(id, &r)
        case .traceQuery:
            let (query, hops) = try Trace.Query.decode(from: &r)
            command = .traceQuery(query: query, hops: hops)
        case .traceAnswer:
            let queryId = try r.octets(16, "query_id")
            let origin = try nodeName("origin"), dest = try nodeName("dest")
            guard origin != dest else { throw WireError.invalid(field: "dest", reason: "the same node as origin") }
            command = .traceAnswer(queryId: queryId, origin: origin, dest: dest, hops: try r.u8("hops"),
                                   answer: try r.longstr("answer", max: Trace.maxAnswerBytes))
        }
        try r.expectEnd()
        return command
    }
}
