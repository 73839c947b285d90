import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// The node refuses by each command's `direction` (`CommandID`, `PeerCommandID`) what the
/// sender may not send: every node → client command from a client (ERROR 400, SPEC 5), and
/// every node-to-node command on a socket it is not sent on (counted, not obeyed, SPEC 11.5).
/// The samples switch over every id, so a new command must be placed here too.
final class CommandDirectionTests: XCTestCase {
    static let fileId = MessageID(bytes: [UInt8](repeating: 0x5A, count: 16))!

    static func sample(_ id: CommandID) -> Command {
        let envelope = Envelope(id: .zero, from: "x@hq", to: "bob@hq", kind: EnvelopeKind.text.rawValue, sentAt: 0, body: [])
        let key = [UInt8](repeating: 0x44, count: 32)
        switch id {
        case .enroll: return .enroll(display: "x", curveKey: key, boxKey: key, signKey: key)
        case .enrolled: return .enrolled(address: "bob@hq", nodeSignKey: key)
        case .lookup: return .lookup(requestId: 1, address: "bob@hq")
        case .entry: return .entry(requestId: 1, entry: [1], homeSignKey: key)
        case .send: return .send(envelope)
        case .stored: return .stored(id: .zero)
        case .attach: return .attach(window: 1)
        case .deliver: return .deliver(seq: 1, envelope: envelope)
        case .ack: return .ack(seq: 0)
        case .synced: return .synced(pending: 0)
        case .ping: return .ping
        case .pong: return .pong(attached: true)
        case .error: return .error(code: 500, ref: .zero, reason: "x")
        case .detach: return .detach
        case .directory: return .directory(requestId: 1, query: "")
        case .entries: return .entries(requestId: 1, items: [])
        case .view: return .view(id: .zero)
        case .viewing: return .viewing(envelope)
        case .nodeKeys: return .nodeKeys(requestId: 1)
        case .nodeList: return .nodeList(requestId: 1, nodes: [NodeKey(name: "hq", signKey: key)])
        case .fileBegin: return .fileBegin(fileId: fileId, size: 17, chunks: 1)
        case .fileStatus: return .fileStatus(fileId: fileId, have: 0, chunks: 1)
        case .fileChunk: return .fileChunk(fileId: fileId, index: 0, data: [1])
        case .fileGet: return .fileGet(fileId: fileId, from: 0, count: 1)
        case .fileDone: return .fileDone(fileId: fileId)
        case .trace: return .trace(requestId: 1, op: .mark, subject: .message(.zero))
        case .traceResult: return .traceResult(requestId: 1, op: .mark, code: "hq-0000-0000", nodes: [])
        case .labels: return .labels(nil)
        case .downgrade:
            let origin = ForwardOrigin(id: .zero, sender: "x@hq", to: "bob@hq", sentAt: 0, contentKind: 1, policy: ForwardPolicy(),
                                       contentHash: [UInt8](repeating: 1, count: 32), label: 3, signature: [UInt8](repeating: 2, count: 64))
            return .downgrade(DowngradeRequest(origin: origin, previous: nil, from: 3, to: 1, at: 0, reason: "x",
                                               userSignature: [UInt8](repeating: 3, count: 64)))
        }
    }

    static func sample(_ id: PeerCommandID, from peer: FakePeerNode) -> PeerCommand {
        let me = peer.name, key = peer.keys.sign.publicKey
        switch id {
        case .hello: return .hello(node: me, signKey: key, credit: 8, labels: LabelSet.standard.digest)
        case .relay: return peer.relay(jid: 700, to: "bob@hq")
        case .relayed: return .relayed(jids: [1])
        case .ping: return .ping(sentNs: 1)
        case .pong: return .pong(echoNs: 1)
        case .routes: return .routes(node: me, seq: 1_000, entries: [RouteEntry(dest: me, signKey: key, directoryVersion: 0, path: [])])
        case .directoryRequest: return .directoryRequest(home: "hq")
        case .directorySnapshot: return .directorySnapshot(home: me, version: 9, entries: [], signature: [UInt8](repeating: 0, count: 64))
        case .summary: return .summary(node: me, seq: 1_000, json: Array("{}".utf8))
        case .filePull:
            return .filePull(fileId: fileId, origin: "hq", size: FileChunks.cipherSize(plainSize: 1), chunks: 1, from: 0, count: 1)
        case .fileData: return .fileData(fileId: fileId, index: 0, hash: [UInt8](repeating: 0, count: 32), data: [1])
        case .fileHave: return .fileHave(fileId: fileId, have: 0, known: false)
        case .filePulled: return .filePulled(fileId: fileId)
        case .traceQuery:
            return .traceQuery(query: Trace.Query(queryId: [UInt8](repeating: 1, count: 16), origin: me, dest: "hq", askedAt: 0, officer: "",
                                                  subject: .message(.zero)), hops: 0)
        case .traceAnswer: return .traceAnswer(queryId: [UInt8](repeating: 1, count: 16), origin: me, dest: "hq", hops: 0, answer: [1])
        }
    }

