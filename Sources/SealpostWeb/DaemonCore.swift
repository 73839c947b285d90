import Foundation
import Logging
import SealpostClient
import Synchronization

/// The daemon's client side, which exists only once the profile is open: at start for a
/// profile in clear, after the person's passphrase (`POST /api/unlock`) for a sealed one.
final class DaemonCore: Sendable {
    let profilePath: String
    let address: String
    private let hub: EventHub
    private let logger: Logger
    private let state = Mutex<ClientWorker?>(nil)
    private let transferState = Mutex<TransferWorker?>(nil)
    /// Files being handed over by the browser, before they are sent.
    let uploads: Uploads
    /// One unlock at a time (each costs an Argon2id derivation).
    private let unlocking = Mutex<Bool>(false)

    /// How long the client thread waits for the node to answer a request.
    let nodeTimeoutMs: Int

    init(profilePath: String, address: String, hub: EventHub, nodeTimeoutMs: Int = 5_000, logger: Logger) {
        self.nodeTimeoutMs = nodeTimeoutMs
        self.profilePath = profilePath
        self.address = address
        self.hub = hub
        self.logger = logger
        uploads = Uploads(profilePath: profilePath)
    }

    var worker: ClientWorker? { state.withLock { $0 } }
    var transfers: TransferWorker? { transferState.withLock { $0 } }
    var isLocked: Bool { worker == nil }

    /// Opens the profile (with `passphrase` when it is sealed) and starts the client thread.
    /// - Throws: `ClientError.invalid` for a wrong passphrase; whatever the start meets.
    func open(_ profile: Profile, passphrase: String?) throws {
        let worker = try ClientWorker(profile: profile, profilePath: profilePath, passphrase: passphrase, hub: hub,
                                      nodeTimeoutMs: nodeTimeoutMs, logger: logger)
        transferState.withLock { $0 = TransferWorker(profile: profile, profilePath: profilePath, worker: worker, uploads: uploads, hub: hub, logger: logger) }
        state.withLock { $0 = worker }
    }

    enum UnlockResult: Equatable { case unlocked, wrong, busy, failed(String) }

    /// Unlocks a sealed profile with the person's passphrase.
    func unlock(passphrase: String) -> UnlockResult {
        if !isLocked { return .unlocked }
        guard unlocking.withLock({ busy in defer { busy = true }; return !busy }) else { return .busy }
        defer { unlocking.withLock { $0 = false } }
        let profile: Profile
        do { profile = try Profile.load(from: profilePath, passphrase: { passphrase }) } catch let error as ClientError {
            if case .invalid = error { return .wrong }
            return .failed(error.description)
        } catch { return .failed("\(error)") }
        do { try open(profile, passphrase: passphrase) } catch { return .failed("\(error)") }
        logger.info("profile unlocked", metadata: ["address": "\(address)"])
        hub.publish(["type": "unlocked"])
        return .unlocked
    }

    func stop() {
        transferState.withLock { t -> TransferWorker? in defer { t = nil }; return t }?.stop()
        state.withLock { w -> ClientWorker? in defer { w = nil }; return w }?.stop()
    }
}
