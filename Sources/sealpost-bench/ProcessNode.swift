import Foundation
import Glibc
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport

/// A node run as deployed: its own `sealpost-node run` process (the binary beside this
/// benchmark's), on fixed loopback ports picked free, with the benchmark's limits written
/// into its `node.yaml`. The benchmark's clients and status calls reach it over its real
/// sockets, exactly as for an in-process `TestNode`.
final class ProcessNode {
    let name: String
    let root: String
    let dir: DataDir
    let endpoint: String
    let publishEndpoint: String
    private var process: Process?

    init(name: String, configure: (inout NodeConfig) -> Void) throws {
        self.name = name
        root = NSTemporaryDirectory() + "sealpost-bench-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        dir = DataDir(root + "/node")
        endpoint = "tcp://127.0.0.1:\(freePort())"
        publishEndpoint = "tcp://127.0.0.1:\(freePort())"
        var config = NodeConfig(name: name, listen: endpoint, publish: publishEndpoint)
        config.limits = .unmetered
        configure(&config)
        _ = try dir.create(config: config)
    }

    /// The `sealpost-node` binary beside this executable.
    static func binary() throws -> String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let path = here.appendingPathComponent("sealpost-node").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw NodeError.config("--processes needs sealpost-node beside sealpost-bench (\(path)): build both, e.g. swift build -c release")
        }
        return path
    }

    func peer(with other: ProcessNode) throws {
        try Operator.addPeer(dataDir: dir, peer: PeerConfig(name: other.name, router: other.endpoint, publish: other.publishEndpoint,
                                                            publicKey: try other.dir.loadKeys().publicKeyText))
        try Operator.addPeer(dataDir: other.dir, peer: PeerConfig(name: name, router: endpoint, publish: publishEndpoint,
                                                                  publicKey: try dir.loadKeys().publicKeyText))
    }

    /// Starts `sealpost-node run` and waits until its admin socket answers.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = ["run", "--data", dir.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        let deadline = Clock.monotonicNs() + 20_000_000_000
        while (try? AdminClient.request(dataDir: dir, ["cmd": "status"])) == nil {
            guard process.isRunning, Clock.monotonicNs() < deadline else {
                throw NodeError.config("sealpost-node run --data \(dir.path) did not start")
            }
            usleep(50_000)
        }
    }

    func join(_ user: String) throws -> Profile {
        let invite = try Operator.invite(dataDir: dir, user: user, endpoint: endpoint)
        return try Enrollment.join(code: invite.code, display: nil, profilePath: root + "/\(user).profile")
    }

    /// The node's process id while it runs.
    var pid: Int32? { process.map(\.processIdentifier) }

    /// Stops the node (SIGTERM: its orderly shutdown) and waits for the process to end.
    func stop() {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        process = nil
    }

    /// Stops and starts the node again on the same data directory, timing both.
    func restart() throws -> (stopMs: Double, startMs: Double) {
        let t0 = Clock.monotonicNs()
        stop()
        let t1 = Clock.monotonicNs()
        try start()
        return (Double(t1 - t0) / 1e6, Double(Clock.monotonicNs() - t1) / 1e6)
    }

    func close() {
        stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    deinit { close() }
}