    func testEveryNodeToClientCommandFromAClientGetsError400() throws {
        let hq = try TestNode()
        try hq.start()
        let aliceProfile = try hq.join("alice")
        let bob = try Client(profile: try hq.join("bob"))
        defer { bob.close() }
        let raw = Socket.testDealer(endpoint: hq.endpoint, serverKey: hq.node!.publicKey, keys: aliceProfile.curve)
        let refused = CommandID.allCases.filter { !$0.direction.clientSends }
        XCTAssertEqual(refused.count, 12)
        for id in refused { try raw.send([Self.sample(id).encode()], dontWait: false) }
        var reasons: [String] = []
        while reasons.count < refused.count, let message = try raw.receiveWithin(ms: 2000) {
            if case let .error(code, ref, reason) = try Command.decode(message.frames[0]) {
                XCTAssertEqual(code, ErrorCode.badRequest.rawValue, reason)
                XCTAssertEqual(ref, .zero, reason)
                reasons.append(reason)
            }
        }
        XCTAssertEqual(reasons, refused.map { "\($0.name) is sent by nodes, not clients" }, "in order, one each")
        XCTAssertEqual(try hq.counter(\.malformed), refused.count)
        XCTAssertEqual(try hq.waitingMessages(), 0, "the DELIVER and VIEWING were not taken as SENDs")
        // FILE-CHUNK goes both ways: a client's is an upload chunk (here of no upload: not "sent by nodes").
        try raw.send([Self.sample(.fileChunk).encode()], dontWait: false)
        try raw.send([Command.ping.encode()], dontWait: false)
        while let message = try raw.receiveWithin(ms: 2000) {
            let command = try Command.decode(message.frames[0])
            if case .error(_, _, let reason) = command { XCTAssertFalse(reason.contains("sent by nodes"), reason) }
            if case .pong = command { break }
        }
    }

    func testPeerCommandsOnTheWrongSocketAreCountedNotObeyed() throws {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.waitForNodeHello()
        try hq.waitForRoute(to: fake.name)

        // On hq's ROUTER (our DEALER): only N → S commands and HELLO.
        let notToRouter = PeerCommandID.allCases.filter { !$0.direction.readOnRouter }
        XCTAssertEqual(notToRouter.map(\.name), ["RELAYED", "PEER-PONG", "ROUTES", "DIR-SNAPSHOT", "SUMMARY", "FILE-DATA", "FILE-HAVE"])
        for id in notToRouter { try fake.send(Self.sample(id, from: fake)) }
        XCTAssertTrue(try fake.pingAnswered(77), "the node read past them")
        XCTAssertEqual(try hq.counter(\.malformed), notToRouter.count)

        // On hq's DEALER (our ROUTER's answers): only S → N commands and HELLO.
        let notToDealer = PeerCommandID.allCases.filter { !$0.direction.readOnDealer }
        XCTAssertEqual(notToDealer.map(\.name), ["RELAY", "PEER-PING", "ROUTES", "DIR-REQ", "SUMMARY", "FILE-PULL", "FILE-PULLED",
                                                 "TRACE-QUERY", "TRACE-ANSWER"])
        for id in notToDealer { XCTAssertTrue(try fake.answer(Self.sample(id, from: fake).encode())) }
        let total = notToRouter.count + notToDealer.count
        try hq.waitFor("\(total) malformed") { ($0.counters.malformed) == total }

        // On hq's SUB (our PUB): only published commands.
        let before = try hq.counter(\.rejectedAnnouncements)
        let notPublished = PeerCommandID.allCases.filter { !$0.direction.readOnSubscription }
        XCTAssertEqual(notPublished.count, PeerCommandID.allCases.count - 2)
        for id in notPublished { try fake.publish(Self.sample(id, from: fake).encode()) }
        try hq.waitFor("\(notPublished.count) rejected announcements") {
            ($0.counters.rejectedAnnouncements) == before + notPublished.count
        }
        XCTAssertEqual(try hq.counter(\.malformed), total, "announcements are counted apart")
        XCTAssertEqual(try hq.waitingMessages(), 0, "no RELAY was taken from the DEALER or the SUB")
        XCTAssertEqual(try hq.status().journal, 0)
    }
}
