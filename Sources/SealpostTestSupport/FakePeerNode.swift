import Foundation
import SealpostCore
import SealpostNode
import Sodium
import ZeroMQ

/// A configured peer of a real node that speaks hand-made frames on all three of its
/// connections: its DEALER to the node's ROUTER (requests), its own ROUTER, which the
/// node's DEALER connects to (answers), and its PUB, which the node's SUB reads.
///
/// While it serves, it answers the node's HELLO (with `credit`) and PEER-PING on its
/// ROUTER, records the DIR-REQs it is asked (`requests`, answered with what
/// `onDirectoryRequest` returns) and the node's RELAYED (`acknowledged`), and announces
/// itself (at `directoryVersion`) and `routes`.
public final class FakePeerNode {
    public let name: String
    public let keys = NodeKeys.generate()
    public let context = Context()
    public let router: Socket
    public let pub: Socket
    public let routerEndpoint: String
    public let publishEndpoint: String
    /// The credit of our HELLO answer.
    public var credit: UInt32
    /// The label digest of our HELLO answer (the standard set's; empty: a peer that predates labels).
    public var helloLabels: [UInt8] = LabelSet.standard.digest
    public private(set) var dealer: Socket?
    /// The routing id of the node's DEALER on our ROUTER, once it said HELLO.
    public private(set) var nodeRouting: [UInt8]?
    /// Journal ids the node acknowledged (RELAYED) on our DEALER.
    public private(set) var acknowledged: Set<UInt64> = []
    /// Routes announced besides our own.
    public var routes: [RouteEntry] = []
    /// The directory version of our own route announcement.
    public var directoryVersion: UInt64 = 0
    /// The homes of the DIR-REQs the node sent us, in order.
    public private(set) var requests: [String] = []
    /// The answer to a DIR-REQ for a home, if any.
    public var onDirectoryRequest: ((String) -> PeerCommand?)?

    /// Serves `entries`, each signed here with this node's key, as its unit's directory at `version`
    /// (announced with the next route announcement); returns them as signed.
    @discardableResult
    public func serveDirectory(_ entries: [DirectoryEntry], version: UInt64 = 2) -> [DirectoryEntry] {
        let signed = entries.map { entry -> DirectoryEntry in var e = entry; e.sign(with: keys.sign); return e }
        let encoded = signed.map { $0.encode() }, home = name
        let head = DirectoryHead(home: home, version: version, entries: encoded).sign(with: keys.sign)
        directoryVersion = version
        onDirectoryRequest = { asked in
            asked == home ? .directorySnapshot(home: home, version: version, entries: encoded, signature: head) : nil
        }
        return signed
    }
    private var announceSeq: UInt64 = 0
    private var lastAnnounceNs: UInt64 = 0

    public init(name: String = "fake", credit: UInt32 = 1000) throws {
        self.name = name
        self.credit = credit
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
        routerEndpoint = try router.lastEndpoint()
        publishEndpoint = try pub.lastEndpoint()
    }

    /// This peer as a node's configuration lists it.
    public var peerConfig: PeerConfig {
        PeerConfig(name: name, router: routerEndpoint, publish: publishEndpoint, publicKey: Z85.encode(keys.curve.publicKey))
    }

    /// Adds this peer to `node`'s configuration and connects our DEALER to it.
    public func configure(on node: TestNode) throws {
        try Operator.addPeer(dataDir: node.dir, peer: peerConfig)
        try node.waitFor("\(name) to be configured") { s in
            s.peers.contains { $0.name == self.name }
        }
        try connect(to: node)
    }

    /// Connects our DEALER to `node`'s ROUTER (the node must list our key already).
    public func connect(to node: TestNode) throws {
        let dealer = try Socket(context, .dealer)
        var secret = keys.curve.secretKey.copyBytes()
        try dealer.makeCurveClient(serverKey: node.node!.publicKey, publicKey: keys.curve.publicKey, secretKey: secret)
        wipe(&secret)
        try dealer.connect(node.endpoint)
        self.dealer = dealer
    }

