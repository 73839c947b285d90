import FlyingFox
import FlyingSocks
import Foundation
import Logging
import SealpostClient
import SealpostCore
import Synchronization

/// `sealpost web`: the person's client daemon. It holds the profile (the lock says only one
/// daemon per profile), stays connected to the home node through one client thread, keeps
/// the history, and serves the UI and a JSON/WebSocket API on 127.0.0.1 only.
public final class WebDaemon: Sendable {
    public let port: UInt16
    public let address: String
    let guardian: LocalGuard
    private let server: HTTPServer
    private let worker: DaemonCore
    private let hub: EventHub
    private let lock: WebLock
    /// The profile's receiving lock (`PROFILE.lock`), held like `inbox` and `chat` hold it: the
    /// node pushes to one session per person, so they cannot receive beside the daemon.
    private let receiving: ProfileLock
    private let serverTask: Task<Void, any Error>
    private let stopping: StopFlag
    private let logger: Logger

    /// The URL to open once: the daemon's address with the one-time login token in the fragment.
    public var loginURL: String { guardian.loginURL }
    /// Whether the profile waits for its passphrase.
    public var isLocked: Bool { worker.isLocked }

    /// The origin the UI is served from.
    public var origin: String { "http://127.0.0.1:\(port)" }

    /// Starts the daemon.
    /// - Parameters:
    ///   - profilePath: the profile file; the lock, history database and key live beside it.
    ///   - port: the loopback port, 0 for one the system picks.
    ///   - nodeTimeoutMs: how long the client thread waits for the home node to answer a
    ///     request (a look-up, a detach) before it gives up on it.
    /// - Throws: `WebError.alreadyRunning` when a daemon holds this profile; `ClientError` for
    ///   a missing profile; `WebError.io` when the history or the port cannot be had.
    public static func start(profilePath: String, port: UInt16 = 0, nodeTimeoutMs: Int = 5_000, logger: Logger) async throws -> WebDaemon {
        let lock = try WebLock(profilePath: profilePath)
        let receiving: ProfileLock
        do { receiving = try ProfileLock(profilePath: profilePath) } catch {
            lock.release()
            throw error
        }
        let hub = EventHub()
        let core: DaemonCore
        if Profile.isSealed(at: profilePath), let address = Profile.address(at: profilePath) {
            // Sealed by a passphrase: serve the UI locked; the person unlocks it in the browser.
            core = DaemonCore(profilePath: profilePath, address: address, hub: hub, nodeTimeoutMs: nodeTimeoutMs, logger: logger)
        } else {
            let profile: Profile
            do { profile = try Profile.load(from: profilePath) } catch { receiving.release(); lock.release(); throw error }
            core = DaemonCore(profilePath: profilePath, address: profile.address.description, hub: hub, nodeTimeoutMs: nodeTimeoutMs, logger: logger)
            do { try core.open(profile, passphrase: nil) } catch {
                receiving.release()
                lock.release()
                throw error
            }
        }
        let worker = core
        let router = Router(core: core, hub: hub, lock: lock, logger: logger)
        let address: sockaddr_in
        do { address = try .inet(ip4: "127.0.0.1", port: port) } catch {
            worker.stop(); receiving.release(); lock.release()
            throw WebError.io("cannot use 127.0.0.1:\(port): \(error)")
        }
        let stopping = StopFlag()
        let server = HTTPServer(address: address, timeout: 30, logger: FlyingFoxLog(logger: logger, stopping: stopping), handler: router)
        let task = Task { try await server.run() }
        do {
            try await server.waitUntilListening(timeout: 10)
        } catch {
            task.cancel()
            worker.stop(); receiving.release(); lock.release()
            throw WebError.io("cannot listen on 127.0.0.1:\(port): \(error)")
        }
        guard case .ip4(_, let bound)? = await server.listeningAddress else {
            await server.stop()
            worker.stop(); receiving.release(); lock.release()
            throw WebError.io("the server did not report its port")
        }
        let guardian = LocalGuard(port: bound)
        router.ready(guardian)
        let daemon = WebDaemon(port: bound, address: core.address, guardian: guardian, server: server,
                               worker: worker, hub: hub, lock: lock, receiving: receiving, task: task, stopping: stopping, logger: logger)
        lock.publish(pid: getpid(), url: guardian.loginURL)
        logger.info("web client listening", metadata: ["address": "\(core.address)", "url": "http://127.0.0.1:\(bound)/",
                                                       "locked": "\(core.isLocked)"])
        return daemon
    }

    private init(port: UInt16, address: String, guardian: LocalGuard, server: HTTPServer, worker: DaemonCore, hub: EventHub,
                 lock: WebLock, receiving: ProfileLock, task: Task<Void, any Error>, stopping: StopFlag, logger: Logger) {
        self.receiving = receiving
        self.stopping = stopping
        self.port = port
        self.address = address
        self.guardian = guardian
        self.server = server
        self.worker = worker
        self.hub = hub
        self.lock = lock
        self.serverTask = task
        self.logger = logger
    }

    /// Whether a daemon runs for the profile, and where (for commands that must not run beside it).
    public static func running(profilePath: String) -> (pid: Int32, url: String)? {
        do {
            let lock = try WebLock(profilePath: profilePath)
            lock.release()
            return nil
        } catch WebError.alreadyRunning(let pid, let url) {
            return (pid, url)
        } catch {
            return nil
        }
    }

    /// Runs until the server stops (SIGINT/SIGTERM handling is the caller's).
    public func wait() async {
        _ = try? await serverTask.value
    }

    /// Stops serving, closes the live connections, detaches from the node, releases the lock.
    /// - Parameter graceSeconds: how long the server's task is given to end by itself once its
    ///   connections were closed, before it is cancelled (it never ends by itself, so a stop
    ///   takes this long: tests pass 0).
    public func stop(graceSeconds: Double = 1) async {
        stopping.set()
        hub.close()
        await server.stop(timeout: graceSeconds)
        serverTask.cancel()
        worker.stop()
        receiving.release()
        lock.release()
        logger.info("web client stopped")
    }
}

/// Hands FlyingFox's log lines to swift-log (at debug: a request line per request).
struct FlyingFoxLog: FlyingSocks.Logging {
    let logger: Logger
    /// Set when the daemon stops: the server's report of its own cancellation is no error then.
    let stopping: StopFlag
    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.warning("\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.error("\(error())") }
    /// FlyingFox reports its own stop as critical: an error at most for us.
    func logCritical(_ critical: @autoclosure () -> String) {
        if stopping.isSet { logger.debug("\(critical())") } else { logger.error("\(critical())") }
    }
}

/// A flag set once, read from any thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
