import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode
import XCTest

/// A wait that did not see its condition in time; uncaught, XCTest fails the test with its text.
struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// A real node in a temp directory, on a free loopback port.
final class TestNode {
    let dir: DataDir
    let root: String
    let name: String
    private(set) var node: Node?
    /// The concrete endpoint of the first start, reused on restart so profiles stay valid.
    private(set) var endpoint: String = ""
    private(set) var publishEndpoint: String = ""

    convenience init(_ name: String) throws { try self.init(name: name) }

    init(name: String = "hq") throws {
        root = NSTemporaryDirectory() + "sealpost-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        dir = DataDir(root + "/node")
        self.name = name
        _ = try dir.create(config: NodeConfig(name: name, listen: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*"))
    }

    static let logger: Logger = {
        var logger = Logger(label: "test.node")
        logger.logLevel = ProcessInfo.processInfo.environment["SEALPOST_TEST_LOG"] == "1" ? .debug : .critical
        return logger
    }()

    func start(configure: @Sendable (inout NodeConfig) -> Void = { _ in }) throws {
        let fixed = endpoint, fixedPublish = publishEndpoint
        // On a restart the old port may be held for a moment: a client reconnecting to it while the
        // node is down can end up connected to itself (TCP simultaneous open) until its handshake fails.
        let deadline = Clock.monotonicNs() + 5_000_000_000
        while true {
            do {
                node = try Node.start(dataDir: dir, logger: Self.logger) { config in
                    if !fixed.isEmpty { config.listen = fixed }
                    if !fixedPublish.isEmpty { config.publish = fixedPublish }
                    configure(&config)
                }
                break
            } catch where !fixed.isEmpty && "\(error)".contains("Address already in use") && Clock.monotonicNs() < deadline {
                usleep(50_000)
            }
        }
        endpoint = node!.routerEndpoint
        publishEndpoint = node!.publishEndpoint
    }

    /// Makes `self` and `other` peers of each other (both must have been started once).
    func peer(with other: TestNode) throws {
        try Operator.addPeer(dataDir: dir, peer: PeerConfig(name: other.name, router: other.endpoint, publish: other.publishEndpoint,
                                                            publicKey: try other.dir.loadKeys().publicKeyText))
        try Operator.addPeer(dataDir: other.dir, peer: PeerConfig(name: name, router: endpoint, publish: publishEndpoint,
                                                                  publicKey: try dir.loadKeys().publicKeyText))
    }

    /// The node's status over its admin socket.
    func status() throws -> [String: Any] {
        try AdminClient.request(dataDir: dir, ["cmd": "status"])
    }

    /// Waits until `check` holds on the status, or fails after `timeout` seconds.
    func waitFor(_ what: String, timeout: Double = 15, _ check: ([String: Any]) -> Bool) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
        var last: [String: Any] = [:]
        while Clock.monotonicNs() < deadline {
            if let s = try? status() {
                last = s
                if check(s) { return }
            }
            usleep(50_000)
        }
        throw TimedOut(description: "\(name): timed out waiting for \(what); last status: \(last)")
    }

    /// Waits until this node has a route to `dest` and knows `user` there.
    func waitForRoute(to dest: String, user: String? = nil) throws {
        try waitFor("a route to \(dest)") { s in
            let routes = s["routes"] as? [[String: Any]] ?? []
            guard routes.contains(where: { $0["dest"] as? String == dest }) else { return false }
            guard user != nil else { return true }
            return ((s["users"] as? [String: Any])?["federated"] as? Int ?? 0) > 0
        }
    }

    func counter(_ name: String) throws -> Int {
        ((try status()["counters"] as? [String: Any])?[name] as? Int) ?? -1
    }

    func stop() {
        node?.stop()
        node = nil
    }

    func restart() throws {
        stop()
        try start()
    }

    /// Invites and joins `user` through the real enrolment protocol.
    func join(_ user: String) throws -> Profile {
        let invite = try Operator.invite(dataDir: dir, user: user, endpoint: endpoint)
        return try Enrollment.join(code: invite.code, display: nil, profilePath: root + "/\(user).profile")
    }

    func profilePath(_ user: String) -> String { root + "/\(user).profile" }

    deinit {
        node?.stop()
        try? FileManager.default.removeItem(atPath: root)
    }
}

extension Client {
    /// Attaches and collects `count` messages (acknowledging them), or fails after `timeoutMs`.
    func receive(_ count: Int, timeoutMs: Int = 10_000, window: UInt32 = 1000) throws -> [ReceivedMessage] {
        try attach(window: window)
        let ackEvery = max(1, min(100, Int(window) / 2))
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while out.count < count, Clock.monotonicNs() < deadline {
            guard let event = try next(timeoutMs: 200) else { continue }
            if case .message(let m) = event {
                out.append(m)
                if out.count % ackEvery == 0 { try ack(m.seq) }
            }
        }
        if let last = out.last { try ack(last.seq) }
        try flush()
        return out
    }

    /// Collects whatever arrives within `ms` after attaching.
    func drain(ms: Int) throws -> [ReceivedMessage] {
        try attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
        while Clock.monotonicNs() < deadline {
            guard let event = try next(timeoutMs: 50) else { continue }
            if case .message(let m) = event { out.append(m) }
        }
        if let last = out.last { try ack(last.seq); try flush() }
        return out
    }
}

extension XCTestCase {
    /// Waits until `client` can look up `address` (its directory entry reached the client's node), or fails.
    func waitUntilKnown(_ client: Client, _ address: String, timeout: Double = 20) throws {
        let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
        while (try? client.lookup(Address(address)!)) == nil {
            guard Clock.monotonicNs() < deadline else { return XCTFail("\(address) never reached the directory") }
            usleep(100_000)
        }
    }

    /// Two peered units: `alice@hq` and `wu@traffic`, each already in the other's directory.
    func twoUnits() throws -> (hq: TestNode, traffic: TestNode, alice: Client, wu: Client) {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        let alice = try Client(profile: try hq.join("alice"))
        let wu = try Client(profile: try traffic.join("wu"))
        try waitUntilKnown(alice, "wu@traffic")
        try waitUntilKnown(wu, "alice@hq")
        return (hq, traffic, alice, wu)
    }

    /// Three units in a line, hq — traffic — district (district reached only through traffic),
    /// with `alice@hq`, `bob@hq`, `wu@traffic` and `zhao@district`, everyone in everyone's directory.
    func threeUnits() throws -> (nodes: [TestNode], alice: Client, bob: Client, wu: Client, zhao: Client) {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic"), district = try TestNode("district")
        for n in [hq, traffic, district] { try n.start() }
        try hq.peer(with: traffic)
        try traffic.peer(with: district)
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        let wu = try Client(profile: try traffic.join("wu"))
        let zhao = try Client(profile: try district.join("zhao"))
        try waitUntilKnown(alice, "zhao@district")
        try waitUntilKnown(alice, "wu@traffic")
        try waitUntilKnown(zhao, "wu@traffic")
        try waitUntilKnown(zhao, "alice@hq")
        try waitUntilKnown(wu, "zhao@district")
        try waitUntilKnown(wu, "alice@hq")
        return ([hq, traffic, district], alice, bob, wu, zhao)
    }
}
