import Foundation
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest
import ZeroMQ

/// A configured peer of a real node that speaks hand-made frames on all three of its
/// connections: its DEALER to the node's ROUTER (requests), its own ROUTER, which the
/// node's DEALER connects to (answers), and its PUB, which the node's SUB reads.
final class RawPeer {
    let name: String
    let keys = NodeKeys.generate()
    let context = Context()
    let router: Socket
    let pub: Socket
    private(set) var dealer: Socket?
    /// The routing id of the node's DEALER on our ROUTER, once it said HELLO.
    private(set) var nodeRouting: [UInt8]?
    /// Journal ids the node acknowledged (RELAYED) on our DEALER.
    private(set) var acknowledged: Set<UInt64> = []
    private var announceSeq: UInt64 = 0

    init(name: String = "fake") throws {
        self.name = name
        router = try Socket(context, .router)
        pub = try Socket(context, .pub)
        var secret = keys.curve.secretKey.copyBytes()
        // CURVE servers with no ZAP handler: they admit the node's DEALER and SUB.
        for socket in [router, pub] {
            try socket.setOption(SocketOption.curveServer, 1)
            try socket.setOption(SocketOption.curveSecretKey, bytes: secret)
            try socket.bind("tcp://127.0.0.1:*")
        }
        wipe(&secret)
    }

    /// Adds this peer to `node`'s configuration and connects our DEALER to it.
    func configure(on node: TestNode) throws {
        try Operator.addPeer(dataDir: node.dir, peer: PeerConfig(name: name, router: try router.lastEndpoint(),
                                                                 publish: try pub.lastEndpoint(),
                                                                 publicKey: Z85.encode(keys.curve.publicKey)))
        try node.waitFor("\(name) to be configured") { s in
            (s["peers"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == self.name }
        }
        let dealer = try Socket(context, .dealer)
        var secret = keys.curve.secretKey.copyBytes()
        try dealer.makeCurveClient(serverKey: node.node!.publicKey, publicKey: keys.curve.publicKey, secretKey: secret)
        wipe(&secret)
        try dealer.connect(node.endpoint)
        self.dealer = dealer
    }

    /// Sends one frame to the node's ROUTER.
    func send(_ frame: [UInt8]) throws { _ = try dealer!.send([frame], dontWait: false) }
    func send(_ command: PeerCommand) throws { try send(command.encode()) }

    /// Sends one frame to the node's DEALER (as an answer); false before the node said HELLO.
    @discardableResult
    func answer(_ frame: [UInt8]) throws -> Bool {
        guard let nodeRouting else { return false }
        return try router.send([nodeRouting, frame], dontWait: true)
    }

    func publish(_ frame: [UInt8]) throws { _ = try pub.send([frame], dontWait: true) }

    /// Our own route announcement (so the node's link to us stays up).
    func announce(directoryVersion: UInt64 = 0) throws {
        announceSeq += 1
        try publish(PeerCommand.routes(node: name, seq: announceSeq, entries: [
            RouteEntry(dest: name, signKey: keys.sign.publicKey, directoryVersion: directoryVersion, path: []),
        ]).encode())
    }

    /// Reads what arrived for up to `ms`: answers the node's HELLO and PEER-PING on our
    /// ROUTER, records RELAYED, and hands every other decoded command to `handle`.
    func serve(ms: Int, handle: (PeerCommand, _ fromRouter: Bool) throws -> Void = { _, _ in }) throws {
        let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
        repeat {
            var items: [(PollTarget, PollEvents)] = [(.socket(router), .readable)]
            if let dealer { items.append((.socket(dealer), .readable)) }
            let left = Int((deadline &- Clock.monotonicNs()) / 1_000_000)
            let events = try poll(items, timeoutMs: max(0, min(left, 50)))
            if events[0].contains(.readable) {
                while let message = try router.receive(dontWait: true) {
                    guard message.frames.count == 2, let command = try? PeerCommand.decode(message.frames[1]) else { continue }
                    nodeRouting = message.frames[0]
                    switch command {
                    case .hello:
                        try router.send([message.frames[0], PeerCommand.hello(node: name, signKey: keys.sign.publicKey, credit: 1000).encode()])
                    case .ping(let t):
                        try router.send([message.frames[0], PeerCommand.pong(echoNs: t).encode()])
                    default:
                        try handle(command, true)
                    }
                }
            }
            if let dealer, events.count > 1, events[1].contains(.readable) {
                while let message = try dealer.receive(dontWait: true) {
                    guard message.frames.count == 1, let command = try? PeerCommand.decode(message.frames[0]) else { continue }
                    if case .relayed(let jids) = command { acknowledged.formUnion(jids) }
                    try handle(command, false)
                }
            }
        } while Clock.monotonicNs() < deadline
    }

    /// Waits until the node's DEALER said HELLO to us (and got our answer), announcing our routes meanwhile.
    func waitForNodeHello(timeoutMs: Int = 10_000) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while nodeRouting == nil, Clock.monotonicNs() < deadline {
            try announce()
            try serve(ms: 100)
        }
        XCTAssertNotNil(nodeRouting, "the node connected to \(name)")
    }

    /// Waits until the node acknowledged every one of `jids`, or fails.
    func waitForAcks(_ jids: Set<UInt64>, timeoutMs: Int = 10_000, file: StaticString = #filePath, line: UInt = #line) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while !jids.isSubset(of: acknowledged), Clock.monotonicNs() < deadline { try serve(ms: 50) }
        XCTAssertTrue(jids.isSubset(of: acknowledged), "RELAYED for \(jids.subtracting(acknowledged).sorted())", file: file, line: line)
    }

    /// Sends PEER-PING on our DEALER and waits for its PEER-PONG: the node is alive and reads us.
    func pingAnswered(_ value: UInt64, timeoutMs: Int = 10_000) throws -> Bool {
        try send(.ping(sentNs: value))
        var answered = false
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while !answered, Clock.monotonicNs() < deadline {
            try serve(ms: 20) { command, fromRouter in
                if !fromRouter, case .pong(value) = command { answered = true }
            }
        }
        return answered
    }

    /// A RELAY frame from this peer as origin (or `origin`) to `to`.
    func relay(jid: UInt64, origin: String? = nil, to: String, streamSeq: UInt64 = 1, hops: UInt8 = 0,
               kind: EnvelopeKind = .text, body: [UInt8] = [1, 2, 3]) -> PeerCommand {
        let from = "mallory@\(origin ?? name)"
        let envelope = Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: from, to: to, kind: kind.rawValue,
                                sentAt: Clock.nowMs(), body: body)
        return .relay(jid: jid, origin: origin ?? name, dest: Address(to)!.node, streamSeq: streamSeq, hops: hops, envelope: envelope)
    }
}
