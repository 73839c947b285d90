import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode

/// A real node in a temp directory, on a free loopback port: what the tests and
/// `sealpost-bench` run their clients and fake peers against.
public final class TestNode {
    public let dir: DataDir
    public let root: String
    public let name: String
    public private(set) var node: Node?
    /// The concrete endpoint of the first start, reused on restart so profiles stay valid.
    public private(set) var endpoint: String = ""
    public private(set) var publishEndpoint: String = ""
    private let logger: Logger
    /// The protocol timers the node runs with: `.fast` for tests (a link seen down in about a
    /// second), `.standard` for the bench, which measures a node as deployed.
    public var timers: NodeTimers = .fast

    public convenience init(_ name: String) throws { try self.init(name: name) }

    /// Creates the node's data directory (not started yet); `create` adjusts the configuration written there.
    public init(name: String = "hq", prefix: String = "sealpost-test", logger: Logger = TestNode.logger,
                create: (inout NodeConfig) -> Void = { _ in }) throws {
        root = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        dir = DataDir(root + "/node")
        self.name = name
        self.logger = logger
        var config = NodeConfig(name: name, listen: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*")
        create(&config)
        _ = try dir.create(config: config)
    }

    public static let logger: Logger = {
        var logger = Logger(label: "test.node")
        logger.logLevel = ProcessInfo.processInfo.environment["SEALPOST_TEST_LOG"] == "1" ? .debug : .critical
        return logger
    }()

    /// Whether the node makes `delivered` receipts (protocol/SPEC.md 7.10.2). Off unless a test
    /// turns it on: tests of other concerns count mailboxes and journals without them.
    public var deliveredReceipts = false

    public func start(configure: @Sendable (inout NodeConfig) -> Void = { _ in }) throws {
        let fixed = endpoint, fixedPublish = publishEndpoint, timers = timers
        // On a restart the old port may be held for a moment: a client reconnecting to it while the
        // node is down can end up connected to itself (TCP simultaneous open) until its handshake fails.
        let deadline = Clock.monotonicNs() + 5_000_000_000
        while true {
            do {
                let receipts = deliveredReceipts
                node = try Node.start(dataDir: dir, logger: logger) { config in
                    config.deliveredReceipts = receipts
                    if !fixed.isEmpty { config.listen = fixed }
                    if !fixedPublish.isEmpty { config.publish = fixedPublish }
                    config.timers = timers
                    configure(&config)
                }
                break
            } catch where !fixed.isEmpty && "\(error)".contains("Address already in use") && Clock.monotonicNs() < deadline {
                usleep(10_000)
            }
        }
        endpoint = node!.routerEndpoint
        publishEndpoint = node!.publishEndpoint
    }

    /// Makes `self` and `other` peers of each other (both must have been started once).
    public func peer(with other: TestNode) throws {
        try Operator.addPeer(dataDir: dir, peer: PeerConfig(name: other.name, router: other.endpoint, publish: other.publishEndpoint,
                                                            publicKey: try other.dir.loadKeys().publicKeyText))
        try Operator.addPeer(dataDir: other.dir, peer: PeerConfig(name: name, router: endpoint, publish: publishEndpoint,
                                                                  publicKey: try dir.loadKeys().publicKeyText))
    }

    /// The node's status over its admin socket.
    public func status() throws -> NodeStatus {
        try AdminClient.status(dataDir: dir)
    }

    /// Waits until `check` holds on the status (asked every `every` seconds), or throws `TimedOut` after `timeout` seconds.
    public func waitFor(_ what: String, timeout: Double = 15, every: Double = 0.05, _ check: (NodeStatus) -> Bool) throws {
        var last: NodeStatus?
        do {
            try waitUntil(what, timeout: timeout, every: every) {
                guard let s = try? status() else { return false }
                last = s
                return check(s)
            }
        } catch is TimedOut {
            let shown = last.flatMap { try? JSONEncoder.admin.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? "none"
            throw TimedOut(description: "\(name): timed out waiting for \(what); last status: \(shown)")
        }
    }

    /// Waits until this node has a route to `dest` and knows `user` there.
    public func waitForRoute(to dest: String, user: String? = nil) throws {
        try waitFor("a route to \(dest)") { s in
            guard s.routes.contains(where: { $0.dest == dest }) else { return false }
            return user == nil || s.users.federated > 0
        }
    }

    /// One of the node's `counters`.
    public func counter(_ key: KeyPath<NodeStatus.Counters, Int>) throws -> Int { try status().counters[keyPath: key] }

    /// Envelopes waiting in this node's mailboxes.
    public func waitingMessages() throws -> Int { try status().waiting.messages }

    public func stop() {
        node?.stop()
        node = nil
    }

    /// Stops and starts the node on the same endpoints.
    /// - Returns: milliseconds spent stopping and starting.
    @discardableResult
    public func restart() throws -> (stopMs: Double, startMs: Double) {
        let t0 = Clock.monotonicNs()
        stop()
        let t1 = Clock.monotonicNs()
        try start()
        return (Double(t1 - t0) / 1e6, Double(Clock.monotonicNs() - t1) / 1e6)
    }

    /// Stops the node and removes its directory now (otherwise done when it is released).
    public func close() {
        stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Invites and joins `user` through the real enrolment protocol.
    public func join(_ user: String) throws -> Profile {
        let invite = try Operator.invite(dataDir: dir, user: user, endpoint: endpoint)
        return try Enrollment.join(code: invite.code, display: nil, profilePath: root + "/\(user).profile")
    }

    public func profilePath(_ user: String) -> String { root + "/\(user).profile" }

    deinit {
        node?.stop()
        try? FileManager.default.removeItem(atPath: root)
    }
}

extension Client {
    /// Attaches and collects `count` messages (acknowledging them), or fails after `timeoutMs`.
    public func receive(_ count: Int, timeoutMs: Int = 10_000, window: UInt32 = 1000) throws -> [ReceivedMessage] {
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
    public func drain(ms: Int) throws -> [ReceivedMessage] {
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
