import Dispatch
import Foundation
import Logging
import SealpostCore
import Synchronization
import ZeroMQ

/// What the node's thread and the rest of the program share: a stop flag and
/// the eventfd that wakes the reactor's poll. Both are safe from any thread.
final class NodeControl: Sendable {
    let wakeup = Wakeup()
    /// Where a scrape of `/metrics` gets the reactor's status (Metrics/).
    let metrics = MetricsExchange()
    private let stop = Atomic<Bool>(false)

    var stopRequested: Bool { stop.load(ordering: .acquiring) }

    func requestStop() {
        stop.store(true, ordering: .releasing)
        wakeup.signal()
    }

    deinit { wakeup.close() }
}

/// A running relay node: a handle on the reactor thread.
///
/// `start` returns once the sockets are bound (or throws why they could not be);
/// `stop` asks the reactor to finish its cycle, close and return.
public final class Node: Sendable {
    public let name: String
    /// The bound ROUTER endpoint, with the real port when the config said `:*`.
    public let routerEndpoint: String
    public let publishEndpoint: String
    public let publicKey: [UInt8]
    /// `HOST:PORT` of the `/metrics` listener (with the real port), nil when `metrics` is not configured.
    public var metricsEndpoint: String? { metricsServer?.endpoint }
    private let metricsServer: MetricsServer?
    private let control: NodeControl
    /// Signalled by the reactor thread itself when it has ended.
    private let finished: DispatchSemaphore
    private let stopped = Atomic<Bool>(false)

    private init(name: String, routerEndpoint: String, publishEndpoint: String, publicKey: [UInt8], control: NodeControl,
                 metricsServer: MetricsServer?, finished: DispatchSemaphore) {
        self.finished = finished
        self.metricsServer = metricsServer
        self.name = name
        self.routerEndpoint = routerEndpoint
        self.publishEndpoint = publishEndpoint
        self.publicKey = publicKey
        self.control = control
    }

    /// Starts the node of `dataDir` on its own thread.
    /// - Parameter configure: adjusts the loaded config (tests bind `tcp://127.0.0.1:*`).
    public static func start(dataDir: DataDir, logger: Logger, configure: @Sendable (inout NodeConfig) -> Void = { _ in }) throws -> Node {
        var config = try dataDir.loadConfig()
        configure(&config)
        try config.validate()
        try dataDir.checkDatabase()
        let keys = try dataDir.loadKeys()
        let control = NodeControl()
        // Bound before the reactor starts, so a taken port fails the start with a clear error.
        let metricsServer = try config.metrics.map { try MetricsServer(listen: $0.listen) }
        let startup = Mutex<Result<(String, String), Error>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        // The reactor thread signals it when it ends. (A dispatch worker waiting on it for the
        // node's whole life took one of libdispatch's few pool threads on a 2-core machine, and
        // a SIGTERM handler queued behind it could then never run.)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [config] in
            let reactor: Reactor
            do {
                reactor = try Reactor(dataDir: dataDir, config: config, keys: keys, control: control, logger: logger)
                let endpoints = (reactor.routerEndpoint, reactor.publishEndpoint)
                startup.withLock { $0 = .success(endpoints) }
            } catch {
                startup.withLock { $0 = .failure(error) }
                ready.signal()
                done.signal()
                return
            }
            ready.signal()
            reactor.run()
            done.signal()
        }
        thread.name = "sealpost-node-\(config.name)"
        thread.start()
        ready.wait()
        switch startup.withLock({ $0 })! {
        case .failure(let error):
            metricsServer?.stop()
            throw error
        case .success(let (router, publish)):
            metricsServer?.start(exchange: control.metrics, reactorWakeup: control.wakeup, logger: logger)
            if let metricsServer { logger.info("metrics listening", metadata: ["endpoint": "http://\(metricsServer.endpoint)/metrics"]) }
            return Node(name: config.name, routerEndpoint: router, publishEndpoint: publish,
                        publicKey: keys.curve.publicKey, control: control, metricsServer: metricsServer, finished: done)
        }
    }

    /// Asks the node to stop and waits until its thread closed every socket.
    public func stop() {
        metricsServer?.stop()
        control.requestStop()
        waitUntilStopped()
    }

    /// Blocks until the reactor thread has ended.
    public func waitUntilStopped() {
        if stopped.load(ordering: .acquiring) { return }
        finished.wait()
        stopped.store(true, ordering: .releasing)
        finished.signal() // let other waiters through too
    }
}
