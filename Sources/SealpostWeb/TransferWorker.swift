import Foundation
import Logging
import SealpostClient
import SealpostCore
import Synchronization

/// File uploads and downloads, each on a thread of its own with a client connection of its
/// own (the node takes several sessions of one person; only the daemon's main one receives):
/// a 2 GiB transfer never holds up the conversation. Progress goes to the open tabs through
/// the `EventHub` as `transfer` events with the rate and the time left.
///
/// Both directions resume: an upload sent again continues where the node's durable copy
/// ends (`UploadBook`), a download where its last resume point is (`Client.fetchFile`).
final class TransferWorker: Sendable {
    enum Job: Sendable {
        case upload(id: String, to: String, path: String, members: [String]?)
        case download(fileId: String, manifest: FileManifest)
    }

    let profile: Profile
    let profilePath: String
    let worker: ClientWorker
    let uploads: Uploads
    let hub: EventHub
    let logger: Logger
    private let active = Mutex<Set<String>>([])
    private let stopping = Atomic<Bool>(false)
    private let running = DispatchGroup()

    init(profile: Profile, profilePath: String, worker: ClientWorker, uploads: Uploads, hub: EventHub, logger: Logger) {
        self.profile = profile
        self.profilePath = profilePath
        self.worker = worker
        self.uploads = uploads
        self.hub = hub
        self.logger = logger
    }

    /// Where received (and sent) files are kept on this device: `PROFILE.web-files/FILEID/NAME`.
    var filesRoot: String { profilePath + ".web-files" }

    /// The local copy of a file, if it is complete here.
    func localFile(_ fileId: String) -> String? {
        guard fileId.count == 32, fileId.allSatisfy(\.isHexDigit) else { return nil }
        let dir = filesRoot + "/" + fileId.lowercased()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { !$0.hasPrefix(".") } ?? []
        return names.count == 1 ? dir + "/" + names[0] : nil
    }

    /// Starts a job unless the same one runs already.
    /// - Returns: false when it was running already.
    @discardableResult
    func start(_ job: Job) -> Bool {
        let key: String
        switch job {
        case .upload(let id, _, _, _): key = "up:" + id
        case .download(let fileId, _): key = "down:" + fileId
        }
        guard !stopping.load(ordering: .acquiring), active.withLock({ $0.insert(key).inserted }) else { return false }
        running.enter()
        let thread = Thread { [self] in
            defer {
                active.withLock { _ = $0.remove(key) }
                running.leave()
            }
            run(job)
        }
        thread.name = "sealpost-web-transfer"
        thread.start()
        return true
    }

    /// Stops the transfers (each leaves its resume point at its next progress report) and
    /// waits a little for their threads: one waiting on an unreachable node is not waited for
    /// (its own connection goes with the process; nothing it would write is lost).
    func stop() {
        stopping.store(true, ordering: .releasing)
        _ = running.wait(timeout: .now() + 2)
    }

    struct Stopped: Error {}

    private func run(_ job: Job) {
        let event: [String: Any]
        switch job {
        case .upload(let id, let to, _, _): event = ["type": "transfer", "direction": "up", "id": id, "to": to]
        case .download(let fileId, _): event = ["type": "transfer", "direction": "down", "id": fileId, "file_id": fileId]
        }
        var meter = TransferMeter(total: 0)
        let progress: (UInt64, UInt64) throws -> Void = { [self] done, total in
            if stopping.load(ordering: .acquiring) { throw Stopped() }
            if meter.total != total { meter = TransferMeter(total: total) }
            guard let r = meter.update(done: done, nowNs: Clock.monotonicNs()) else { return }
            var e = event
            e["state"] = "running"
            e["done"] = r.done
            e["total"] = r.total
            e["rate"] = r.rate
            e["eta"] = r.eta ?? NSNull()
            hub.publish(e)
        }
        let client: Client
        do {
            client = try Client(profile: profile)
            client.timeoutMs = 10_000
        } catch {
            failed(event, "\(error)")
            return
        }
        defer { client.close(lingerMs: 500) }
        do {
            switch job {
            case .upload(let id, let to, let path, let members):
                guard let address = Address(to) else { throw ClientError.invalid("'\(to)' is not an address") }
                let sent = try client.sendFile(to: address, path: path, groupMembers: members, uploads: UploadBook(profilePath: profilePath),
                                               progress: progress)
                // The sender keeps the file under its id, as a recipient does, so it shows and downloads alike.
                let dir = filesRoot + "/" + sent.fileId.hex
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try? FileManager.default.moveItem(atPath: path, toPath: dir + "/" + sent.name)
                uploads.remove(id)
                let reply = worker.askWaiting(.recordSentFile(to: address.description, sent: sent))
                var e = event
                e["state"] = "done"
                e["file_id"] = sent.fileId.hex
                e["total"] = sent.size
                e["done"] = sent.size
                e["message"] = ((try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any])?["message"] ?? NSNull()
                hub.publish(e)
            case .download(let fileId, let manifest):
                let dir = filesRoot + "/" + fileId
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: filesRoot)
                guard Uploads.isValidName(manifest.name) else { throw ClientError.invalid("the file's name cannot be stored here") }
                let fetched = try client.fetchFile(manifest, to: dir + "/" + manifest.name, progress: progress)
                var e = event
                e["state"] = "done"
                e["total"] = fetched.size
                e["done"] = fetched.size
                hub.publish(e)
            }
        } catch is Stopped {
            return
        } catch {
            logger.notice("a transfer stopped", metadata: ["error": "\(error)"])
            failed(event, "\(error)")
        }
    }

    private func failed(_ event: [String: Any], _ reason: String) {
        var e = event
        e["state"] = "failed"
        e["reason"] = reason
        hub.publish(e)
    }
}