    /// Sends one frame to the node's ROUTER.
    public func send(_ frame: [UInt8]) throws { _ = try dealer!.send([frame], dontWait: false) }
    public func send(_ command: PeerCommand) throws { try send(command.encode()) }

    /// Sends one frame to the node's DEALER (as an answer); false before the node said HELLO.
    @discardableResult
    public func answer(_ frame: [UInt8]) throws -> Bool {
        guard let nodeRouting else { return false }
        return try router.send([nodeRouting, frame], dontWait: true)
    }

    @discardableResult
    public func answer(_ command: PeerCommand) throws -> Bool { try answer(command.encode()) }

    public func publish(_ frame: [UInt8]) throws { _ = try pub.send([frame], dontWait: true) }

    /// Our own route announcement (so the node's link to us stays up), at `directoryVersion`
    /// (else the property's), with `routes`.
    public func announce(directoryVersion version: UInt64? = nil) throws {
        announceSeq += 1
        lastAnnounceNs = Clock.monotonicNs()
        let own = RouteEntry(dest: name, signKey: keys.sign.publicKey, directoryVersion: version ?? directoryVersion, path: [])
        try publish(PeerCommand.routes(node: name, seq: announceSeq, entries: [own] + routes).encode())
    }

    /// Reads what arrived for up to `ms`: answers the node's HELLO and PEER-PING on our
    /// ROUTER, records DIR-REQ (answering it if `onDirectoryRequest` gives an answer) and
    /// RELAYED, and hands every other decoded command (and DIR-REQ) to `handle`.
    public func serve(ms: Int, handle: (PeerCommand, _ fromRouter: Bool) throws -> Void = { _, _ in }) throws {
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
                        try router.send([message.frames[0], PeerCommand.hello(node: name, signKey: keys.sign.publicKey, credit: credit, labels: helloLabels).encode()])
                    case .ping(let t):
                        try router.send([message.frames[0], PeerCommand.pong(echoNs: t).encode()])
                    case .directoryRequest(let home):
                        requests.append(home)
                        if let reply = onDirectoryRequest?(home) { try answer(reply) }
                        try handle(command, true)
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

    /// Serves (announcing every 200 ms when `announcing`) until `done` holds: true, or
    /// false once `timeoutMs` passed without it.
    public func serve(until done: () throws -> Bool, timeoutMs: Int, announcing: Bool = true) throws -> Bool {
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            if announcing, Clock.monotonicNs() &- lastAnnounceNs > 200_000_000 { try announce() }
            try serve(ms: 50)
            if try done() { return true }
        }
        return false
    }

    /// Plays the peer until `done` holds, or throws `TimedOut` after `timeout` seconds.
    public func run(_ what: String, timeout: Double = 20, until done: () throws -> Bool) throws {
        guard try serve(until: done, timeoutMs: Int(timeout * 1000)) else {
            throw TimedOut(description: "\(name): timed out waiting for \(what)")
        }
    }

    /// Sends PEER-PING on our DEALER and waits for its PEER-PONG: the node is alive and reads us.
    public func pingAnswered(_ value: UInt64, timeoutMs: Int = 10_000) throws -> Bool {
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
    public func relay(jid: UInt64, origin: String? = nil, to: String, streamSeq: UInt64 = 1, hops: UInt8 = 0,
                      kind: EnvelopeKind = .text, body: [UInt8] = [1, 2, 3]) -> PeerCommand {
        let from = "mallory@\(origin ?? name)"
        let envelope = Envelope(id: MessageID(bytes: Sodium.randomBytes(16))!, from: from, to: to, kind: kind.rawValue,
                                sentAt: Clock.nowMs(), body: body)
        return .relay(jid: jid, origin: origin ?? name, dest: Address(to)!.node, streamSeq: streamSeq, hops: hops, envelope: envelope)
    }
}
